"""DuckDB trace store: one row per turn (its node runs as one JSON array), batched behind a crash journal."""
from __future__ import annotations

import atexit
import json
import logging
import operator
import os
import signal
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import IO, Any

import duckdb

from engine.errors import EngineError

__all__ = ["INPUT_REFS", "NODE_RUN_FIELDS", "OUTPUT_EXTENDS", "STATE_BEFORE", "TRACE_SCHEMA_VERSION", "NodeRunRecord", "TraceStore", "TurnRecord", "expand_inputs",
           "open_for_reading", "open_read_only_sql", "resolve_trace_path"]

log = logging.getLogger(__name__)

#: 2: node inputs may hold references (``INPUT_REFS``) to values recorded elsewhere in the turn.
#: 3: one row per turn: its node runs are one JSON array in ``turns.nodes`` and ``node_runs`` is a
#: view unnesting it. Versions 1 and 2 (a ``node_runs`` table) are read as is; opening one for
#: writing migrates it to version 3 in one transaction.
#: 4: node outputs may hold list extensions (``OUTPUT_EXTENDS``) and input references are a list of
#: keys; the layout is version 3's, so opening a version-3 store for writing only marks it version 4.
TRACE_SCHEMA_VERSION = 4
_COMPATIBLE_VERSIONS = frozenset({1, 2, 3, 4})
#: One node run in ``turns.nodes``: a JSON array of these fields in this order; inputs and outputs
#: are JSON values (objects), not JSON text.
NODE_RUN_FIELDS = ("seq", "node_id", "node_type", "start_us", "duration_us", "status", "inputs", "outputs", "error")
#: Key of the references in a stored inputs object. Versions 2-3: a mapping input key → producing
#: node id or ``STATE_BEFORE``. Version 4: a list of input keys, each the value as it stood before
#: the node ran (the latest earlier output of that key, else the conversation before the turn):
#: the only source the writer ever named, so naming it again for every key was ~4 KB per turn.
INPUT_REFS = "@ref"
#: Key of the list extensions in a stored outputs object: output key → the node id whose recorded
#: value of that key is the list's head; the key holds the tail.
OUTPUT_EXTENDS = "@extend"
#: Source of a ``conv.*`` input taken unchanged from the conversation before the turn.
STATE_BEFORE = "@state_before"
DEFAULT_TRACE_PATH = Path(".spinflow/traces.duckdb")

try:  # the journal line is most of record()'s cost: json.dumps ~40 us per 12-node turn; with orjson all of record() is ~20 us
    import orjson

    _dumps: Callable[[Any], bytes] = orjson.dumps
    _loads: Callable[[bytes | str], Any] = orjson.loads
    # Node inputs/outputs are JSON text already: the journal embeds them as JSON values
    # (a Fragment is copied verbatim) instead of escaping every quote of ~25 KB per turn again.
    _Fragment: Callable[[str | bytes], Any] | None = getattr(orjson, "Fragment", None)
except ImportError:
    _encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False).encode
    _dumps = lambda value: _encode(value).encode()  # noqa: E731
    _loads = json.loads
    _Fragment = None


@dataclass(slots=True)
class TurnRecord:
    """One traced turn; ``turn_key`` is ``f"{conversation_id}#{turn:06d}"``."""

    turn_key: str
    run_id: str
    conversation_id: str
    turn: int
    ts: datetime  # UTC
    message: str
    response: str
    state_before: str  # JSON text
    state_after: str  # JSON text
    graph_id: str
    graph_hash: str
    config_hash: str
    flags: str  # JSON text
    duration_us: float
    status: str  # ok | degraded | error
    intent: str | None = None
    state: str | None = None
    action: str | None = None
    inputs: str = "{}"  # JSON text: the turn's base inputs (dialogue_context, extra inputs) for replay


@dataclass(slots=True)
class NodeRunRecord:
    """One node run inside a turn; ``start_us`` is the offset from the start of the turn."""

    turn_key: str
    conversation_id: str
    turn: int
    seq: int
    node_id: str
    node_type: str
    start_us: float
    duration_us: float
    status: str  # ok | skipped | error | replayed
    inputs: str  # JSON text
    outputs: str  # JSON text
    error: str | None


# JSON columns are VARCHAR on purpose: DuckDB's JSON type re-parses every value on append, which
# measured ~50% slower appends (72 -> 112 us per 12-node turn); the writer already produced valid
# JSON and json_extract()/->> work on VARCHAR alike. ts is a naive UTC TIMESTAMP because fetching
# TIMESTAMPTZ needs pytz, which is not a dependency.
# One row per turn: a flush of 100 turns of the full graph (33 node rows each) took 55-73 ms as
# 3,400 rows and 25-45 ms as 100 rows holding the same bytes, and the trace hook serialises a
# turn's node runs with one orjson call instead of two per node. ``nodes`` is the UTF-8 JSON as a
# BLOB: orjson's bytes go in as they are (no str round trip; appends and commits ~30% cheaper than
# VARCHAR); ``node_runs`` decodes it. ~30 KB per turn: DuckDB would pick ZSTD, whose point fetch of
# one value took 15-20 ms (it decompresses a whole frame); uncompressed it takes ~1 ms, at ~2x the
# file size of version 2 (20.7 MB against 8.9 MB for 597 turns of evals/dialogues).
_NODES_COLUMN = "nodes BLOB USING COMPRESSION uncompressed"
_TURN_COLUMNS_DDL = f"""
    turn_key VARCHAR, run_id VARCHAR, conversation_id VARCHAR, turn INTEGER, ts TIMESTAMP,
    message VARCHAR, response VARCHAR, state_before VARCHAR, state_after VARCHAR,
    graph_id VARCHAR, graph_hash VARCHAR, config_hash VARCHAR, flags VARCHAR,
    duration_us DOUBLE, status VARCHAR, intent VARCHAR, state VARCHAR, action VARCHAR, inputs VARCHAR, {_NODES_COLUMN}"""
