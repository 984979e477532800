"""``spinflow refine "да" --context spin_phase=problem``: what each refinement layer decided.

Runs one message through the understanding graph (``graphs/understand.yaml`` by default) with
the given dialogue context and prints the refinement chain — layer, decision, reason,
intent and confidence after the layer — plus secondary intents and any clarifying question.
"""
from __future__ import annotations

import argparse
from typing import Any

from rich.table import Table

from engine.cli.common import add_config_args, console, make_runtime, print_config_error
from engine.errors import ConfigError
from engine.state import ConversationState

__all__ = ["register", "run", "parse_context"]

_INTEGER_KEYS = {"turn"}


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("refine", help="show every refinement layer's decision for one message")
    parser.add_argument("message", help="the client message")
    parser.add_argument("--context", action="append", default=[], metavar="KEY=VALUE",
                        help="dialogue context (state, spin_phase, last_action, last_bot_message, turn, last_intent); repeatable")
    parser.add_argument("--graph", default="graphs/understand.yaml", help="graph to run (default: graphs/understand.yaml)")
    add_config_args(parser)
    parser.set_defaults(func=run)


def parse_context(items: list[str]) -> dict[str, Any]:
    """``["turn=3", "state=greeting"]`` → ``{"turn": 3, "state": "greeting"}``."""
    context: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SystemExit(f"--context {item!r}: expected KEY=VALUE")
        key = key.strip()
        context[key] = int(value) if key in _INTEGER_KEYS and value.strip().isdigit() else value
    return context


def run(args: argparse.Namespace) -> int:
    try:
        runtime = make_runtime(args, graph=args.graph, trace=False)
    except ConfigError as exc:
        return print_config_error(exc)
    result = runtime.run(ConversationState(conversation_id="cli-refine", flow=runtime.bundle.settings.flow), args.message, dialogue_context=parse_context(args.context))
    values = result.values
    chain = values.get("refinement_chain") or []
    first = chain[0] if chain else {}
    classified = (first.get("from") or [first.get("intent"), first.get("confidence")]) if first else [values.get("intent"), values.get("intent_confidence")]
    console.print(f"[bold]{args.message}[/]  classified: {classified[0]} ({classified[1]})")
    table = Table()
    for column in ("layer", "decision", "reason", "intent", "confidence"):
        table.add_column(column)
    styles = {"refined": "bold green", "error": "bold red", "skipped": "dim"}
    for entry in chain:
        decision = str(entry.get("decision"))
        table.add_row(str(entry.get("layer")), f"[{styles.get(decision, '')}]{decision}[/]" if decision in styles else decision,
                      str(entry.get("reason")), str(entry.get("intent")), f"{entry.get('confidence')}")
    console.print(table)
    console.print(f"final: [bold]{values.get('intent')}[/] ({values.get('intent_confidence')})")
    if values.get("secondary_intents"):
        console.print(f"secondary: {', '.join(values['secondary_intents'])}")
    clarification = values.get("clarification")
    if clarification:
        console.print(clarification.get("question", ""))
    return 0
