"""``spinflow llm check``: is the configured Ollama server reachable, and is its model pulled?"""
from __future__ import annotations

import argparse

from engine.cli.common import add_config_args, console, err_console
from engine.config import ConfigBundle
from engine.llm import LLMClient, LLMError

__all__ = ["register", "run_check"]


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("llm", help="the LLM tier (Ollama): health checks")
    llm_sub = parser.add_subparsers(dest="llm_command", metavar="WHAT")
    check = llm_sub.add_parser("check", help="contact the server from settings.llm: version, models, configured model present")
    check.add_argument("--host", help="override settings.llm.host")
    check.add_argument("--timeout", type=float, default=3.0, metavar="S", help="seconds per request (default 3)")
    add_config_args(check, flags=False)
    check.set_defaults(func=run_check)
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])


def run_check(args: argparse.Namespace) -> int:
    """Exit 0 when the server answers and has the model; 1 otherwise (with the reason code)."""
    settings = ConfigBundle(args.config_dir).settings.llm
    if args.host:
        settings = settings.model_copy(update={"host": args.host})
    client = LLMClient(settings)
    try:
        version = client.server_version(timeout_s=args.timeout)
        models = client.models(timeout_s=args.timeout)
    except LLMError as exc:
        err_console.print(f"[bold red]unreachable[/] {settings.host}: {exc.reason}" + (f" — {exc.detail}" if exc.detail else ""))
        err_console.print("Nodes that use the LLM fall back to their non-LLM answer while it is down.")
        return 1
    finally:
        client.close()
    console.print(f"[green]ok[/] {settings.host} — Ollama {version}, {len(models)} model(s)")
    if settings.model not in models:
        err_console.print(f"[bold red]missing model[/] '{settings.model}'. Run: ollama pull {settings.model}")
        return 1
    console.print(f"model '{settings.model}' is available; timeout {settings.timeout_s:g}s, retries {settings.max_retries}, breaker {settings.breaker_failures}×/{settings.breaker_reset_s:g}s")
    return 0
