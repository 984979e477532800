"""DuckDB trace store: one row per turn and per node run, batched behind a crash journal."""
from __future__ import annotations

import atexit
import json
import logging
import operator
import os
import signal
import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import IO, Any

import duckdb

from engine.errors import EngineError

__all__ = ["TRACE_SCHEMA_VERSION", "NodeRunRecord", "TraceStore", "TurnRecord", "open_for_reading", "open_read_only_sql", "resolve_trace_path"]

log = logging.getLogger(__name__)

TRACE_SCHEMA_VERSION = 1
DEFAULT_TRACE_PATH = Path(".spinflow/traces.duckdb")

try:  # the journal line is most of record()'s cost: json.dumps ~40 us per 12-node turn; with orjson all of record() is ~20 us
    import orjson

    _dumps: Callable[[Any], bytes] = orjson.dumps
    _loads: Callable[[bytes], Any] = orjson.loads
except ImportError:
    _encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False).encode
    _dumps = lambda value: _encode(value).encode()  # noqa: E731
    _loads = json.loads


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
# node_runs also carries run_id (not in NodeRunRecord): turn_key repeats when a conversation id is
# traced by several runs (an eval run twice into one file), and run_id tells their node rows apart.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE IF NOT EXISTS turns (
    turn_key VARCHAR, run_id VARCHAR, conversation_id VARCHAR, turn INTEGER, ts TIMESTAMP,
    message VARCHAR, response VARCHAR, state_before VARCHAR, state_after VARCHAR,
    graph_id VARCHAR, graph_hash VARCHAR, config_hash VARCHAR, flags VARCHAR,
    duration_us DOUBLE, status VARCHAR, intent VARCHAR, state VARCHAR, action VARCHAR, inputs VARCHAR);
CREATE TABLE IF NOT EXISTS node_runs (
    turn_key VARCHAR, run_id VARCHAR, conversation_id VARCHAR, turn INTEGER, seq INTEGER,
    node_id VARCHAR, node_type VARCHAR, start_us DOUBLE, duration_us DOUBLE, status VARCHAR,
    inputs VARCHAR, outputs VARCHAR, error VARCHAR);
