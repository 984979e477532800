"""The trace hook: turns a ``TurnResult`` into trace-store rows after every turn."""
from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from engine.executor import TurnResult
from engine.trace_store import NodeRunRecord, TraceStore, TurnRecord

__all__ = ["TraceHook", "dumps", "new_run_id", "turn_key"]

try:  # orjson is ~5x faster than json for the per-node payloads; json is the fallback
    import orjson

    _OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY

    def dumps(value: Any) -> str:
        return orjson.dumps(value, default=_default, option=_OPTIONS).decode()

except ImportError:  # pragma: no cover - orjson is a declared dependency
    import json

    def dumps(value: Any) -> str:
        return json.dumps(value, default=_default, ensure_ascii=False)


def _default(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    if dump is not None:
        return dump(mode="json")
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def turn_key(conversation_id: str, turn: int) -> str:
    return f"{conversation_id}#{turn:06d}"


def new_run_id() -> str:
    """Time-sortable run id: microseconds since the epoch in hex plus the pid."""
    import os

    return f"{time.time_ns() // 1000:014x}-{os.getpid():x}"


class TraceHook:
    """Records every turn (and every node run) into a ``TraceStore``."""

    def __init__(self, store: TraceStore, run_id: str | None = None, capture_io: bool = True) -> None:
        self.store = store
        self.run_id = run_id or new_run_id()
        self.capture_io = capture_io

    def after_turn(self, *, result: TurnResult, **future: Any) -> None:
        key = turn_key(result.conversation_id, result.turn_index)
        capture = self.capture_io
        nodes = [
            NodeRunRecord(
                key, result.conversation_id, result.turn_index, run.seq, run.node_id, run.node_type,
                run.start_us, run.duration_us, run.status,
                dumps(run.inputs) if capture else "{}", dumps(run.outputs) if capture else "{}", run.error,
            )
            for run in result.runs
        ]
        values = result.values
        intent = values.get("intent")
        self.store.record(
            TurnRecord(
                turn_key=key,
                run_id=self.run_id,
                conversation_id=result.conversation_id,
                turn=result.turn_index,
                ts=datetime.fromisoformat(result.turn_time),
                message=result.message,
                response=result.response,
                state_before=result.conversation_before.model_dump_json(),
                state_after=result.conversation_after.model_dump_json(),
                graph_id=result.graph.name,
                graph_hash=result.graph.graph_hash,
                config_hash=result.graph.config_hash,
                flags=dumps(result.flags),
                duration_us=result.duration_us,
                status=result.status,
                intent=intent if isinstance(intent, str) else None,
                state=result.conversation_after.state or None,
                action=values.get("action") if isinstance(values.get("action"), str) else None,
                inputs=dumps({"dialogue_context": values.get("dialogue_context") or {}, "extra_inputs": {key: values.get(key) for key in result.graph.extra_inputs}}),
            ),
            nodes,
        )
