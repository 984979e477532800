"""Replay traced turns on the current (or an edited) config and diff them node by node.

The state before each turn is rebuilt from the trace (``state_before``), the turn runs on
the config being tested, and every node's outputs are compared with what was recorded.
Nodes marked ``nondeterministic`` (LLM calls) reuse their recorded outputs unless ``live``.
"""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from engine.executor import Executor, TurnResult
from engine.state import ConversationState
from engine.tracing import dumps

__all__ = ["FieldChange", "TurnReplay", "ReplaySummary", "Replayer", "TURN_FIELDS"]

#: Turn-level decisions summarised by ``replay --all``: name → where to read it.
TURN_FIELDS = ("intent", "state", "action", "reply")


@dataclass(frozen=True)
class FieldChange:
    node: str  # node id, or "turn" for turn-level fields
    field: str
    before: Any
    after: Any


@dataclass
class TurnReplay:
    conversation_id: str
    turn: int
    message: str
    changes: list[FieldChange] = field(default_factory=list)
    result: TurnResult | None = None

    @property
    def changed(self) -> bool:
        return bool(self.changes)

    def turn_changes(self) -> dict[str, FieldChange]:
        return {change.field: change for change in self.changes if change.node == "turn"}


@dataclass
class ReplaySummary:
    turns: int = 0
    changed_turns: int = 0
    by_field: Counter[str] = field(default_factory=Counter)
    by_node_field: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    changed: list[TurnReplay] = field(default_factory=list)

    def add(self, replay: TurnReplay, max_examples: int = 5) -> None:
        self.turns += 1
        if not replay.changed:
            return
        self.changed_turns += 1
        self.changed.append(replay)
        for change in replay.changes:
            if change.node == "turn":
                self.by_field[change.field] += 1
                bucket = self.examples.setdefault(change.field, [])
                if len(bucket) < max_examples:
                    bucket.append({"conversation": replay.conversation_id, "turn": replay.turn, "message": replay.message, "before": change.before, "after": change.after})
            else:
                self.by_node_field[f"{change.node}.{change.field}"] += 1

    def to_json(self) -> dict[str, Any]:
        return {
            "turns": self.turns,
            "changed_turns": self.changed_turns,
            "by_field": dict(self.by_field),
            "by_node_field": dict(self.by_node_field),
            "examples": self.examples,
            "changed": [{"conversation": r.conversation_id, "turn": r.turn, "fields": sorted({f"{c.node}.{c.field}" for c in r.changes})} for r in self.changed],
        }


#: Output keys that measure the clock, not the decision: never compared on replay.
#: Nodes report per-stage timings (``timings_us``, ``latency_ms``…) by these suffixes.
_VOLATILE_SUFFIXES = ("_us", "_ms", "_s")


def _is_volatile(key: object) -> bool:
    return isinstance(key, str) and key.endswith(_VOLATILE_SUFFIXES)


def _strip_volatile(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _strip_volatile(item) for key, item in value.items() if not _is_volatile(key)}
    if isinstance(value, list):
        return [_strip_volatile(item) for item in value]
    return value


def _normalise(value: Any) -> Any:
    """Round-trip through JSON so recorded and fresh values compare alike (tuples → lists…),
    dropping clock measurements (keys ending in ``_us``, ``_ms``, ``_s``)."""
    if isinstance(value, str):
        return value
    return _strip_volatile(json.loads(dumps(value)))


def _loads(text: Any, default: Any) -> Any:
    if text is None:
        return default
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return default


def _turn_time(ts: Any) -> str:
    if isinstance(ts, datetime):
        moment = ts if ts.tzinfo else ts.replace(tzinfo=UTC)
        return moment.astimezone(UTC).isoformat(timespec="microseconds")
    return str(ts)