-- ART indexes on the single turn_key column: DuckDB uses an index only for a single-column
-- equality. Created up front, before the appends: benchmarks/trace_write.py measured them costing
-- 5-12% of a buffered 12-node turn (136 -> 142 us; 187 -> 207 us on a busier run), while a lookup of
-- one turn's node rows in 1M rows went from 5-17 ms (scan) to ~1.5 ms. Not worth deferring.
CREATE INDEX IF NOT EXISTS turns_turn_key ON turns (turn_key);
CREATE INDEX IF NOT EXISTS node_runs_turn_key ON node_runs (turn_key);
"""
_TURN_FIELDS = tuple(f.name for f in fields(TurnRecord))
_NODE_FIELDS = tuple(f.name for f in fields(NodeRunRecord))
_turn_row = operator.attrgetter(*_TURN_FIELDS)  # one C call instead of a tuple(getattr(...)) loop
_node_tail = operator.attrgetter(*_NODE_FIELDS[1:])
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
            self._appenders = (self._con.appender("turns"), self._con.appender("node_runs"))
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
        self._turn_rows: list[tuple] = []
        self._node_rows: list[tuple] = []
        self._journal_path = Path(f"{path}.journal")
        self._journal = None
        self._epoch = ""
        self._closed = False

    # ---------------------------------------------------------------- writing

    def record(self, turn: TurnRecord, nodes: Sequence[NodeRunRecord]) -> None:
        """Journal one turn (so a crash cannot lose it) and buffer its rows for the next flush.

        Raises ``EngineError`` if the flush this turn triggers fails; the turn is recorded all the
        same (journaled and buffered) and the flush is retried at the next flush point.
        """
        row = list(_turn_row(turn))
        ts = row[_TS]
        if ts.tzinfo is not None:
            row[_TS] = ts = ts.astimezone(UTC).replace(tzinfo=None)
        run_id = turn.run_id
        node_rows = [(n.turn_key, run_id, *_node_tail(n)) for n in nodes]
        row[_TS] = ts.isoformat()
        line = _dumps((row, node_rows)) + b"\n"
        row[_TS] = ts
        with self._lock:
            if self._journal is None:
                raise EngineError(f"trace store {self.path} is {'closed' if self._closed else 'read-only'}")
            self._journal.write(line)  # journal first: once this returns, a crash cannot lose the turn
            self._journal.flush()
            self._turn_rows.append(tuple(row))
            self._node_rows.extend(node_rows)
            if len(self._turn_rows) >= self.flush_every_turns:
                self._flush_locked()

    def flush(self) -> None:
        """Write buffered rows to DuckDB in one transaction, then empty the journal."""
        with self._lock:
            self._flush_locked()

    def close(self) -> None:
        """Flush, close DuckDB and delete the (now empty) journal. Idempotent."""
        with self._lock:
            if self._closed:
                return
            try:
                if not self.read_only:
                    self._flush_locked()  # if this raises, the journal stays for the next open
                    self._journal_path.unlink(missing_ok=True)
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
        if self.read_only or self._closed or not self._turn_rows:
            return
        turns_appender, nodes_appender = self._appenders
        con = self._con
        con.begin()
        try:
            turns_appender.append_rows(self._turn_rows)
            nodes_appender.append_rows(self._node_rows)
            turns_appender.flush()
            nodes_appender.flush()
            # Same transaction as the rows: if we die before the journal is emptied, the next open
            # sees this epoch as committed and does not replay (duplicate) its lines.
            # UPDATE of an existing row: measured ~0.7 ms against 2.6-9 ms for INSERT OR REPLACE.
            con.execute("UPDATE meta SET value = ? WHERE key = 'journal_epoch'", [self._epoch])
            con.commit()
        except duckdb.Error as e:
            try:
                con.rollback()
            except duckdb.Error:  # the failed statement may already have aborted the transaction
                pass
            turns_appender.clear()
            nodes_appender.clear()
            raise EngineError(f"trace store {self.path}: flush failed ({e}); the turns stay in {self._journal_path}") from e
        self._turn_rows.clear()
        self._node_rows.clear()
        if self._journal is not None:  # None only while replaying a leftover journal at open
            self._journal.truncate(0)
            self._start_journal()

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
        _check_version(self._con, "meta", self.path)

    def _recover_journal(self) -> None:
        epoch, turn_rows, node_rows = _read_journal(self._journal_path)
        if turn_rows and epoch != _meta(self._con, "meta", "journal_epoch"):
            log.warning("trace store %s: replaying %d turns from %s", self.path, len(turn_rows), self._journal_path)
            self._epoch = epoch or os.urandom(8).hex()
            self._turn_rows, self._node_rows = turn_rows, node_rows
            self._flush_locked()
        # Committed now (or earlier, if the epoch matched: we died between commit and truncate).
        self._journal_path.unlink(missing_ok=True)

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
            journal_nodes: list[tuple] = []
            for path, catalog in zip(paths, catalogs, strict=True):
                meta = f'"{catalog}".main.meta'
                _check_version(con, meta, path)
                epoch, turn_rows, node_rows = _read_journal(Path(f"{path}.journal"))
                if turn_rows and epoch != _meta(con, meta, "journal_epoch"):
                    # A crashed writer's turns: shown from TEMP tables, since we must not write the file.
                    journal_turns += turn_rows
                    journal_nodes += node_rows
            if len(catalogs) > 1 or journal_turns:
                _union_views(con, catalogs, journal_turns, journal_nodes)
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
        return self._dicts("SELECT * FROM turns WHERE conversation_id = ? ORDER BY turn, run_id, ts", [conversation_id])

    # Point lookups fetch every row of the turn_key and pick/sort in Python: with ORDER BY … LIMIT
    # or ORDER BY seq, DuckDB 2.0 rewrites the plan into scans and the ART index goes unused
    # (measured in 1M node rows: 4.6 ms instead of 0.95 ms for a turn).

    def turn(self, conversation_id: str, turn: int, run_id: str | None = None) -> dict | None:
        """One turn by ``turn_key`` (index probe): the latest run's (largest run_id) unless ``run_id`` is given."""
        rows = self._dicts("SELECT * FROM turns WHERE turn_key = ?", [f"{conversation_id}#{turn:06d}"])
        rows = [row for row in rows if run_id is None or row["run_id"] == run_id]
        return max(rows, key=lambda row: (row["run_id"], row["ts"])) if rows else None

    def node_runs(self, conversation_id: str, turn: int, run_id: str | None = None) -> list[dict]:
        """Node runs of one turn ordered by ``seq``: the latest run's unless ``run_id`` is given."""
        rows = self._dicts("SELECT * FROM node_runs WHERE turn_key = ?", [f"{conversation_id}#{turn:06d}"])
        if rows and run_id is None:
            run_id = max(row["run_id"] for row in rows)
        return sorted((row for row in rows if row["run_id"] == run_id), key=lambda row: row["seq"])

    def last_turn(self, conversation_id: str) -> dict | None:
        """The highest-numbered (then latest) turn of a conversation, or None."""
        rows = self._dicts("SELECT * FROM turns WHERE conversation_id = ? ORDER BY turn DESC, run_id DESC, ts DESC LIMIT 1", [conversation_id])
        return rows[0] if rows else None

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


