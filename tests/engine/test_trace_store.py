"""Trace store: round trip, lookups, batching, crash recovery, versions, read-only SQL, shards."""
from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from engine.errors import EngineError
from engine.trace_store import (
    TRACE_SCHEMA_VERSION,
    NodeRunRecord,
    TraceStore,
    TurnRecord,
    open_read_only_sql,
    resolve_trace_path,
)

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def make_turn(conversation_id: str, turn: int, *, nodes: int = 3, run_id: str = "run-1",
              minutes: int = 0, status: str = "ok") -> tuple[TurnRecord, list[NodeRunRecord]]:
    key = f"{conversation_id}#{turn:06d}"
    record = TurnRecord(
        turn_key=key, run_id=run_id, conversation_id=conversation_id, turn=turn,
        ts=T0 + timedelta(minutes=minutes, seconds=turn), message=f"сколько стоит касса? #{turn}",
        response="От 50 000 ₸", state_before='{"state": "greeting"}', state_after='{"state": "price"}',
        graph_id="turn", graph_hash="g1", config_hash="c1", flags='{"llm": false}',
        duration_us=1500.0 + turn, status=status, intent="price_question", state="price", action=None)
    node_rows = [NodeRunRecord(key, conversation_id, turn, seq, f"node_{seq}", "family.variant", 10.0 * seq, 5.0,
                               "error" if seq == 1 else "ok", f'{{"in": {seq}}}', f'{{"out": "ответ {seq}"}}',
                               "boom" if seq == 1 else None)
                 for seq in range(nodes)]
    return record, node_rows


def raw_count(path: Path, table: str = "turns") -> int:
    """Rows committed to the DuckDB file itself (no journal overlay)."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    finally:
        con.close()


def journal_lines(path: Path) -> list[str]:
    return Path(f"{path}.journal").read_text(encoding="utf-8").splitlines()


def run_python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


RECORD_THEN = """
    import os, signal, sys
    sys.path.insert(0, {root!r})
    from tests.engine.test_trace_store import make_turn
    from engine.trace_store import TraceStore
    store = TraceStore(sys.argv[1], flush_every_turns=100)
    for turn in range(3):
        store.record(*make_turn("crash", turn))
    {then}
