"""``spinflow graph show|types``: the compiled order of a graph, as a table or Mermaid."""
from __future__ import annotations

import argparse

from rich.table import Table

from engine.cli.common import add_config_args, console
from engine.config import ConfigBundle
from engine.graph import load_graph
from engine.registry import iter_registry


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("graph", help="inspect graphs and node types")
    graph_sub = parser.add_subparsers(dest="graph_command", metavar="WHAT")
    show = graph_sub.add_parser("show", help="nodes in execution order with reads/writes, or Mermaid")
    show.add_argument("graph", nargs="?", help="graph name or file (default: settings default_graph)")
    show.add_argument("--mermaid", action="store_true", help="print a Mermaid flowchart")
    add_config_args(show, flags=False)
    show.set_defaults(func=run_show)
    types = graph_sub.add_parser("types", help="list registered node types")
    types.set_defaults(func=run_types)
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])


def mermaid(graph) -> str:  # type: ignore[no-untyped-def]
    lines = ["flowchart TD"]
    for node in graph.order:
        label = f"{node.node_id}<br/><small>{node.type_name}</small>"
        if node.when is not None:
            label += f"<br/><small>when: {node.when.source}</small>"
        lines.append(f'    {node.node_id}["{label}"]')
    for parent, child in graph.dag.edges:
        lines.append(f"    {parent} --> {child}")
    return "\n".join(lines)


def run_show(args: argparse.Namespace) -> int:
    graph = load_graph(ConfigBundle(args.config_dir), args.graph)
    if args.mermaid:
        print(mermaid(graph))
        return 0
    table = Table(title=f"graph {graph.name} ({graph.file}, hash {graph.graph_hash})")
    for column in ("#", "node", "type", "after", "when", "on_error", "reads", "writes"):
        table.add_column(column)
    for index, node in enumerate(graph.order, 1):
        table.add_row(
            str(index), node.node_id, node.type_name, ", ".join(node.spec.after), node.when.source if node.when else "",
            node.spec.on_error, ", ".join(sorted(node.reads)), ", ".join(sorted(node.writes)),
        )
    console.print(table)
    return 0


def run_types(args: argparse.Namespace) -> int:
    table = Table(title="registered node types")
    for column in ("type", "class", "reads", "writes"):
        table.add_column(column)
    for name, cls in iter_registry():
        table.add_row(name, f"{cls.__module__}.{cls.__qualname__}", ", ".join(sorted(cls.reads)), ", ".join(sorted(cls.writes)))
    console.print(table)
    return 0
