"""``spinflow replay``: re-run traced turns on the current or an edited config and diff them."""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.progress import Progress
from rich.table import Table

from engine.cli.common import add_config_args, add_trace_args, console, parse_flag_args
from engine.errors import EngineError

_MAX = 120


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("replay", help="replay traced turns on the current (or edited) config and diff node by node")
    parser.add_argument("conversation", nargs="?", help="conversation id (omit with --all)")
    parser.add_argument("--turn", type=int, help="only this turn")
    parser.add_argument("--all", action="store_true", help="replay every traced turn and summarise what changed")
    parser.add_argument("--since", help="with --all: only turns at or after this timestamp (e.g. 2026-11-20 or 2026-11-20T10:00)")
    parser.add_argument("--live", action="store_true", help="re-run LLM nodes instead of reusing their recorded outputs")
    parser.add_argument("--current-flags", action="store_true", help="use the tested config's flags instead of the recorded ones")
    parser.add_argument("--json", dest="json_out", metavar="OUT", help="write the summary as JSON")
    parser.add_argument("--fail-on-change", action="store_true", help="exit 1 if any decision changed")
    parser.add_argument("--graph", metavar="G")
    add_config_args(parser)
    add_trace_args(parser)
    parser.set_defaults(func=run)


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= _MAX else text[: _MAX - 1] + "…"


def build_replayer(args: argparse.Namespace) -> tuple[Any, Any]:
    from engine.config import ConfigBundle
    from engine.executor import Executor
    from engine.graph import load_graph
    from engine.replay import Replayer
    from engine.trace_store import open_for_reading, resolve_trace_path

    store = open_for_reading(resolve_trace_path(args.trace_db))
    bundle = ConfigBundle(args.config_dir)
    graph = load_graph(bundle, args.graph)
    flags = bundle.flags()
    current = flags.snapshot()
    replayer = Replayer(Executor(graph), store, live=args.live, flag_overrides=parse_flag_args(args.flag), current_flags=current)
    if args.current_flags:
        replayer._flags = lambda recorded: {**current, **parse_flag_args(args.flag)}  # type: ignore[method-assign]
    return replayer, store


def run(args: argparse.Namespace) -> int:
    if not args.all and not args.conversation:
        raise EngineError("give a CONVERSATION id or --all")
    replayer, store = build_replayer(args)
    try:
        if args.all:
            _columns, rows = store.query("SELECT count(*) FROM turns")
            with Progress(console=console, transient=True) as progress:
                task = progress.add_task("replaying", total=rows[0][0])
                summary = replayer.replay_all(args.since, progress=lambda: progress.advance(task))
            _print_summary(summary)
            if args.json_out:
                Path(args.json_out).write_text(json.dumps(summary.to_json(), ensure_ascii=False, indent=2, default=str), encoding="utf-8")
            changed = summary.changed_turns > 0
        else:
            replays = replayer.replay_conversation(args.conversation, args.turn)
            for replay in replays:
                _print_turn(replay)
            changed = any(replay.changed for replay in replays)
            if args.json_out:
                payload = [{"conversation": r.conversation_id, "turn": r.turn, "changes": [c.__dict__ for c in r.changes]} for r in replays]
                Path(args.json_out).write_text(json.dumps(payload, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    finally:
        store.close()
    return 1 if (changed and args.fail_on_change) else 0


def _print_turn(replay: Any) -> None:
    if not replay.changed:
        console.print(f"[green]turn {replay.turn}: no differences[/]  [dim]{_short(replay.message)}[/]")
        return
    table = Table(title=f"{replay.conversation_id} turn {replay.turn}: {_short(replay.message)}")
    for column in ("node", "field", "recorded", "now"):
        table.add_column(column, overflow="fold")
    for change in replay.changes:
        table.add_row(change.node, change.field, _short(change.before), _short(change.after))
    console.print(table)


def _print_summary(summary: Any) -> None:
    style = "green" if summary.changed_turns == 0 else "yellow"
    console.print(f"[{style}]{summary.changed_turns} of {summary.turns} turns changed[/]")
    if not summary.changed_turns:
        return
    table = Table(title="changed decisions")
    for column in ("field", "turns", "examples (conversation#turn: recorded → now)"):
        table.add_column(column, overflow="fold")
    for name, count in summary.by_field.most_common():
        examples = "; ".join(f"{e['conversation']}#{e['turn']}: {_short(e['before'])} → {_short(e['after'])}" for e in summary.examples.get(name, [])[:3])
        table.add_row(name, str(count), examples)
    for name, count in summary.by_node_field.most_common(15):
        table.add_row(name, str(count), "")
    console.print(table)
    listing = Table(title="changed turns")
    listing.add_column("conversation#turn")
    listing.add_column("fields")
    for replay in summary.changed[:50]:
        listing.add_row(f"{replay.conversation_id}#{replay.turn}", ", ".join(sorted({f'{c.node}.{c.field}' if c.node != 'turn' else c.field for c in replay.changes})))
    console.print(listing)
