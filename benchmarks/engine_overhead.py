"""Benchmark: engine overhead for 12 no-op nodes per turn.

Compares, in one run: plain function calls; the executor with no hooks; the executor with
the trace hook writing to DuckDB (appender, journal, flush every N turns). Prints medians
over repeated batches, per-turn figures, and ratios. With ``--langgraph`` and LangGraph
installed, the same 12-node chain on ``StateGraph.invoke`` is measured side by side.

Run: ``.venv/bin/python benchmarks/engine_overhead.py [--turns 5000] [--repeats 7]``
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from engine.config import ConfigBundle
from engine.executor import Executor
from engine.graph import compile_graph
from engine.state import ConversationState
from engine.trace_store import TraceStore
from engine.tracing import TraceHook


def plain_calls(turns: int) -> float:
    def node(value: object) -> object:
        return value

    start = time.perf_counter()
    for _ in range(turns):
        value: object = "привет"
        for _ in range(12):
            value = node(value)
    return (time.perf_counter() - start) / turns * 1e6


def executor_turns(executor: Executor, turns: int) -> tuple[float, list[float]]:
    state = ConversationState(conversation_id="bench")
    per_turn = []
    start = time.perf_counter()
    for index in range(turns):
        state.conversation_id = f"bench-{index // 20}"  # 20-turn conversations
        began = time.perf_counter()
        executor.run_turn(state, "привет", flags={})
        per_turn.append((time.perf_counter() - began) * 1e6)
    return (time.perf_counter() - start) / turns * 1e6, per_turn


def langgraph_turns(turns: int) -> float | None:
    try:
        from typing import TypedDict

        from langgraph.graph import END, START, StateGraph
    except ImportError:
        return None

    class S(TypedDict, total=False):
        v: str

    builder = StateGraph(S)
    names = [f"n{i:02d}" for i in range(12)]
    for name in names:
        builder.add_node(name, lambda state: {"v": state.get("v")})
    builder.add_edge(START, names[0])
    for first, second in zip(names, names[1:]):
        builder.add_edge(first, second)
    builder.add_edge(names[-1], END)
    graph = builder.compile()
    start = time.perf_counter()
    for _ in range(turns):
        graph.invoke({"v": "привет"})
    return (time.perf_counter() - start) / turns * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    # Compile just this graph: the probe must not depend on the domain config's state.
    bundle = ConfigBundle()
    graph, issues = compile_graph(bundle, bundle.file("graphs/noop12.yaml"))
    assert graph is not None, issues
    bare = Executor(graph)
    results: dict[str, list[float]] = {"plain calls": [], "executor, no trace": [], "executor + DuckDB trace": [], "langgraph": []}
    medians_in_turn: list[float] = []
    with tempfile.TemporaryDirectory() as folder:
        store = TraceStore(Path(folder) / "bench.duckdb", flush_every_turns=100)
        traced = Executor(graph, [TraceHook(store)])
        for _ in range(args.repeats):
            results["plain calls"].append(plain_calls(args.turns))
            results["executor, no trace"].append(executor_turns(bare, args.turns)[0])
            mean_traced, per_turn = executor_turns(traced, args.turns)
            results["executor + DuckDB trace"].append(mean_traced)
            medians_in_turn.append(statistics.median(per_turn))
            lg = langgraph_turns(max(200, args.turns // 10))
            if lg is not None:
                results["langgraph"].append(lg)
        store.close()
    print(f"12 no-op nodes per turn, {args.turns} turns x {args.repeats} repeats (median of repeats)")
    base = statistics.median(results["executor, no trace"])
    for name, values in results.items():
        if not values:
            print(f"  {name:<28} not installed")
            continue
        value = statistics.median(values)
        print(f"  {name:<28} {value:8.1f} µs/turn (mean incl. flushes)   x{value / base:5.2f} vs executor")
    print(f"  traced turn, median single turn (flushes excluded): {statistics.median(medians_in_turn):.1f} µs")
    traced = statistics.median(results["executor + DuckDB trace"])
    print(f"  tracing adds {traced - base:.1f} µs/turn; budget 100 µs/turn with tracing persisted: {'OK' if traced <= 100 else 'OVER'}")


if __name__ == "__main__":
    main()
