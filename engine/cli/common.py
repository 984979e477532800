"""Shared CLI helpers: console, config/flag options, runtime construction, error printing."""
from __future__ import annotations

import argparse
import sys
from typing import Any

from rich.console import Console

from engine.errors import ConfigError, EngineError
from engine.flags import parse_bool

__all__ = ["console", "err_console", "add_config_args", "parse_flag_args", "make_runtime", "print_config_error", "EXIT_CONFIG"]

# Piped output (make demo, CI logs) would default to 80 columns and fold every table cell.
console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True, highlight=False)
EXIT_CONFIG = 2


def add_config_args(parser: argparse.ArgumentParser, *, flags: bool = True) -> None:
    parser.add_argument("--config-dir", metavar="DIR", help="folder holding graphs/, rules/ and yaml_config/ (default: the shipped config)")
    if flags:
        parser.add_argument("--flag", action="append", default=[], metavar="NAME=on|off", help="override a feature flag (repeatable)")


def add_trace_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--trace-db", metavar="PATH", help="trace store file, or a folder of shards for reading (default: $SPINFLOW_TRACE_DB or .spinflow/traces.duckdb)")


def parse_flag_args(values: list[str]) -> dict[str, bool]:
    overrides: dict[str, bool] = {}
    for item in values or []:
        name, sep, raw = item.partition("=")
        if not sep or not name:
            raise EngineError(f"--flag {item!r}: expected NAME=on|off")
        try:
            overrides[name.strip()] = parse_bool(raw)
        except ValueError as exc:
            raise EngineError(f"--flag {item!r}: {exc}") from exc
    return overrides


def make_runtime(args: argparse.Namespace, *, graph: str | None = None, trace: bool = True, **kwargs: Any) -> Any:
    """Build a Runtime from the common options (raises ConfigError / EngineError)."""
    from engine.runtime import Runtime

    return Runtime(
        getattr(args, "config_dir", None),
        graph or getattr(args, "graph", None),
        trace=trace,
        trace_db=getattr(args, "trace_db", None),
        flag_overrides=parse_flag_args(getattr(args, "flag", [])),
        **kwargs,
    )


def print_config_error(exc: ConfigError) -> int:
    for issue in exc.issues:
        print(issue.render(), file=sys.stderr)
    noun = "problem" if len(exc.issues) == 1 else "problems"
    err_console.print(f"[bold red]{len(exc.issues)} configuration {noun}[/]")
    return EXIT_CONFIG