#: ``node_runs`` over a relation with the turns' columns (``turns`` in the file, a union across shards).
# The unnest is in a projection, not a lateral join: DuckDB then pushes a turn_key filter down to
# the index (one turn in 1M node rows: ~1 ms instead of a 1.5 s scan).
_NODE_RUNS_SQL = """SELECT turn_key, run_id, conversation_id, turn,
    CAST(n->>0 AS INTEGER) AS seq, n->>1 AS node_id, n->>2 AS node_type, CAST(n->>3 AS DOUBLE) AS start_us,
    CAST(n->>4 AS DOUBLE) AS duration_us, n->>5 AS status, CAST(n->6 AS VARCHAR) AS inputs,
    CAST(n->7 AS VARCHAR) AS outputs, n->>8 AS error
FROM (SELECT turn_key, run_id, conversation_id, turn, unnest(CAST(decode(nodes) AS JSON[])) AS n FROM {turns})"""
# The ART index on the single turn_key column: DuckDB uses an index only for a single-column
# equality; a lookup of one turn in 1M node rows went from 5-17 ms (scan) to ~1.5 ms.
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE IF NOT EXISTS turns ({_TURN_COLUMNS_DDL});
CREATE INDEX IF NOT EXISTS turns_turn_key ON turns (turn_key);
CREATE VIEW IF NOT EXISTS node_runs AS {_NODE_RUNS_SQL.format(turns="turns")};
"""
# Version 1/2 → 3: node rows folded into turns.nodes (DuckDB cannot ALTER a table that has an index).
_MIGRATE_TO_V3 = f"""
DROP INDEX IF EXISTS turns_turn_key;
DROP INDEX IF EXISTS node_runs_turn_key;
ALTER TABLE turns ADD COLUMN {_NODES_COLUMN};
UPDATE turns SET nodes = grouped.nodes FROM (
    SELECT turn_key, run_id, encode(CAST(to_json(list(json_array(seq, node_id, node_type, start_us, duration_us, status,
        json(inputs), json(outputs), error) ORDER BY seq)) AS VARCHAR)) AS nodes
    FROM node_runs GROUP BY turn_key, run_id) AS grouped