"""


def test_round_trip_read_only_gives_back_identical_values(tmp_path: Path) -> None:
    path = tmp_path / "t.duckdb"
    recorded = [make_turn("conv-a", turn, nodes=4) for turn in range(5)]
    with TraceStore(path, flush_every_turns=2) as store:
        for record, nodes in recorded:
            store.record(record, list(reversed(nodes)))  # out of order on purpose
    with TraceStore(path, read_only=True) as store:
        turns = store.turns("conv-a")
        assert turns == [dataclasses.asdict(record) for record, _ in recorded]
        for record, nodes in recorded:
            runs = store.node_runs("conv-a", record.turn)
            assert [run["seq"] for run in runs] == [0, 1, 2, 3]
            # inputs/outputs are stored as JSON values inside the turn row: equal values, compact text
            assert [run | {"inputs": json.loads(run["inputs"]), "outputs": json.loads(run["outputs"])} for run in runs] == [
                dataclasses.asdict(node) | {"run_id": "run-1", "inputs": json.loads(node.inputs), "outputs": json.loads(node.outputs)} for node in nodes]
        with pytest.raises(EngineError, match="read-only"):
            store.record(*make_turn("conv-a", 9))


def test_point_lookup_by_turn_key(tmp_path: Path) -> None:
    path = tmp_path / "t.duckdb"
    with TraceStore(path) as store:
        for turn in range(20):
            store.record(*make_turn("conv-a", turn))
            store.record(*make_turn("conv-b", turn))
        store.record(*make_turn("conv-a", 7, run_id="run-2", minutes=60))  # the same turn, traced again later
        found = store.turn("conv-b", 13)
        assert found is not None and (found["turn_key"], found["message"]) == ("conv-b#000013", "сколько стоит касса? #13")
        assert store.turn("conv-b", 99) is None
        assert store.turn("conv-a", 7)["run_id"] == "run-2"
        assert store.turn("conv-a", 7, run_id="run-1")["run_id"] == "run-1"
        assert {run["run_id"] for run in store.node_runs("conv-a", 7)} == {"run-2"}
        assert store.last_turn("conv-a")["turn"] == 19
        assert store.last_turn("nobody") is None
        _, indexes = store.query("SELECT table_name, expressions FROM duckdb_indexes() ORDER BY table_name")
        assert indexes == [("turns", "[turn_key]")]  # node_runs is a view over turns.nodes


def test_conversations_newest_first_with_last_status(tmp_path: Path) -> None:
    with TraceStore(tmp_path / "t.duckdb") as store:
        for turn in range(3):
            store.record(*make_turn("old", turn, minutes=0))
        store.record(*make_turn("new", 0, minutes=30))
        store.record(*make_turn("new", 1, minutes=30, status="degraded"))
        store.record(*make_turn("middle", 0, minutes=10, status="error"))
        listed = store.conversations()
        assert [(c["conversation_id"], c["turns"], c["last_status"]) for c in listed] == [
            ("new", 2, "degraded"), ("middle", 1, "error"), ("old", 3, "ok")]
        assert listed[2]["first_ts"] == T0 and listed[2]["last_ts"] == T0 + timedelta(seconds=2)
        assert len(store.conversations(limit=1)) == 1


def test_rows_stay_in_the_journal_until_flush_every_n_turns(tmp_path: Path) -> None:
    path = tmp_path / "t.duckdb"
    store = TraceStore(path, flush_every_turns=3)
    try:
        store.record(*make_turn("c", 0))
        store.record(*make_turn("c", 1))
        assert raw_count_shared(path) == 0
        assert len(journal_lines(path)) == 1 + 2  # epoch header + one line per turn
        store.record(*make_turn("c", 2))  # the third turn hands the batch to a background flush
        assert len(journal_lines(path)) == 1  # a new generation: only its epoch header
        store.wait_flushed()
        assert not Path(f"{path}.journal.flushing").exists()  # the handed-off generation, gone once committed
        assert raw_count_shared(path) == 3
        assert raw_count_shared(path, "node_runs") == 9
        store.record(*make_turn("c", 3))
        assert len(store.turns("c")) == 4  # readers flush first
        assert len(journal_lines(path)) == 1
    finally:
        store.close()
    assert not Path(f"{path}.journal").exists()


def raw_count_shared(path: Path, table: str = "turns") -> int:
    # Same process, same configuration: DuckDB shares the open instance, so this sees committed rows only.
    con = duckdb.connect(str(path))
    try:
        return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    finally:
        con.close()


def test_crash_loses_nothing_already_recorded(tmp_path: Path) -> None:
    path = tmp_path / "t.duckdb"
    done = run_python(RECORD_THEN.format(root=str(ROOT), then="os._exit(1)"), str(path))
    assert done.returncode == 1, done.stderr
    assert raw_count(path) == 0 and len(journal_lines(path)) == 4  # nothing reached DuckDB
    # A read-only open shows the crashed writer's turns without touching the file...
    with TraceStore(path, read_only=True) as reader:
        assert [t["turn"] for t in reader.turns("crash")] == [0, 1, 2]
        assert len(reader.node_runs("crash", 2)) == 3
    assert raw_count(path) == 0
    # ...and the next writer replays them into DuckDB, once.
    with TraceStore(path) as store:
        assert [t["turn"] for t in store.turns("crash")] == [0, 1, 2]
        assert [n["seq"] for n in store.node_runs("crash", 1)] == [0, 1, 2]
        # inputs/outputs went into the journal as JSON values and come back as the same JSON text's values
        assert [(json.loads(n["inputs"]), json.loads(n["outputs"])) for n in store.node_runs("crash", 1)] == [
            ({"in": seq}, {"out": f"ответ {seq}"}) for seq in range(3)]
    assert raw_count(path) == 3 and raw_count(path, "node_runs") == 9
    assert not Path(f"{path}.journal").exists()
    with TraceStore(path) as store:
        assert len(store.turns("crash")) == 3


def test_half_written_last_journal_line_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "t.duckdb"
    done = run_python(RECORD_THEN.format(root=str(ROOT), then="os._exit(1)"), str(path))
    assert done.returncode == 1, done.stderr
    with open(f"{path}.journal", "ab") as journal:
        journal.write(b'[["crash#000003","run-1","crash",3,"2026-03-01T09:0')  # cut short by the crash
    with TraceStore(path) as store:
        assert [t["turn"] for t in store.turns("crash")] == [0, 1, 2]


def test_journal_of_an_already_committed_flush_is_not_replayed_twice(tmp_path: Path) -> None:
    # Death between DuckDB's commit and the journal truncation: the journal still holds committed turns.
    path = tmp_path / "t.duckdb"
    store = TraceStore(path)
    store.record(*make_turn("c", 0))
    store.record(*make_turn("c", 1))
    stale = Path(f"{path}.journal").read_bytes()
    store.flush()
    store.close()
    Path(f"{path}.journal").write_bytes(stale)
    with TraceStore(path) as store:
        assert len(store.turns("c")) == 2


def test_sigterm_flushes_then_dies_by_the_signal(tmp_path: Path) -> None:
    path = tmp_path / "t.duckdb"
    done = run_python(RECORD_THEN.format(root=str(ROOT), then="os.kill(os.getpid(), signal.SIGTERM)"), str(path))
    assert done.returncode == -signal.SIGTERM, done.stderr
    assert raw_count(path) == 3  # in DuckDB itself, not only in the journal


def test_normal_exit_without_close_flushes_at_exit(tmp_path: Path) -> None:
    path = tmp_path / "t.duckdb"
    done = run_python(RECORD_THEN.format(root=str(ROOT), then="pass"), str(path))
    assert done.returncode == 0, done.stderr
    assert raw_count(path) == 3
    assert not Path(f"{path}.journal").exists()


def test_second_writer_gets_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "t.duckdb"
    with TraceStore(path):
        with pytest.raises(EngineError, match="already open for writing in this process"):
            TraceStore(path)
        with pytest.raises(EngineError, match="open for writing in this process; read through that TraceStore"):
            TraceStore(path, read_only=True)
        code = """
            import sys
            sys.path.insert(0, '.')
            from engine.errors import EngineError
            from engine.trace_store import TraceStore
            try:
                TraceStore(sys.argv[1])
            except EngineError as e:
                print(e)
        """
        done = run_python(code, str(path))
    assert f"trace store {path} is in use by another process; use --trace-db for a separate file" in done.stdout, done.stderr


def test_schema_version_recorded_and_newer_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.duckdb"
    with TraceStore(path) as store:
        assert store.schema_version() == TRACE_SCHEMA_VERSION == 4
    con = duckdb.connect(str(path))
    con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", [str(TRACE_SCHEMA_VERSION + 1)])
    con.close()
    for read_only in (False, True):
        with pytest.raises(EngineError, match=r"schema version 5, newer than this spinflow understands \(4\)"):
            TraceStore(path, read_only=read_only)
    con = duckdb.connect(str(path))
    con.execute("UPDATE meta SET value = '0' WHERE key = 'schema_version'")
    con.close()
    with pytest.raises(EngineError, match="schema version 0, older than 1; no migration exists"):
        TraceStore(path)


def test_not_a_trace_store_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE t (a INTEGER)")
    con.close()
    with pytest.raises(EngineError, match="not a spinflow trace store"):
        TraceStore(path)
    with pytest.raises(EngineError, match="no trace store at"):
        TraceStore(tmp_path / "missing.duckdb", read_only=True)


@pytest.mark.parametrize("sql", [
    "DELETE FROM turns",
    "INSERT INTO turns (turn_key) VALUES ('x')",
    "WITH doomed AS (SELECT 1) DELETE FROM node_runs",
    "SELECT 1; DROP TABLE turns",
    "COPY turns TO 'out.csv'",
])
def test_trace_sql_refuses_writes(tmp_path: Path, sql: str) -> None:
    path = tmp_path / "t.duckdb"
    with TraceStore(path) as store:
        store.record(*make_turn("c", 0))
    with pytest.raises(EngineError, match="trace sql is read-only"):
        open_read_only_sql(path, sql)
    assert raw_count(path) == 1


def test_trace_sql_reads_and_read_only_store_refuses_writes_itself(tmp_path: Path) -> None:
    path = tmp_path / "t.duckdb"
    with TraceStore(path) as store:
        store.record(*make_turn("c", 0))
    columns, rows = open_read_only_sql(path, "SELECT node_id, status FROM node_runs WHERE error IS NOT NULL")
    assert (columns, rows) == (["node_id", "status"], [("node_1", "error")])
    assert "turns" in [row[0] for row in open_read_only_sql(path, "SHOW TABLES")[1]]
    with TraceStore(path, read_only=True) as store, pytest.raises(EngineError, match="read-only"):
        store.query("DELETE FROM turns")  # past the statement check, DuckDB itself refuses
    assert raw_count(path) == 1


def test_shards_read_as_one_table(tmp_path: Path) -> None:
    paths = [tmp_path / f"shard{i}.duckdb" for i in range(3)]
    for i, path in enumerate(paths):
        with TraceStore(path) as store:
            for turn in range(i + 1):
                store.record(*make_turn(f"worker-{i}", turn, minutes=i))
    with TraceStore.open_shards(paths) as view:
        assert [c["conversation_id"] for c in view.conversations()] == ["worker-2", "worker-1", "worker-0"]
    assert open_read_only_sql(paths, "SELECT count(*) FROM turns")[1] == [(6,)]
    # The unflushed turns of a crashed worker show too.
    done = run_python(RECORD_THEN.format(root=str(ROOT), then="os._exit(1)"), str(paths[2]))
    assert done.returncode == 1, done.stderr
    with TraceStore.open_shards(paths) as view:
        assert [c["conversation_id"] for c in view.conversations()] == ["worker-2", "worker-1", "crash", "worker-0"]
        assert view.turn("worker-2", 2)["turn_key"] == "worker-2#000002"
        assert [n["seq"] for n in view.node_runs("worker-1", 1)] == [0, 1, 2]
        assert view.query("SELECT count(*) FROM node_runs")[1] == [((1 + 2 + 3 + 3) * 3,)]
    assert open_read_only_sql(paths, "SELECT count(*) FROM turns")[1] == [(9,)]


def test_resolve_trace_path_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SPINFLOW_TRACE_DB", str(tmp_path / "env" / "e.duckdb"))
    assert resolve_trace_path(str(tmp_path / "cli" / "c.duckdb")) == tmp_path / "cli" / "c.duckdb"
    assert (tmp_path / "cli").is_dir()
    assert resolve_trace_path(None) == tmp_path / "env" / "e.duckdb"
    monkeypatch.delenv("SPINFLOW_TRACE_DB")
    assert resolve_trace_path(None) == Path(".spinflow/traces.duckdb")
    assert (tmp_path / ".spinflow").is_dir()


def test_closed_store_refuses_records_and_close_is_idempotent(tmp_path: Path) -> None:
    store = TraceStore(tmp_path / "t.duckdb")
    store.close()
    store.close()
    with pytest.raises(EngineError, match="closed"):
        store.record(*make_turn("c", 0))
    assert os.path.exists(tmp_path / "t.duckdb")


# The layout of versions 1 and 2: a node_runs table with one row per node run.
LEGACY_SCHEMA = """
CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE turns (
    turn_key VARCHAR, run_id VARCHAR, conversation_id VARCHAR, turn INTEGER, ts TIMESTAMP,
    message VARCHAR, response VARCHAR, state_before VARCHAR, state_after VARCHAR,
    graph_id VARCHAR, graph_hash VARCHAR, config_hash VARCHAR, flags VARCHAR,
    duration_us DOUBLE, status VARCHAR, intent VARCHAR, state VARCHAR, action VARCHAR, inputs VARCHAR);
