"""Benchmark: trace-store write cost per 12-node turn, and point lookup in 1M node rows (schema 3).

Run: ``.venv/bin/python benchmarks/trace_write.py [--quick]``. Prints medians of several repeats;
the machine is shared and noisy, so compare the ratios printed by one run.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.trace_store import NodeRunRecord, TraceStore, TurnRecord  # noqa: E402

NODES_PER_TURN = 12
_STATE = json.dumps({
    "state": "qualification", "client_id": "c-42", "frustration": 2, "lead_score": 35,
    "collected": {"company_size": 12, "business_type": "аптека", "pain_point": "учёт остатков"},
    "context_window": ["Здравствуйте, сколько стоит ваша касса?", "У нас три аптеки в Алматы"] * 4,
    "used_ctas": ["demo", "price_list"], "counters": {"questions": 3, "objections": 1},
}, ensure_ascii=False)
_IO = json.dumps({
    "text": "здравствуйте сколько стоит ваша касса для аптеки", "intent": "price_question",
    "intent_confidence": 0.87, "tier": "roots", "entities": {"business_type": "аптека"},
}, ensure_ascii=False)


def make_turn(conversation: int, turn: int, run_id: str = "bench") -> tuple[TurnRecord, list[NodeRunRecord]]:
    conversation_id = f"conv-{conversation:05d}"
    key = f"{conversation_id}#{turn:06d}"
    record = TurnRecord(
        key, run_id, conversation_id, turn, datetime.now(UTC),
        "Здравствуйте, сколько стоит ваша касса для аптеки?", "Касса Wipon стоит от 50 000 ₸ …",
        _STATE, _STATE, "turn", "g" * 16, "c" * 16, '{"llm": false}', 1234.5, "ok",
        "price_question", "qualification", "answer_price")
    nodes = [NodeRunRecord(key, conversation_id, turn, seq, f"node_{seq}", "family.variant", seq * 10.0, 9.5,
                           "ok", _IO, _IO, None) for seq in range(NODES_PER_TURN)]
    return record, nodes


def _fresh(folder: Path, name: str) -> Path:
    path = folder / f"{name}.duckdb"
    for leftover in folder.glob(f"{name}.duckdb*"):
        leftover.unlink()
    return path


def bench_store(folder: Path, turns: int, flush_every: int, *, index: bool = True) -> tuple[float, float, float]:
    """(amortised us per turn including flushes, median us of a record() call that did not flush,
    median ms of a record() call that flushed). Open and close are not timed."""
    data = [make_turn(i % 500, i) for i in range(turns)]
    store = TraceStore(_fresh(folder, f"store_{flush_every}_{index}"), flush_every_turns=flush_every)
    if not index:
        store._con.execute("DROP INDEX turns_turn_key")
    calls = []
    clock = time.perf_counter
    start = clock()
    for record, nodes in data:
        before = clock()
        store.record(record, nodes)
        calls.append(clock() - before)
    store.flush()
    elapsed = clock() - start
    store.close()
    plain = [c for i, c in enumerate(calls) if (i + 1) % flush_every]
    flushing = [c for i, c in enumerate(calls) if not (i + 1) % flush_every]
    return (elapsed / turns * 1e6, statistics.median(plain) * 1e6 if plain else float("nan"),
            statistics.median(flushing) * 1e3)


def _nodes_json(nodes: list[NodeRunRecord]) -> bytes:
    """A turn's ``nodes`` column (schema 3): one array of NODE_RUN_FIELDS per run, UTF-8 JSON."""
    return json.dumps([[n.seq, n.node_id, n.node_type, n.start_us, n.duration_us, n.status, json.loads(n.inputs), json.loads(n.outputs), n.error]
                       for n in nodes], ensure_ascii=False).encode()


def bench_executemany(folder: Path, turns: int) -> float:
    """Microseconds per turn with one INSERT per turn row (node runs in its ``nodes`` column), committed per turn."""
    data = [make_turn(i % 500, i) for i in range(turns)]
    path = _fresh(folder, "executemany")
    TraceStore(path).close()  # same schema and indexes
    con = duckdb.connect(str(path))
    start = time.perf_counter()
    for record, nodes in data:
        con.begin()
        values = [getattr(record, f) for f in TurnRecord.__slots__]
        con.execute("INSERT INTO turns VALUES (" + ",".join("?" * (len(values) + 1)) + ")", [*values, _nodes_json(nodes)])
        con.commit()
    elapsed = time.perf_counter() - start
    con.close()
    return elapsed / turns * 1e6


