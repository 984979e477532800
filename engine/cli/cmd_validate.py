"""``spinflow validate``: check a whole config dir; exit 0 if clean, 2 with every problem."""
from __future__ import annotations

import argparse
import sys

from engine.cli.common import EXIT_CONFIG, add_config_args, console, err_console
from engine.config import ConfigBundle


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("validate", help="check graphs, rules and yaml_config; list every problem")
    add_config_args(parser, flags=False)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    bundle = ConfigBundle(args.config_dir)
    issues = bundle.validate()
    environment = bundle.flags().env_problems
    for problem in environment:
        err_console.print(f"[yellow]warning:[/] environment {problem}")
    if issues:
        for issue in issues:
            print(issue.render(), file=sys.stderr)
        err_console.print(f"[bold red]{len(issues)} problem{'s' if len(issues) != 1 else ''}[/] in {bundle.root}")
        return EXIT_CONFIG
    graphs = sorted(p.stem for p in (bundle.root / "graphs").glob("*.yaml"))
    console.print(f"[green]ok[/] {bundle.root} — graphs: {', '.join(graphs)}; config hash {bundle.content_hash()}")
    return 0