CREATE TABLE node_runs (
    turn_key VARCHAR, run_id VARCHAR, conversation_id VARCHAR, turn INTEGER, seq INTEGER,
    node_id VARCHAR, node_type VARCHAR, start_us DOUBLE, duration_us DOUBLE, status VARCHAR,
    inputs VARCHAR, outputs VARCHAR, error VARCHAR);
CREATE INDEX turns_turn_key ON turns (turn_key);
CREATE INDEX node_runs_turn_key ON node_runs (turn_key);
"""


def legacy_store(path: Path, version: int, turns: dict[str, list[int]]) -> None:
    """A store in the version 1/2 layout (one row per node run) holding make_turn rows."""
    con = duckdb.connect(str(path))
    con.execute(LEGACY_SCHEMA)
    con.execute("INSERT INTO meta VALUES ('schema_version', ?), ('journal_epoch', '')", [str(version)])
    for conversation_id, numbers in turns.items():
        for number in numbers:
            record, nodes = make_turn(conversation_id, number)
            row = dataclasses.astuple(record)
            con.execute(f"INSERT INTO turns VALUES ({','.join('?' * len(row))})", [*row[:4], row[4].replace(tzinfo=None), *row[5:]])
            for node in nodes:
                values = dataclasses.astuple(node)
                con.execute("INSERT INTO node_runs VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", [values[0], record.run_id, *values[1:]])
    con.close()


@pytest.mark.parametrize("version", [1, 2])
def test_legacy_store_is_read_as_is_and_migrated_to_one_row_per_turn_when_written(tmp_path: Path, version: int) -> None:
    path = tmp_path / "old.duckdb"
    legacy_store(path, version, {"old": [1, 2]})
    expected = [(seq, json.loads(inputs), json.loads(outputs), error) for seq, inputs, outputs, error in
                ((n.seq, n.inputs, n.outputs, n.error) for n in make_turn("old", 2)[1])]

    def runs(store: TraceStore) -> list[tuple]:
        return [(n["seq"], json.loads(n["inputs"]), json.loads(n["outputs"]), n["error"]) for n in store.node_runs("old", 2)]

    with TraceStore(path, read_only=True) as reader:
        assert reader.schema_version() == version
        assert runs(reader) == expected
    with TraceStore(path) as writer:
        assert writer.schema_version() == 4
        assert runs(writer) == expected
        writer.record(*make_turn("new", 1))
        assert writer.query("SELECT conversation_id, count(*) FROM node_runs GROUP BY 1 ORDER BY 1")[1] == [("new", 3), ("old", 6)]
        assert writer.query("SELECT table_type FROM information_schema.tables WHERE table_name = 'node_runs'")[1] == [("VIEW",)]
        assert writer.query("SELECT node_id, error FROM node_runs WHERE turn_key = 'old#000001' AND status = 'error'")[1] == [("node_1", "boom")]


def test_version_3_store_is_read_as_is_and_marked_version_4_when_written(tmp_path: Path) -> None:
    path = tmp_path / "v3.duckdb"
    with TraceStore(path) as store:
        store.record(*make_turn("old", 1))
    con = duckdb.connect(str(path))
    con.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    con.close()
    expected = [(n.seq, json.loads(n.inputs), json.loads(n.outputs)) for n in make_turn("old", 1)[1]]
    with TraceStore(path, read_only=True) as reader:
        assert reader.schema_version() == 3
        assert [(n["seq"], json.loads(n["inputs"]), json.loads(n["outputs"])) for n in reader.node_runs("old", 1)] == expected
    with TraceStore(path) as writer:
        assert writer.schema_version() == 4
        writer.record(*make_turn("new", 1))
        assert writer.query("SELECT conversation_id, count(*) FROM node_runs GROUP BY 1 ORDER BY 1")[1] == [("new", 3), ("old", 3)]


def test_shards_of_legacy_and_current_layout_read_as_one_store(tmp_path: Path) -> None:
    legacy_store(tmp_path / "a.duckdb", 2, {"worker-a": [1, 2]})
    with TraceStore(tmp_path / "b.duckdb") as store:
        store.record(*make_turn("worker-b", 1))
    with TraceStore.open_shards([tmp_path / "a.duckdb", tmp_path / "b.duckdb"]) as view:
        assert [n["seq"] for n in view.node_runs("worker-a", 2)] == [0, 1, 2]
        assert [n["seq"] for n in view.node_runs("worker-b", 1)] == [0, 1, 2]
        assert view.query("SELECT conversation_id, count(*) FROM node_runs GROUP BY 1 ORDER BY 1")[1] == [("worker-a", 6), ("worker-b", 3)]


def test_crash_during_a_background_flush_loses_nothing_and_duplicates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "t.duckdb"
    done = run_python(RECORD_THEN.format(root=str(ROOT), then="os._exit(1)"), str(path))
    assert done.returncode == 1, done.stderr
    # The writer died while its first generation (turns 0-2) was being flushed and turn 3 was
    # already journaled in the next generation.
    first = journal_lines(path)
    os.replace(f"{path}.journal", f"{path}.journal.flushing")
    later = json.loads(first[1])
    later[:4] = ["crash#000003", later[1], "crash", 3]
    Path(f"{path}.journal").write_text("\n".join([json.dumps({"epoch": "e2", "schema_version": 3}), json.dumps(later, ensure_ascii=False)]) + "\n",
                                       encoding="utf-8")
    with TraceStore(path, read_only=True) as reader:
        assert [t["turn"] for t in reader.turns("crash")] == [0, 1, 2, 3]
    with TraceStore(path) as store:
        assert [t["turn"] for t in store.turns("crash")] == [0, 1, 2, 3]
        assert [n["seq"] for n in store.node_runs("crash", 3)] == [0, 1, 2]
    assert not Path(f"{path}.journal.flushing").exists() and not Path(f"{path}.journal").exists()
    assert raw_count(path) == 4


def test_generation_committed_by_a_background_flush_is_not_replayed_twice(tmp_path: Path) -> None:
    # Death between the background commit and the deletion of .journal.flushing.
    path = tmp_path / "t.duckdb"
    with TraceStore(path, flush_every_turns=3) as store:
        store.record(*make_turn("c", 0))
        store.record(*make_turn("c", 1))
        stale = Path(f"{path}.journal").read_bytes()  # the generation about to be handed off (its first two turns)
        store.record(*make_turn("c", 2))
        store.wait_flushed()
        assert not Path(f"{path}.journal.flushing").exists()
    Path(f"{path}.journal.flushing").write_bytes(stale)
    with TraceStore(path) as store:
        assert [t["turn"] for t in store.turns("c")] == [0, 1, 2]


def test_failed_background_flush_is_reported_and_retried_with_every_turn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "t.duckdb"
    store = TraceStore(path, flush_every_turns=2)
    commit = store._commit
    calls: list[int] = []

    def failing_once(rows: list[tuple], epoch: str) -> None:  # DuckDB refusing the first write
        calls.append(len(rows))
        if len(calls) == 1:
            raise duckdb.IOException("disk full (simulated)")
        commit(rows, epoch)

    monkeypatch.setattr(store, "_commit", failing_once)
    try:
        store.record(*make_turn("c", 0))
        store.record(*make_turn("c", 1))  # handed off; that flush fails in the background
        with pytest.raises(EngineError, match="disk full"):
            store.wait_flushed()  # or the next record() once the flusher is done
        assert not Path(f"{path}.journal.flushing").exists()
        assert len(journal_lines(path)) == 1 + 2  # one generation again, holding the failed turns
        assert raw_count_shared(path) == 0
        store.record(*make_turn("c", 2))  # 3 in the generation: handed off again, and this flush works
        store.wait_flushed()
        assert calls == [2, 3]
        assert raw_count_shared(path) == 3
        store.record(*make_turn("c", 3))
    finally:
        store.close()
    with TraceStore(path, read_only=True) as reader:
        assert [t["turn"] for t in reader.turns("c")] == [0, 1, 2, 3]


def test_references_by_named_source_and_by_key_alone_are_both_resolved(tmp_path: Path) -> None:
    record, nodes = make_turn("refs", 1)
    nodes[1].inputs = '{"message": "сколько стоит?", "@ref": {"out": "node_0", "conv.state": "@state_before"}}'  # schema 2-3
    nodes[2].inputs = '{"@ref": ["out", "conv.state", "conv.missing"]}'  # schema 4: the value as it stood before the node
    nodes[2].outputs = '{"out": [3], "@extend": {"out": "node_1"}}'
    nodes[1].outputs = '{"out": [1, 2]}'
    with TraceStore(tmp_path / "t.duckdb") as store:
        store.record(record, nodes)
        runs = {run["node_id"]: (json.loads(run["inputs"]), json.loads(run["outputs"])) for run in store.node_runs("refs", 1)}
        stored = {run["node_id"]: json.loads(run["inputs"]) for run in store.node_runs("refs", 1, expand=False)}
    assert runs["node_1"] == ({"message": "сколько стоит?", "out": "ответ 0", "conv.state": "greeting"}, {"out": [1, 2]})
    assert runs["node_2"] == ({"out": [1, 2], "conv.state": "greeting", "conv.missing": None}, {"out": [1, 2, 3]})
    assert stored["node_2"] == {"@ref": ["out", "conv.state", "conv.missing"]}  # as stored; outputs are always whole


def test_expand_inputs_resolves_text_rows_of_both_reference_forms() -> None:
    from engine.trace_store import expand_inputs

    rows = [
        {"node_id": "a", "inputs": "{}", "outputs": '{"x": 1}'},
        {"node_id": "b", "inputs": '{"@ref": {"x": "a"}}', "outputs": '{"x": 2}'},
        {"node_id": "c", "inputs": '{"@ref": ["x", "conv.state"]}', "outputs": "{}"},
    ]
    expand_inputs(rows, '{"state": "spin_problem"}')
    assert [json.loads(row["inputs"]) for row in rows] == [{}, {"x": 1}, {"x": 2, "conv.state": "spin_problem"}]