def _meta(con: duckdb.DuckDBPyConnection, table: str, key: str) -> str | None:
    row = con.execute(f"SELECT value FROM {table} WHERE key = ?", [key]).fetchone()
    return None if row is None else row[0]


def _check_version(con: duckdb.DuckDBPyConnection, table: str, path: Path) -> None:
    # Version 1 is the first schema, so an older file cannot come from spinflow: refuse it. When a
    # version 2 exists, migrate here (writable opens only) inside one transaction.
    try:
        version = int(_meta(con, table, "schema_version") or 0)
    except duckdb.CatalogException as e:
        raise EngineError(f"{path} is not a spinflow trace store (no meta table)") from e
    if version > TRACE_SCHEMA_VERSION:
        raise EngineError(f"trace store {path} has schema version {version}, newer than this spinflow understands "
                          f"({TRACE_SCHEMA_VERSION}); upgrade spinflow or use --trace-db for a separate file")
    if version < TRACE_SCHEMA_VERSION:
        raise EngineError(f"trace store {path} has schema version {version}, older than {TRACE_SCHEMA_VERSION}; "
                          "no migration exists, use --trace-db for a separate file")


def _read_journal(path: Path) -> tuple[str | None, list[tuple], list[tuple]]:
    """Epoch and rows of a journal; a torn (crash-truncated) last line or a corrupt line is skipped."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None, [], []
    epoch: str | None = None
    turn_rows: list[tuple] = []
    node_rows: list[tuple] = []
    lines = data.split(b"\n")
    for number, line in enumerate(lines[:-1], 1):  # lines[-1] is "" or a write cut short by a crash
        try:
            item = _loads(line)
            if isinstance(item, dict):
                if item.get("schema_version") != TRACE_SCHEMA_VERSION:
                    raise EngineError(f"{path}: journal of schema version {item.get('schema_version')}; "
                                      f"this spinflow writes {TRACE_SCHEMA_VERSION}: open it with the spinflow that wrote it")
                epoch = item["epoch"]
                continue
            turn, nodes = item
            turn[_TS] = datetime.fromisoformat(turn[_TS])
            turn_rows.append(tuple(turn))
            node_rows.extend(tuple(node) for node in nodes)
        except (ValueError, TypeError, KeyError, IndexError):
            log.warning("%s:%d: unreadable journal line skipped", path, number)
    if lines[-1]:
        log.warning("%s: incomplete last line (a crash mid-write) ignored", path)
    return epoch, turn_rows, node_rows


def _union_views(con: duckdb.DuckDBPyConnection, catalogs: list[str],
                 journal_turns: list[tuple], journal_nodes: list[tuple]) -> None:
    """TEMP views ``turns``/``node_runs`` over every file plus unflushed journal rows (in TEMP tables).

    TEMP objects shadow the file's tables for unqualified names, so every reader query and ``trace sql``
    sees one table; sources are named with their catalog, or the view would bind to itself.
    """
    for table, rows in (("turns", journal_turns), ("node_runs", journal_nodes)):
        con.execute(f'CREATE TEMP TABLE journal_{table} AS SELECT * FROM "{catalogs[0]}".main.{table} LIMIT 0')
        if rows:
            appender = con.appender(f"temp.main.journal_{table}")
            appender.append_rows(rows)
            appender.flush()
        sources = [f'SELECT * FROM "{c}".main.{table}' for c in catalogs] + [f"SELECT * FROM temp.main.journal_{table}"]
        con.execute(f"CREATE TEMP VIEW {table} AS " + " UNION ALL BY NAME ".join(sources))


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