class Replayer:
    """Replays turns from a read-only trace store through an executor on the tested config."""

    def __init__(self, executor: Executor, store: Any, *, live: bool = False, flag_overrides: Mapping[str, bool] | None = None, current_flags: Mapping[str, bool] | None = None) -> None:
        self.executor = executor
        self.store = store
        self.live = live
        self.flag_overrides = dict(flag_overrides or {})
        self.current_flags = dict(current_flags or {})

    def _flags(self, recorded: Mapping[str, bool]) -> dict[str, bool]:
        # Flags in force when the turn was recorded, for flags that still exist; new flags
        # take the tested config's value; explicit overrides win.
        flags = dict(self.current_flags)
        flags.update({name: value for name, value in recorded.items() if name in flags or not self.current_flags})
        flags.update(self.flag_overrides)
        return flags

    def _node_runs(self, conversation_id: str, turn: int, run_id: str | None) -> list[dict[str, Any]]:
        # Only outputs are compared, so the stored input references need not be resolved.
        return self.store.node_runs(conversation_id, turn, run_id=run_id, expand=False)

    def replay_turn(self, conversation_id: str, turn: int) -> TurnReplay:
        row = self.store.turn(conversation_id, turn)
        if row is None:
            from engine.errors import EngineError

            raise EngineError(f"no traced turn {turn} for conversation {conversation_id!r}")
        return self._replay_row(row)

    def _replay_row(self, row: Mapping[str, Any]) -> TurnReplay:
        conversation_id, turn = row["conversation_id"], int(row["turn"])
        before = ConversationState.model_validate_json(row["state_before"])
        recorded_runs = self._node_runs(conversation_id, turn, row.get("run_id"))
        recorded_outputs = {run["node_id"]: _loads(run["outputs"], {}) for run in recorded_runs}
        base_inputs = _loads(row.get("inputs"), {}) or {}
        result = self.executor.run_turn(
            before,
            row["message"],
            flags=self._flags(_loads(row.get("flags"), {}) or {}),
            dialogue_context=base_inputs.get("dialogue_context"),
            extra_inputs=base_inputs.get("extra_inputs"),
            turn_time=_turn_time(row["ts"]),
            recorded=None if self.live else recorded_outputs,
            replay=True,
        )
        replay = TurnReplay(conversation_id, turn, row["message"], result=result)
        replay.changes = list(self._diff(row, recorded_runs, result))
        return replay

    def _diff(self, row: Mapping[str, Any], recorded_runs: list[dict[str, Any]], result: TurnResult) -> Iterable[FieldChange]:
        fresh = {
            "intent": result.values.get("intent"),
            "state": result.conversation_after.state or None,
            "action": result.values.get("action"),
            "reply": result.response,
        }
        recorded = {"intent": row.get("intent"), "state": row.get("state"), "action": row.get("action"), "reply": row.get("response")}
        for name in TURN_FIELDS:
            if _normalise(recorded[name]) != _normalise(fresh[name]):
                yield FieldChange("turn", name, recorded[name], fresh[name])
        old = {run["node_id"]: run for run in recorded_runs}
        new = {run.node_id: run for run in result.runs}
        for node_id in list(old) + [n for n in new if n not in old]:
            if node_id not in new:
                yield FieldChange(node_id, "<node>", "present", "absent")
                continue
            if node_id not in old:
                yield FieldChange(node_id, "<node>", "absent", "present")
                continue
            was, now = old[node_id], new[node_id]
            was_status = "ok" if was["status"] == "replayed" else was["status"]
            now_status = "ok" if now.status == "replayed" else now.status
            if was_status != now_status:
                yield FieldChange(node_id, "status", was["status"], now.status)
            before_out = _strip_volatile(_loads(was["outputs"], {}) or {})
            after_out = _normalise(dict(now.outputs))
            for key in list(before_out) + [k for k in after_out if k not in before_out]:
                if _is_volatile(key):
                    continue
                if before_out.get(key) != after_out.get(key):
                    yield FieldChange(node_id, key, before_out.get(key), after_out.get(key))

    def replay_conversation(self, conversation_id: str, turn: int | None = None) -> list[TurnReplay]:
        if turn is not None:
            return [self.replay_turn(conversation_id, turn)]
        return [self._replay_row(row) for row in self.store.turns(conversation_id)]

    def replay_all(self, since: str | None = None, progress: Any = None) -> ReplaySummary:
        summary = ReplaySummary()
        sql = "SELECT conversation_id, turn FROM turns" + (" WHERE ts >= CAST(? AS TIMESTAMP)" if since else "") + " ORDER BY conversation_id, turn"
        _columns, rows = self.store.query(sql, [since] if since else None)
        for conversation_id, turn in rows:
            summary.add(self.replay_turn(conversation_id, int(turn)))
            if progress is not None:
                progress()
        return summary