WHERE turns.turn_key = grouped.turn_key AND turns.run_id = grouped.run_id;
DROP TABLE node_runs;
CREATE INDEX turns_turn_key ON turns (turn_key);
CREATE VIEW node_runs AS {_NODE_RUNS_SQL.format(turns="turns")};
"""
_TURN_FIELDS = tuple(f.name for f in fields(TurnRecord))
#: Rows per appender flush in a background flush; between chunks the flusher yields the GIL.
_APPEND_CHUNK = 20
_UPDATE_EPOCH = "UPDATE meta SET value = ? WHERE key = 'journal_epoch'"
_turn_row = operator.attrgetter(*_TURN_FIELDS)  # one C call instead of a tuple(getattr(...)) loop
_node_run = operator.attrgetter(*NODE_RUN_FIELDS)
_TS = _TURN_FIELDS.index("ts")
_READ_KINDS = {"SELECT", "EXPLAIN", "PRAGMA"}  # SHOW, DESCRIBE, SUMMARIZE and WITH parse as SELECT


def open_for_reading(path: str | Path) -> TraceStore:
    """A read-only store: one file, or a folder of shards (``*.duckdb``) read as one store."""
    path = Path(path)
    if path.is_dir():
        shards = sorted(path.glob("*.duckdb"))
        if not shards:
            raise EngineError(f"no trace shards (*.duckdb) in folder {path}")
        return TraceStore.open_shards(shards)
    if not path.exists():
        raise EngineError(f"no trace store at {path}; run 'spinflow chat' first or pass --trace-db")
    return TraceStore(path, read_only=True)


def resolve_trace_path(cli_value: str | None) -> Path:
    """``--trace-db``, else ``$SPINFLOW_TRACE_DB``, else ``.spinflow/traces.duckdb``; makes the folder."""
    path = Path(cli_value or os.environ.get("SPINFLOW_TRACE_DB") or DEFAULT_TRACE_PATH).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def open_read_only_sql(path: str | Path | Sequence[str | Path], sql: str) -> tuple[list[str], list[tuple]]:
    """Run read-only SQL for ``spinflow trace sql`` over one store or several shards.

    DuckDB's own parser classifies the statements (so ``WITH … DELETE`` and ``SELECT 1; DROP …``
    are caught), and the files are opened read-only so DuckDB refuses whatever slips past.
    """
    parser = duckdb.connect()
    try:
        statements = parser.extract_statements(sql)
    except duckdb.Error as e:
        raise EngineError(f"trace sql: cannot parse the query: {e}") from e
    finally:
        parser.close()
    for kind in (statement.type.name for statement in statements):
        if kind not in _READ_KINDS:
            raise EngineError(f"trace sql is read-only: {kind} statements are refused; use SELECT, WITH, SHOW, DESCRIBE, PRAGMA or EXPLAIN")
    paths = [path] if isinstance(path, (str, Path)) else list(path)
    store = TraceStore.open_shards(paths)
    try:
        return store.query(sql)
    finally:
        store.close()


def _lock_error(path: Path, error: duckdb.Error, *, reader: bool) -> EngineError:
    if "lock" not in str(error).lower():
        return EngineError(f"trace store {path}: cannot open: {error}")
    if reader:  # DuckDB lets no other process read a file while one writes it
        return EngineError(f"trace store {path} is in use by another process, which is writing it; stop it or read a copy of the file")
    return EngineError(f"trace store {path} is in use by another process; use --trace-db for a separate file")


class TraceStore:
    """Batched DuckDB writer and reader for turn and node-run traces.

    ``record()`` appends each turn as one line to ``<db>.journal`` (flushed to the OS, no fsync)
    and buffers its rows; every ``flush_every_turns`` turns, at ``close()``, at exit and on
    SIGINT/SIGTERM the buffer goes to DuckDB in one transaction and the journal is emptied. Opening
    the store replays a journal left by a crash, so a crash loses at most the turn in flight.
    """

    _journal: IO[bytes] | None

    def __init__(self, path: str | Path, *, flush_every_turns: int = 100, read_only: bool = False) -> None:
        self._setup(Path(path), flush_every_turns, read_only)
        if read_only:
            self._con = self._open_read_only([self.path])
            return
        if self._key in _WRITERS:  # same process: DuckDB would share the file and both would replay the journal
            raise EngineError(f"trace store {self.path} is already open for writing in this process; use --trace-db for a separate file")
        try:
            self._con = duckdb.connect(str(self.path))
        except duckdb.Error as e:
            raise _lock_error(self.path, e, reader=False) from e
        _WRITERS[self._key] = self
        try:
            self._init_schema()
            self._recover_journal()
            self._journal = open(self._journal_path, "ab")  # noqa: SIM115 - lives as long as the store
            self._start_journal()
        except BaseException:
            _WRITERS.pop(self._key, None)
            self._con.close()
            raise
        _install_exit_hooks()

    def _setup(self, path: Path, flush_every_turns: int, read_only: bool) -> None:
        self.path = path
        self.read_only = read_only
        self.flush_every_turns = max(1, flush_every_turns)
        self._key = str(path.resolve())
        self._lock = threading.Lock()
        self._turn_rows: list[tuple] = []  # the current journal generation's rows, not yet handed to DuckDB
        self._journal_path = Path(f"{path}.journal")
        # The journal generation a background flush is writing to DuckDB; deleted once committed.
        self._pending_path = Path(f"{path}.journal.flushing")
        self._journal = None
        self._flusher: threading.Thread | None = None
        self._flush_failure: tuple[BaseException, list[tuple], str] | None = None
        self._epoch = ""
        self._closed = False

    # ---------------------------------------------------------------- writing

    def record(self, turn: TurnRecord, nodes: Sequence[NodeRunRecord]) -> None:
        """Journal one turn (so a crash cannot lose it) and buffer its row for the next flush.

        Every ``flush_every_turns`` turns the buffer goes to DuckDB in a background thread, so no
        turn waits for it. Raises ``EngineError`` if an earlier background flush failed; the turns
        are recorded all the same (journaled and buffered) and the flush is retried at the next
        flush point.
        """
        runs = [[*_node_run(n)] for n in nodes]
        for run in runs:  # inputs/outputs are JSON text: embedded as JSON values, not re-escaped
            run[6], run[7] = _json_value(run[6]), _json_value(run[7])
        self.record_encoded(turn, _dumps(runs))

    def record_encoded(self, turn: TurnRecord, nodes: bytes) -> None:
        """``record`` with the node runs already serialised: a JSON array holding one array of
        ``NODE_RUN_FIELDS`` per run (UTF-8). The trace hook's path: one orjson call per turn."""
        row: list[Any] = list(_turn_row(turn))
        ts = row[_TS]
        if ts.tzinfo is not None:
            ts = ts.astimezone(UTC).replace(tzinfo=None)
        row[_TS] = ts.isoformat()
        row.append(_json_value(nodes))
        line = _dumps(row) + b"\n"
        row[_TS] = ts
        row[-1] = nodes
        with self._lock:
            if self._journal is None:
                raise EngineError(f"trace store {self.path} is {'closed' if self._closed else 'read-only'}")
            self._journal.write(line)  # journal first: once this returns, a crash cannot lose the turn
            self._journal.flush()
            self._turn_rows.append(tuple(row))
            if len(self._turn_rows) >= self.flush_every_turns:
                self._hand_off_locked(wait=False)
            elif self._flusher is not None and not self._flusher.is_alive():
                self._join_flusher_locked()  # done: report a failure now rather than at the next flush

    def flush(self) -> None:
        """Write buffered rows to DuckDB in one transaction, then empty the journal (synchronous)."""
        with self._lock:
            self._flush_locked()

    def wait_flushed(self) -> None:
        """Wait for a background flush in progress; raises ``EngineError`` if it failed."""
        with self._lock:
            self._join_flusher_locked()

    def close(self) -> None:
        """Flush, close DuckDB and delete the (now empty) journal. Idempotent."""
        with self._lock:
            if self._closed:
                return
            try:
                if not self.read_only:
                    self._flush_locked()  # if this raises, the journal stays for the next open
                    self._journal_path.unlink(missing_ok=True)
                    self._pending_path.unlink(missing_ok=True)
            finally:
                self._closed = True
                if self._journal is not None:
                    self._journal.close()
                    self._journal = None
                self._con.close()
                if _WRITERS.get(self._key) is self:
                    del _WRITERS[self._key]

    def __enter__(self) -> TraceStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _flush_locked(self) -> None:
        if self.read_only or self._closed:
            return
        self._join_flusher_locked()
        if self._turn_rows and self._journal is not None:
            self._hand_off_locked(wait=True)

    # A flush of 100 full-graph turns takes 25-70 ms; in the turn that reached the threshold it set
    # the p99. The rows and their journal generation are handed to a thread instead: the journal
    # file is renamed to ``.journal.flushing`` and a new generation starts, so a crash at any point
    # leaves every uncommitted turn in one of the two files. DuckDB's appender holds the GIL (the
    # turns then wait up to the 5 ms switch interval now and then); BEGIN/COMMIT go through
    # execute(), which releases it (con.commit() did not). Loading the journal file with DuckDB's
    # JSON reader instead released the GIL throughout but cost 3x the CPU (1.9 ms per turn).
    # The connection is used by one thread at a time: everything else that touches DuckDB holds
    # ``_lock`` and joins the flusher first.

    def _hand_off_locked(self, *, wait: bool) -> None:
        self._join_flusher_locked()
        assert self._journal is not None
        rows, epoch = self._turn_rows, self._epoch
        self._turn_rows = []
        self._journal.close()
        os.replace(self._journal_path, self._pending_path)
        self._journal = open(self._journal_path, "ab")  # noqa: SIM115 - lives as long as the store
        self._start_journal()
        if wait:
            self._load_generation(rows, epoch)
            self._raise_failure_locked()
        else:
            self._flusher = threading.Thread(target=self._load_generation, args=(rows, epoch), name=f"trace-flush {self.path.name}")
            self._flusher.start()

    def _load_generation(self, rows: list[tuple], epoch: str) -> None:
        """Append the rows of ``.journal.flushing`` and mark its ``epoch`` committed, in one transaction."""
        try:
            self._commit(rows, epoch)
        except BaseException as e:  # noqa: BLE001 - reported in the writer's thread (_raise_failure_locked)
            self._flush_failure = (e, rows, epoch)
            return
        self._pending_path.unlink(missing_ok=True)

    def _commit(self, rows: list[tuple], epoch: str) -> None:
        con = self._con
        con.execute("BEGIN")
        try:
            appender = con.appender("turns")
            for start in range(0, len(rows), _APPEND_CHUNK):
                appender.append_rows(rows[start:start + _APPEND_CHUNK])
                appender.flush()
                time.sleep(0)  # the appender holds the GIL: hand it back to the turns between chunks
            # Same transaction as the rows: if we die before the journal file is deleted, the next
            # open sees this epoch as committed and does not replay (duplicate) its lines.
            # UPDATE of an existing row: measured ~0.7 ms against 2.6-9 ms for INSERT OR REPLACE.
            con.execute(_UPDATE_EPOCH, [epoch])
            con.execute("COMMIT")
        except BaseException:
            try:
                con.execute("ROLLBACK")
            except duckdb.Error:  # the failed statement may already have aborted the transaction
                pass
            raise

    def _join_flusher_locked(self) -> None:
        if self._flusher is not None:
            self._flusher.join()
            self._flusher = None
        self._raise_failure_locked()

    def _raise_failure_locked(self) -> None:
        if self._flush_failure is None:
            return
        error, rows, epoch = self._flush_failure
        self._flush_failure = None
        # Back to one journal generation (the failed one's epoch), its turns first; written beside
        # and renamed over, so a crash leaves either both files or the merged one (same epoch:
        # recovery then skips the pending file). The next flush point retries them all.
        assert self._journal is not None
        self._journal.close()
        current = self._journal_path.read_bytes()
        merged = Path(f"{self._journal_path}.merge")
        merged.write_bytes(self._pending_path.read_bytes() + current[current.index(b"\n") + 1:])
        os.replace(merged, self._journal_path)
        self._pending_path.unlink(missing_ok=True)
        self._journal = open(self._journal_path, "ab")  # noqa: SIM115 - lives as long as the store
        self._turn_rows = rows + self._turn_rows
        self._epoch = epoch
        raise EngineError(f"trace store {self.path}: flush failed ({error}); the turns stay in {self._journal_path}") from error

    def _start_journal(self) -> None:
        # Each journal generation starts with a fresh epoch; a flush commits the epoch it emptied.
        assert self._journal is not None
        self._epoch = os.urandom(8).hex()
        self._journal.write(_dumps({"epoch": self._epoch, "schema_version": TRACE_SCHEMA_VERSION}) + b"\n")
        self._journal.flush()

    def _init_schema(self) -> None:
        tables = {name for (name,) in self._con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()").fetchall()}
        if tables and "meta" not in tables:
            raise EngineError(f"{self.path} is a DuckDB file but not a spinflow trace store (no meta table)")
        if not tables:
            self._con.begin()
            self._con.execute(_SCHEMA)
            self._con.execute("INSERT INTO meta VALUES ('schema_version', ?), ('journal_epoch', '')", [str(TRACE_SCHEMA_VERSION)])
            self._con.commit()
            return
        version = _check_version(self._con, "meta", self.path)
        if version < TRACE_SCHEMA_VERSION:  # v1 rows are valid v2 rows; v3 rows are valid v4 rows
            self._con.begin()
            if version < 3:
                self._con.execute(_MIGRATE_TO_V3)
            self._con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", [str(TRACE_SCHEMA_VERSION)])
            self._con.commit()

    def _recover_journal(self) -> None:
        # Python reads a leftover journal (it skips a torn last line and folds version-2 lines).
        epoch, turn_rows = _uncommitted(self.path, _meta(self._con, "meta", "journal_epoch"))
        if turn_rows:
            log.warning("trace store %s: replaying %d turns from %s", self.path, len(turn_rows), self._journal_path)
            try:
                self._commit(turn_rows, epoch or os.urandom(8).hex())
            except duckdb.Error as e:
                raise EngineError(f"trace store {self.path}: cannot replay {self._journal_path} ({e})") from e
        # Committed now (or earlier, if the epoch matched: we died between commit and truncate).
        self._journal_path.unlink(missing_ok=True)
        self._pending_path.unlink(missing_ok=True)

    def _flush_from_signal(self) -> None:
        # Never block inside a signal handler: if the interrupted code holds the lock, the turn is
        # already in the journal and the next open replays it.
        if self._lock.acquire(blocking=False):
            try:
                self._flush_locked()
            except Exception:  # noqa: BLE001 - the journal still holds the rows
                log.exception("trace store %s: flush on signal failed", self.path)
            finally:
                self._lock.release()

    # ---------------------------------------------------------------- reading

    @classmethod
    def open_shards(cls, paths: Sequence[str | Path]) -> TraceStore:
        """Read-only view of several store files (e.g. one per evaluation worker) as one store."""
        store = cls.__new__(cls)
        store._setup(Path(paths[0]), 1, True)
        store._con = store._open_read_only([Path(p) for p in paths])
        return store

    def _open_read_only(self, paths: list[Path]) -> duckdb.DuckDBPyConnection:
        for path in paths:
            if not path.exists():
                raise EngineError(f"no trace store at {path}; record some turns first or check --trace-db")
            if str(path.resolve()) in _WRITERS:  # DuckDB refuses a second configuration of an open file
                raise EngineError(f"trace store {path} is open for writing in this process; read through that TraceStore")
        try:
            con = duckdb.connect(str(paths[0]), read_only=True)
        except duckdb.Error as e:
            raise _lock_error(paths[0], e, reader=True) from e
        try:
            catalogs: list[str] = [con.execute("SELECT current_database()").fetchall()[0][0]]
            for i, path in enumerate(paths[1:], 1):
                try:
                    con.execute(f"ATTACH ? AS shard_{i} (READ_ONLY)", [str(path)])
                except duckdb.Error as e:
                    raise _lock_error(path, e, reader=True) from e
                catalogs.append(f"shard_{i}")
            journal_turns: list[tuple] = []
            versions: list[int] = []
            for path, catalog in zip(paths, catalogs, strict=True):
                meta = f'"{catalog}".main.meta'
                versions.append(_check_version(con, meta, path))
                # A crashed writer's turns: shown from a TEMP table, since we must not write the file.
                journal_turns += _uncommitted(path, _meta(con, meta, "journal_epoch"))[1]
            if len(catalogs) > 1 or journal_turns:
                _union_views(con, catalogs, versions, journal_turns)
        except BaseException:
            con.close()
            raise
        return con

    def _read(self, sql: str, params: Sequence[Any] = ()) -> tuple[list[str], list[tuple]]:
        with self._lock:
            if self._closed:
                raise EngineError(f"trace store {self.path} is closed")
            self._flush_locked()  # readers see every recorded turn, flushed or not
            cursor = self._con.execute(sql, list(params))
            return [d[0] for d in cursor.description or ()], cursor.fetchall()

    def _dicts(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        columns, rows = self._read(sql, params)
        out = [dict(zip(columns, row, strict=True)) for row in rows]
        for item in out:  # stored as naive UTC; hand back aware datetimes, as recorded
            for name in ("ts", "first_ts", "last_ts"):
                if isinstance(item.get(name), datetime):
                    item[name] = item[name].replace(tzinfo=UTC)
        return out

    def conversations(self, limit: int = 50) -> list[dict]:
        """Most recently active conversations first: id, turns, first/last ts, last status."""
        return self._dicts(
            "SELECT conversation_id, count(DISTINCT turn) AS turns, min(ts) AS first_ts, max(ts) AS last_ts, "
            "arg_max(status, ts) AS last_status FROM turns GROUP BY conversation_id "
            "ORDER BY last_ts DESC, conversation_id LIMIT ?", [limit])

    def turns(self, conversation_id: str) -> list[dict]:
        """Every traced turn of one conversation, by turn number (then run, when several runs traced it)."""
        return _without_nodes(self._dicts("SELECT * FROM turns WHERE conversation_id = ? ORDER BY turn, run_id, ts", [conversation_id]))

    # Point lookups fetch every row of the turn_key and pick/sort in Python: with ORDER BY … LIMIT
    # or ORDER BY seq, DuckDB 2.0 rewrites the plan into scans and the ART index goes unused
    # (measured in 1M node rows: 4.6 ms instead of 0.95 ms for a turn).

    def turn(self, conversation_id: str, turn: int, run_id: str | None = None) -> dict | None:
        """One turn by ``turn_key`` (index probe): the latest run's (largest run_id) unless ``run_id`` is given."""
        row = self._turn_row(conversation_id, turn, run_id)
        if row is not None:
            row.pop("nodes", None)
        return row

    def _turn_row(self, conversation_id: str, turn: int, run_id: str | None) -> dict | None:
        rows = self._dicts("SELECT * FROM turns WHERE turn_key = ?", [f"{conversation_id}#{turn:06d}"])
        rows = [row for row in rows if run_id is None or row["run_id"] == run_id]
        return max(rows, key=lambda row: (row["run_id"], row["ts"])) if rows else None

    def node_runs(self, conversation_id: str, turn: int, run_id: str | None = None, *, expand: bool = True) -> list[dict]:
        """Node runs of one turn ordered by ``seq``: the latest run's unless ``run_id`` is given.

        ``inputs`` is the JSON text of every input, references resolved (``expand_inputs``);
        ``expand=False`` leaves them as stored (replay reads only outputs). ``outputs`` is always
        whole: stored list extensions (``OUTPUT_EXTENDS``) are rebuilt.
        """
        turn_row = self._turn_row(conversation_id, turn, run_id)
        if turn_row is not None and turn_row.get("nodes") is not None:  # version 3+: one JSON array in the turn row
            return _node_run_dicts(turn_row, expand=expand)
        else:  # a version 1/2 store (or shard): a node_runs table
            rows = self._dicts("SELECT * FROM node_runs WHERE turn_key = ?", [f"{conversation_id}#{turn:06d}"])
            if rows and run_id is None:
                run_id = max(row["run_id"] for row in rows)
            runs = sorted((row for row in rows if row["run_id"] == run_id), key=lambda row: row["seq"])
        if expand and any(INPUT_REFS in (row.get("inputs") or "") for row in runs):
            expand_inputs(runs, turn_row["state_before"] if turn_row else None)
        return runs

    def last_turn(self, conversation_id: str) -> dict | None:
        """The highest-numbered (then latest) turn of a conversation, or None."""
        rows = self._dicts("SELECT * FROM turns WHERE conversation_id = ? ORDER BY turn DESC, run_id DESC, ts DESC LIMIT 1", [conversation_id])
        return _without_nodes(rows)[0] if rows else None

    def query(self, sql: str, params: Sequence | None = None) -> tuple[list[str], list[tuple]]:
        """Run SQL; returns (column names, rows). Read-only stores make DuckDB refuse writes."""
        try:
            return self._read(sql, params or ())
        except duckdb.Error as e:
            raise EngineError(f"trace sql on {self.path}: {e}") from e

    def schema_version(self) -> int:
        """The schema version recorded in the (first) store file."""
        return int(self._read("SELECT value FROM meta WHERE key = 'schema_version'")[1][0][0])


# ---------------------------------------------------------------- helpers


def expand_inputs(runs: Sequence[dict[str, Any]], state_before: str | Mapping[str, Any] | None) -> None:
    """Resolve the input references of one turn's node rows in place (``inputs`` stays JSON text).

    The rules are ``_TurnRefs``'; a reference that cannot be resolved (a row missing from the
    store) reads as null.
    """
    refs = _TurnRefs(state_before)
    for row in runs:
        text = row.get("inputs")
        if isinstance(text, str) and INPUT_REFS in text:
            row["inputs"] = _dumps(refs.resolve(_loads(text))).decode()
        outputs = row.get("outputs")
        refs.record(row["node_id"], _loads(outputs) if isinstance(outputs, str) else outputs)


class _TurnRefs:
    """The references of one turn's node runs, resolved in ``seq`` order: ``resolve`` a run's
    inputs, then ``record`` its whole outputs.

    A reference names the node whose recorded output holds the value, or ``STATE_BEFORE`` for a
    ``conv.<field>`` taken from the turn's ``state_before`` (versions 2-3); a list of keys
    (version 4) means the latest earlier output of each key, else ``state_before``.
    """

    def __init__(self, state_before: str | Mapping[str, Any] | None) -> None:
        self._state_before = state_before
        self._before: Mapping[str, Any] | None = None  # parsed when first needed
        self.by_node: dict[str, Any] = {}  # node id → its outputs
        self._latest: dict[str, Any] = {}  # key → its latest output so far

    def _conversation(self, key: str) -> Any:
        if self._before is None:
            state = self._state_before
            self._before = (_loads(state) if isinstance(state, str) else state) or {}
        return self._before.get(key.split(".", 1)[1])

    def resolve(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        inputs = dict(inputs)
        refs = inputs.pop(INPUT_REFS, None)
        for key, source in (refs.items() if isinstance(refs, dict) else ((key, None) for key in refs or ())):
            if source is None:  # version 4: the value as it stood before this node ran
                inputs[key] = self._latest[key] if key in self._latest else self._conversation(key)
            elif source == STATE_BEFORE:
                inputs[key] = self._conversation(key)
            else:
                inputs[key] = (self.by_node.get(source) or {}).get(key)
        return inputs

    def record(self, node_id: str, outputs: Any) -> None:
        self.by_node[node_id] = outputs
        if isinstance(outputs, dict):
            self._latest.update(outputs)


def _without_nodes(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for row in rows:  # the node runs are read through node_runs(), not as the turn's raw JSON
        row.pop("nodes", None)
    return rows


def _node_run_dicts(turn_row: Mapping[str, Any], *, expand: bool = True) -> list[dict[str, Any]]:
    """The node runs stored in a turn row, as ``node_runs`` rows (inputs/outputs as JSON text) by ``seq``;
    list extensions in outputs (``OUTPUT_EXTENDS``) are rebuilt into whole values and, with
    ``expand``, input references (``INPUT_REFS``) are resolved."""
    head = {name: turn_row[name] for name in ("turn_key", "run_id", "conversation_id", "turn")}
    runs = []
    stored = sorted(_loads(turn_row["nodes"]), key=operator.itemgetter(0))
    refs = _TurnRefs(turn_row.get("state_before"))
    for seq, node_id, node_type, start_us, duration_us, status, inputs, outputs, error in stored:
        if isinstance(outputs, dict) and OUTPUT_EXTENDS in outputs:
            outputs = _extended(outputs, refs.by_node)
        if expand and isinstance(inputs, dict) and INPUT_REFS in inputs:
            inputs = refs.resolve(inputs)
        refs.record(node_id, outputs)
        runs.append({**head, "seq": seq, "node_id": node_id, "node_type": node_type, "start_us": float(start_us),
                     "duration_us": float(duration_us), "status": status, "inputs": _dumps(inputs).decode(),
                     "outputs": _dumps(outputs).decode(), "error": error})
    return runs


def _extended(outputs: dict[str, Any], full: Mapping[str, Any]) -> dict[str, Any]:
    """Stored outputs with each extended list rebuilt as its source node's value plus the stored
    tail (``full``: the rebuilt outputs of the earlier runs by node id). An unresolvable head (its
    source missing from the turn) leaves the tail alone."""
    outputs = dict(outputs)
    for key, source in (outputs.pop(OUTPUT_EXTENDS) or {}).items():
        head = (full.get(source) or {}).get(key)
        if isinstance(head, list) and isinstance(outputs.get(key), list):
            outputs[key] = head + outputs[key]
    return outputs


def _meta(con: duckdb.DuckDBPyConnection, table: str, key: str) -> str | None:
    row = con.execute(f"SELECT value FROM {table} WHERE key = ?", [key]).fetchone()
    return None if row is None else row[0]


def _check_version(con: duckdb.DuckDBPyConnection, table: str, path: Path) -> int:
    # Version 1 is the first schema, so an older file cannot come from spinflow: refuse it. Version 1
    # is read as is (it only lacks input references); a writable open then marks it version 2.
    try:
        version = int(_meta(con, table, "schema_version") or 0)
    except duckdb.CatalogException as e:
        raise EngineError(f"{path} is not a spinflow trace store (no meta table)") from e
    if version > TRACE_SCHEMA_VERSION:
        raise EngineError(f"trace store {path} has schema version {version}, newer than this spinflow understands "
                          f"({TRACE_SCHEMA_VERSION}); upgrade spinflow or use --trace-db for a separate file")
    if version not in _COMPATIBLE_VERSIONS:
        raise EngineError(f"trace store {path} has schema version {version}, older than {min(_COMPATIBLE_VERSIONS)}; "
                          "no migration exists, use --trace-db for a separate file")
    return version


def _read_journal(path: Path) -> tuple[str | None, list[tuple]]:
    """Epoch and turn rows of a journal; a torn (crash-truncated) last line or a corrupt line is skipped.

    A version-3 line is the turn row with its node runs as a JSON array; a line of an older journal,
    ``[turn row, [node row, …]]``, is folded into that shape.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None, []
    epoch: str | None = None
    turn_rows: list[tuple] = []
    lines = data.split(b"\n")
    for number, line in enumerate(lines[:-1], 1):  # lines[-1] is "" or a write cut short by a crash
        try:
            item = _loads(line)
            if isinstance(item, dict):
                if item.get("schema_version") not in _COMPATIBLE_VERSIONS:
                    raise EngineError(f"{path}: journal of schema version {item.get('schema_version')}; "
                                      f"this spinflow writes {TRACE_SCHEMA_VERSION}: open it with the spinflow that wrote it")
                epoch = item["epoch"]
                continue
            if len(item) == 2 and isinstance(item[0], list):  # version 1/2: [turn row, node rows]
                turn, nodes = item
                item = [*turn, [[*node[4:10], _json_text_value(node[10]), _json_text_value(node[11]), node[12]] for node in nodes]]
            if len(item) != len(_TURN_FIELDS) + 1:
                raise ValueError(f"{len(item)} fields")
            item[_TS] = datetime.fromisoformat(item[_TS])
            item[-1] = _dumps(item[-1])
            turn_rows.append(tuple(item))
        except (ValueError, TypeError, KeyError, IndexError):
            log.warning("%s:%d: unreadable journal line skipped", path, number)
    if lines[-1]:
        log.warning("%s: incomplete last line (a crash mid-write) ignored", path)
    return epoch, turn_rows


def _uncommitted(path: Path, committed: str | None) -> tuple[str | None, list[tuple]]:
    """Turns journaled beside a store file and not in DuckDB, oldest first, and their last epoch.

    ``.journal.flushing`` is the generation a background flush was writing; it is skipped when its
    epoch is committed, or when ``.journal`` carries the same epoch (a failed flush merged back).
    """
    pending_epoch, pending = _read_journal(Path(f"{path}.journal.flushing"))
    epoch, current = _read_journal(Path(f"{path}.journal"))
    rows: list[tuple] = []
    if pending and pending_epoch not in (committed, epoch):
        rows += pending
    if current and epoch != committed:
        rows += current
    return (epoch if current else pending_epoch), rows


def _json_value(text: str | bytes) -> Any:
    """JSON text to embed in a document as a value: copied verbatim (orjson.Fragment) or parsed."""
    return _Fragment(text) if _Fragment is not None else _loads(text)


def _json_text_value(value: Any) -> Any:
    # A journal of version 2 embedded inputs/outputs as JSON values; older lines held JSON text.
    return _loads(value) if isinstance(value, str) else value


def _union_views(con: duckdb.DuckDBPyConnection, catalogs: list[str], versions: list[int], journal_turns: list[tuple]) -> None:
    """TEMP views ``turns``/``node_runs`` over every file plus unflushed journal rows (in a TEMP table).

    TEMP objects shadow the file's tables for unqualified names, so every reader query and ``trace sql``
    sees one table; sources are named with their catalog, or the view would bind to itself. Node runs
    come from the union's ``nodes`` column, plus the ``node_runs`` tables of version 1/2 files.
    """
    con.execute(f"CREATE TEMP TABLE journal_turns ({_TURN_COLUMNS_DDL})")
    if journal_turns:
        appender = con.appender("temp.main.journal_turns")
        appender.append_rows(journal_turns)
        appender.flush()
    sources = [f'SELECT * FROM "{c}".main.turns' for c in catalogs] + ["SELECT * FROM temp.main.journal_turns"]
    con.execute("CREATE TEMP VIEW turns AS " + " UNION ALL BY NAME ".join(sources))
    legacy = [f'SELECT * FROM "{c}".main.node_runs' for c, version in zip(catalogs, versions, strict=True) if version < 3]
    con.execute("CREATE TEMP VIEW node_runs AS " + " UNION ALL BY NAME ".join([_NODE_RUNS_SQL.format(turns="temp.main.turns"), *legacy]))


# ------------------------------------------------------- process-wide exit hooks

_WRITERS: weakref.WeakValueDictionary[str, TraceStore] = weakref.WeakValueDictionary()
_PREVIOUS_HANDLERS: dict[int, Any] = {}
_atexit_installed = False


def _close_all() -> None:
    for store in list(_WRITERS.values()):
        try:
            store.close()
        except Exception:  # noqa: BLE001 - at exit; the journal keeps what could not be flushed
            log.exception("trace store %s: close at exit failed", store.path)


def _on_signal(signum: int, frame: FrameType | None) -> None:
    for store in list(_WRITERS.values()):
        store._flush_from_signal()
    previous = _PREVIOUS_HANDLERS.get(signum)
    if callable(previous):  # e.g. Python's default SIGINT handler, which raises KeyboardInterrupt
        previous(signum, frame)
    elif previous != signal.SIG_IGN:  # SIG_DFL (or a C handler): die the way the signal would
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)


def _forget_writers_in_child() -> None:
    # A forked child must not flush (duplicate) its parent's buffered turns at its own exit.
    _WRITERS.clear()


def _install_exit_hooks() -> None:
    global _atexit_installed
    if not _atexit_installed:
        _atexit_installed = True
        atexit.register(_close_all)
        os.register_at_fork(after_in_child=_forget_writers_in_child)
    # signal.signal works only in the main thread; a store opened elsewhere relies on atexit + journal.
    if not _PREVIOUS_HANDLERS and threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            _PREVIOUS_HANDLERS[signum] = signal.getsignal(signum)
            signal.signal(signum, _on_signal)