def build_big(folder: Path, node_rows: int) -> tuple[Path, list[tuple[str, int]]]:
    """A store with ``node_rows`` node rows in one INSERT … SELECT; conversations interleave in time."""
    path = _fresh(folder, "big")
    TraceStore(path).close()
    turns = node_rows // NODES_PER_TURN
    con = duckdb.connect(str(path))
    # Turn i belongs to conversation i % 5000 (turn number i // 5000): keys are not sorted on disk,
    # as in real traffic where many conversations interleave.
    key = "'conv-' || lpad(CAST(i % 5000 AS VARCHAR), 5, '0') || '#' || lpad(CAST(i // 5000 AS VARCHAR), 6, '0')"
    con.execute(f"""
        INSERT INTO turns SELECT {key}, 'bench', 'conv-' || lpad(CAST(i % 5000 AS VARCHAR), 5, '0'),
            i // 5000, TIMESTAMP '2026-01-01' + to_microseconds(i * 1000), 'message', 'response',
            $1, $1, 'turn', 'g', 'c', '{{}}', 1000, 'ok', 'price_question', 'qualification', 'answer', '{{}}', $2
        FROM range({turns}) t(i)""", [_STATE, _nodes_json(make_turn(0, 0)[1])])
    con.close()
    probes = [(f"conv-{(i * 7919) % 5000:05d}", ((i * 104729) % turns) // 5000) for i in range(50)]
    return path, probes


def timed(fn: Callable[[], object], repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer turns and rows (smoke run)")
    args = parser.parse_args()
    turns, repeats, big = (500, 3, 120_000) if args.quick else (3000, 5, 1_000_000)
    with tempfile.TemporaryDirectory(prefix="trace_bench_") as tmp:
        folder = Path(tmp)

        def median_of(fn: Callable[[], float], n: int = repeats) -> float:
            return statistics.median(fn() for _ in range(n))

        runs = [bench_store(folder, turns, 100) for _ in range(repeats)]
        buffered = statistics.median(r[0] for r in runs)
        hot_path = statistics.median(r[1] for r in runs)
        flush_ms = statistics.median(r[2] for r in runs)
        no_index = median_of(lambda: bench_store(folder, turns, 100, index=False)[0])
        every_turn = median_of(lambda: bench_store(folder, turns // 5, 1)[0])
        per_row = median_of(lambda: bench_executemany(folder, turns // 15), 3)
        print(f"write, {NODES_PER_TURN}-node turn, median of {repeats} runs (us per turn):")
        print(f"  record(), flush every 100 turns, amortised  {buffered:9.1f}")
        print(f"    a record() call that does not flush       {hot_path:9.1f}   (journal line + buffering)")
        print(f"    a record() call that flushes 100 turns    {flush_ms * 1e3:9.1f}   ({flush_ms * 10:.1f} us per turn)")
        print(f"    same amortised, no turn_key indexes       {no_index:9.1f}   (indexes cost {buffered / no_index:.2f}x)")
        print(f"  record(), flush every turn                  {every_turn:9.1f}   ({every_turn / buffered:.1f}x buffered)")
        print(f"  one INSERT per turn, committed per turn     {per_row:9.1f}   ({per_row / buffered:.1f}x buffered)")

        path, probes = build_big(folder, big)
        store = TraceStore(path, read_only=True)
        lookups = iter(probes * 4)

        def one_turn() -> None:
            conversation, turn = next(lookups)
            assert store.turn(conversation, turn) is not None

        def one_turn_nodes() -> None:
            conversation, turn = next(lookups)
            assert len(store.node_runs(conversation, turn)) == NODES_PER_TURN

        con = store._con
        # EXPLAIN of a prepared statement shows a generic plan; ANALYZE with a literal shows the real one.
        plan = con.execute(f"EXPLAIN ANALYZE SELECT * FROM node_runs WHERE turn_key = '{probes[0][0]}#000001'").fetchall()
        scan_kind = "Index Scan" if "Index Scan" in plan[0][1] else "Sequential Scan"
        node_key = iter([f"{c}#{t:06d}" for c, t in probes] * 4)
        by_index = timed(lambda: con.execute("SELECT * FROM node_runs WHERE turn_key = ?", [next(node_key)]).fetchall(), 50)
        con.execute("SET index_scan_max_count = 0; SET index_scan_percentage = 0")
        by_scan = timed(lambda: con.execute("SELECT * FROM node_runs WHERE turn_key = ?", [next(node_key)]).fetchall(), 20)
        con.execute("RESET index_scan_max_count; RESET index_scan_percentage")
        turn_ms = timed(one_turn, 50) * 1e3
        nodes_ms = timed(one_turn_nodes, 50) * 1e3
        store.close()
        print(f"point lookup in {big:,} node rows ({big // NODES_PER_TURN:,} turns), median ms:")
        print(f"  node rows by turn_key, planner's choice {by_index * 1e3:8.2f}   (plan: {scan_kind})")
        print(f"  node rows by turn_key, index disabled  {by_scan * 1e3:8.2f}   ({by_scan / by_index:.1f}x)")
        print(f"  TraceStore.turn()                      {turn_ms:8.2f}")
        print(f"  TraceStore.node_runs() (turn + nodes)  {nodes_ms:8.2f}")


if __name__ == "__main__":
    main()
