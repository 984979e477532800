"""``spinflow chat``: talk to the bot. Interactive on a TTY, one reply per line otherwise."""
from __future__ import annotations

import argparse
import json
import sys
import uuid

from engine.cli.common import add_config_args, add_trace_args, console, err_console, make_runtime
from engine.errors import SessionError


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("chat", help="chat with the bot (reads stdin line by line when not a TTY)")
    parser.add_argument("--session", metavar="ID", help="conversation id; an existing one is resumed")
    parser.add_argument("--client-id", metavar="C", help="client owning the conversation (checked on resume)")
    parser.add_argument("--graph", metavar="G", help="graph name or file (default: settings default_graph)")
    parser.add_argument("--jsonl", action="store_true", help="print one JSON object per turn (reply, intent, state, action)")
    parser.add_argument("--no-trace", action="store_true", help="do not write the trace store")
    add_config_args(parser)
    add_trace_args(parser)
    parser.set_defaults(func=run)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def run(args: argparse.Namespace) -> int:
    conversation_id = args.session or f"chat-{uuid.uuid4().hex[:10]}"
    runtime = make_runtime(args, trace=not args.no_trace)
    try:
        try:
            state, resumed = runtime.open(conversation_id, args.client_id)
        except SessionError as exc:
            err_console.print(f"[bold red]refused:[/] {exc}")
            return 3
        interactive = sys.stdin.isatty() and not args.jsonl
        if interactive:
            verb = "resumed" if resumed else "started"
            console.print(f"[dim]{verb} conversation [bold]{conversation_id}[/bold] (turn {state.turn_count}); empty line or Ctrl-D ends[/]")
        while True:
            try:
                line = input("вы › ") if interactive else sys.stdin.readline()
            except EOFError:
                break
            if not interactive and line == "":
                break
            message = line.rstrip("\n")
            if interactive and not message.strip():
                break
            result = runtime.run(state, message)
            runtime.sessions.save(result.conversation_after)
            state = result.conversation_after
            if args.jsonl:
                print(json.dumps({
                    "conversation": conversation_id,
                    "turn": result.turn_index,
                    "reply": result.response,
                    "intent": result.get("intent"),
                    "state": state.state,
                    "action": result.get("action"),
                    "status": result.status,
                }, ensure_ascii=False), flush=True)
            elif interactive:
                console.print(f"[bold cyan]бот ›[/] {result.response}")
                console.print(f"[dim]  intent={result.get('intent')} state={state.state} action={result.get('action')} {result.duration_us / 1000:.1f} ms[/]")
            else:
                print(_one_line(result.response), flush=True)
        runtime.end_conversation(conversation_id)
        if interactive and runtime.trace_path:
            console.print(f"[dim]trace: spinflow trace show {conversation_id} --trace-db {runtime.trace_path}[/]")
        return 0
    finally:
        runtime.close()
