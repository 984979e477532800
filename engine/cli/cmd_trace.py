"""``spinflow trace list|show|sql``: read the DuckDB trace store in the terminal."""
from __future__ import annotations

import argparse
import json
from typing import Any

from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from engine.cli.common import add_trace_args, console
from engine.errors import EngineError

STATUS_STYLE = {"ok": "green", "skipped": "dim", "error": "bold red", "replayed": "cyan", "degraded": "yellow"}
_MAX_VALUE = 160


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("trace", help="inspect traced turns")
    trace_sub = parser.add_subparsers(dest="trace_command", metavar="WHAT")
    listing = trace_sub.add_parser("list", help="recent conversations")
    listing.add_argument("--limit", type=int, default=30)
    add_trace_args(listing)
    listing.set_defaults(func=run_list)
    show = trace_sub.add_parser("show", help="every node of every turn of a conversation")
    show.add_argument("conversation")
    show.add_argument("--turn", type=int, help="only this turn")
    show.add_argument("--node", help="only nodes whose id or type contains this")
    show.add_argument("--json", action="store_true", help="print JSON instead of a tree")
    add_trace_args(show)
    show.set_defaults(func=run_show)
    sql = trace_sub.add_parser("sql", help="read-only SQL over the trace store")
    sql.add_argument("query")
    add_trace_args(sql)
    sql.set_defaults(func=run_sql)
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])


def _open(args: argparse.Namespace) -> Any:
    from engine.trace_store import open_for_reading, resolve_trace_path

    return open_for_reading(resolve_trace_path(args.trace_db))


def run_list(args: argparse.Namespace) -> int:
    store = _open(args)
    try:
        table = Table(title="conversations")
        for column in ("conversation", "turns", "first", "last", "last status"):
            table.add_column(column)
        for row in store.conversations(limit=args.limit):
            table.add_row(str(row.get("conversation_id")), str(row.get("turns")), str(row.get("first_ts"))[:19], str(row.get("last_ts"))[:19], str(row.get("last_status", row.get("status", ""))))
        console.print(table)
    finally:
        store.close()
    return 0


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= _MAX_VALUE else text[: _MAX_VALUE - 1] + "…"


def _load_json(text: Any) -> Any:
    if isinstance(text, (dict, list)) or text is None:
        return text
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return text


def collect(store: Any, conversation: str, turn: int | None, node_filter: str | None) -> list[dict[str, Any]]:
    turns = [store.turn(conversation, turn)] if turn is not None else store.turns(conversation)
    out = []
    for row in turns:
        if not row:
            continue
        nodes = store.node_runs(conversation, int(row["turn"]), run_id=row.get("run_id"))
        if node_filter:
            nodes = [n for n in nodes if node_filter in n["node_id"] or node_filter in n["node_type"]]
        record = {key: _load_json(value) if key in ("state_before", "state_after", "flags") else value for key, value in row.items()}
        record["nodes"] = [{**n, "inputs": _load_json(n["inputs"]), "outputs": _load_json(n["outputs"])} for n in nodes]
        out.append(record)
    return out


def run_show(args: argparse.Namespace) -> int:
    store = _open(args)
    try:
        turns = collect(store, args.conversation, args.turn, args.node)
    finally:
        store.close()
    if not turns:
        raise EngineError(f"no traced turn for conversation {args.conversation!r}" + (f" turn {args.turn}" if args.turn else ""))
    if args.json:
        print(json.dumps(turns, ensure_ascii=False, default=str, indent=2))
        return 0
    for record in turns:
        console.print(render_turn(record))
    return 0


def render_turn(record: dict[str, Any]) -> Panel:
    status = str(record.get("status"))
    header = Text.assemble(
        (f"turn {record['turn']} ", "bold"), (status, STATUS_STYLE.get(status, "")),
        f"  {float(record.get('duration_us') or 0) / 1000:.2f} ms  graph {record.get('graph_id')}@{record.get('graph_hash')}  config {record.get('config_hash')}",
    )
    tree = Tree(header)
    tree.add(Text.assemble(("client › ", "bold"), str(record.get("message"))))
    tree.add(Text.assemble(("bot    › ", "bold cyan"), str(record.get("response"))))
    before = record.get("state_before") or {}
    after = record.get("state_after") or {}
    if isinstance(before, dict) and isinstance(after, dict):
        tree.add(f"state {before.get('state') or '∅'} → {after.get('state') or '∅'}")
    nodes = tree.add("nodes")
    for node in record["nodes"]:
        style = STATUS_STYLE.get(node["status"], "")
        label = Text.assemble((f"{node['seq']:>2} {node['node_id']}", "bold"), f" ({node['node_type']}) ", (node["status"], style), f" {float(node['duration_us']):.0f} µs")
        branch = nodes.add(label)
        if node.get("error"):
            branch.add(Text(f"error: {node['error']}", style="bold red"))
        if node["status"] == "skipped":
            continue
        inputs = node.get("inputs") or {}
        outputs = node.get("outputs") or {}
        if inputs:
            inputs_branch = branch.add(Text("inputs", style="dim"))
            for key, value in inputs.items():
                inputs_branch.add(Text(f"{key} = {_short(value)}", style="dim"))
        outputs_branch = branch.add("outputs")
        for key, value in outputs.items():
            outputs_branch.add(f"{key} = {_short(value)}")
    flags = record.get("flags") or {}
    if isinstance(flags, dict):
        tree.add(Text("flags: " + ", ".join(f"{k}={'on' if v else 'off'}" for k, v in sorted(flags.items())), style="dim"))
    return Panel(tree, title=f"{record.get('conversation_id')}", border_style=STATUS_STYLE.get(status, "white"))


def run_sql(args: argparse.Namespace) -> int:
    from engine.trace_store import open_read_only_sql, resolve_trace_path

    path = resolve_trace_path(args.trace_db)
    target = sorted(path.glob("*.duckdb")) if path.is_dir() else path
    columns, rows = open_read_only_sql(target, args.query)
    table = Table()
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*[_short(value) if value is not None else "∅" for value in row])
    console.print(table)
    console.print(f"[dim]{len(rows)} row(s)[/]")
    return 0
