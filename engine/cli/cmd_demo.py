"""``spinflow demo SCRIPT``: play a scripted conversation, then show one turn's trace."""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from rich.table import Table

from engine.cli.common import add_config_args, add_trace_args, console, make_runtime
from engine.errors import EngineError


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("demo", help="play a scripted conversation (one client message per line) and show a trace")
    parser.add_argument("script", help="text file, one client message per line")
    parser.add_argument("--show-turn", type=int, default=2, help="turn whose trace is shown afterwards (0: none)")
    parser.add_argument("--graph", metavar="G")
    add_config_args(parser)
    add_trace_args(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    path = Path(args.script)
    if not path.exists():
        raise EngineError(f"script {path} not found")
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    conversation_id = f"demo-{time.strftime('%Y%m%d-%H%M%S')}"
    runtime = make_runtime(args)
    table = Table(title=f"conversation {conversation_id}", show_lines=True)
    for column in ("#", "client", "bot", "intent", "state", "action", "ms"):
        table.add_column(column, overflow="fold")
    try:
        state, _ = runtime.open(conversation_id)
        for line in lines:
            result = runtime.run(state, line)
            state = result.conversation_after
            runtime.sessions.save(state)
            table.add_row(str(result.turn_index), line, result.response, str(result.get("intent")), state.state, str(result.get("action")), f"{result.duration_us / 1000:.1f}")
        runtime.end_conversation(conversation_id)
        console.print(table)
        trace_path = runtime.trace_path
    finally:
        runtime.close()
    if args.show_turn and trace_path:
        from engine.cli.cmd_trace import collect, render_turn
        from engine.trace_store import TraceStore

        store = TraceStore(trace_path, read_only=True)
        try:
            for record in collect(store, conversation_id, args.show_turn, None):
                console.print(render_turn(record))
        finally:
            store.close()
        console.print(f"[dim]all turns: spinflow trace show {conversation_id} --trace-db {trace_path}[/]")
    return 0
