"""``spinflow`` entry point: discovers ``engine/cli/cmd_*.py`` modules and dispatches."""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from engine.errors import ConfigError, EngineError

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="spinflow", description="Declarative dataflow sales assistant: run, trace, replay and evaluate turns.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    eval_parser = sub.add_parser("eval", help="offline evaluation (intents, dialogues, …)")
    eval_sub = eval_parser.add_subparsers(dest="eval_command", metavar="WHAT")
    eval_parser.set_defaults(func=lambda args: (eval_parser.print_help(), 2)[1])
    import engine.cli as package

    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda item: item.name):
        if not info.name.startswith("cmd_"):
            continue
        module = importlib.import_module(f"engine.cli.{info.name}")
        if hasattr(module, "register"):
            module.register(sub)
        if hasattr(module, "register_eval"):
            module.register_eval(eval_sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from engine.cli.common import err_console, print_config_error

    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        return print_config_error(exc)
    except EngineError as exc:
        err_console.print(f"[bold red]error:[/] {exc}")
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
