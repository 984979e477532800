"""The trace hook: turns a ``TurnResult`` into trace-store rows after every turn.

A node's inputs are almost all values recorded elsewhere in the same turn: another node's
output (``classification`` is read by eleven refinement layers) or a field of the
conversation before the turn (``conv.*``, stored once in the turn row's ``state_before``).
Such inputs are stored as references, ``{"@ref": ["classification", "conv.state"]}``: each the
value as it stood before the node ran (the latest earlier output of that key, else the
conversation before the turn), decided by object identity with the value recorded at that
source, so nothing is lost: ``TraceStore.node_runs`` puts the values back. Measured on the 199
turns of ``evals/dialogues``: 44 KB of inputs per turn became ~7 KB with the source named per
key (trace schema 2-3), ~3 KB as a key list (schema 4).
Likewise a list output that extends the same key's latest earlier output (``refinement_chain``,
re-emitted by every refinement layer with one entry more) is stored as its new tail plus
``{"@extend": {"refinement_chain": "refine_greeting"}}``; ``node_runs`` rebuilds it.

All node runs of a turn are serialised by one orjson call into the JSON array the store keeps in
the turn's row (``NODE_RUN_FIELDS``): ~110 us per 33-node turn against ~140 us for two calls per node.
"""
from __future__ import annotations

import operator
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from engine.executor import TurnResult
from engine.trace_store import INPUT_REFS, OUTPUT_EXTENDS, STATE_BEFORE, TraceStore, TurnRecord

__all__ = ["INPUT_REFS", "OUTPUT_EXTENDS", "STATE_BEFORE", "TraceHook", "dumps", "dumps_bytes", "new_run_id", "node_inputs", "node_payloads", "turn_key"]
_CONV = "conv."
_MISSING = object()
_EMPTY: dict[str, Any] = {}

try:  # orjson is ~5x faster than json for the per-node payloads; json is the fallback
    import orjson

    _OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY
    _FAST = orjson.OPT_SERIALIZE_NUMPY

    def dumps_bytes(value: Any) -> bytes:
        """UTF-8 JSON of a traced value; pydantic models, sets and other objects are converted."""
        # OPT_NON_STR_KEYS costs ~30% on every dict; only a payload with a non-str key needs it.
        try:
            return orjson.dumps(value, default=_default, option=_FAST)
        except TypeError:
            return orjson.dumps(value, default=_default, option=_OPTIONS)

    def dumps(value: Any) -> str:
        return dumps_bytes(value).decode()

except ImportError:  # pragma: no cover - orjson is a declared dependency
    import json

    def dumps(value: Any) -> str:
        return json.dumps(value, default=_default, ensure_ascii=False)

    def dumps_bytes(value: Any) -> bytes:
        return dumps(value).encode()


def _default(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    if dump is not None:
        return dump(mode="json")
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def node_inputs(result: TurnResult) -> list[dict[str, Any]]:
    """Per run, the inputs to store: values recorded elsewhere in the turn become references."""
    return [inputs for inputs, _outputs in node_payloads(result)]


def node_payloads(result: TurnResult) -> list[tuple[dict[str, Any], Mapping[str, Any]]]:
    """Per run, the (inputs, outputs) to store.

    Inputs: an input is a reference (its key listed under ``INPUT_REFS``) only when it *is*
    (identity, not equality) the value its source recorded: the latest output of that key by an
    earlier node, or the conversation field before the turn; anything else (base keys such as
    ``message``, the executor's ``error``) stays inline.

    Outputs: a list output whose leading items *are* (identity again) the items of the latest
    earlier output of the same key by another node is stored as its new tail plus
    ``OUTPUT_EXTENDS`` naming that node: each refinement layer re-emits ``refinement_chain`` with
    one entry appended, so 11 layers wrote 1+2+…+12 entries (~11.5 of ~27 KB per turn) where 12
    are new.
    """
    # Where each key's value comes from: the conversation before the turn (conv.<field>; pydantic
    # keeps the fields in __dict__) until a node outputs the key, then the latest node that did.
    source_value: dict[str, Any] = {_CONV + name: value for name, value in vars(result.conversation_before).items()}
    source_by: dict[str, str] = dict.fromkeys(source_value, STATE_BEFORE)
    value_of, is_same = source_value.get, operator.is_
    stored: list[tuple[dict[str, Any], Mapping[str, Any]]] = []
    for run in result.runs:
        inputs = run.inputs
        if inputs:
            inline: dict[str, Any] = {}
            refs: list[str] = []  # each the value as it stood before the run: source_by[key] is implied
            for key, value in inputs.items():
                if value_of(key, _MISSING) is value:
                    refs.append(key)
                else:
                    inline[key] = value
            if refs:
                inline[INPUT_REFS] = refs
        else:
            inline = _EMPTY
        outputs = run.outputs or _EMPTY
        if outputs:
            kept: dict[str, Any] | None = None
            for key, value in outputs.items():
                if type(value) is list:
                    prior = value_of(key)
                    # Only another node's output is a head: it is serialised with the tail, in the same
                    # call, so both show the list as it stands then (state_before may be older).
                    if type(prior) is list and prior is not value and 0 < len(prior) <= len(value) \
                            and source_by[key] != STATE_BEFORE and all(map(is_same, prior, value)):
                        if kept is None:
                            kept = {**outputs, OUTPUT_EXTENDS: {}}
                        kept[key] = value[len(prior):]
                        kept[OUTPUT_EXTENDS][key] = source_by[key]
            source_value.update(outputs)
            source_by.update(dict.fromkeys(outputs, run.node_id))
            if kept is not None:
                outputs = kept
        stored.append((inline, outputs))
    return stored


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
        # The conversation after the last recorded turn and its JSON: the next turn of that
        # conversation starts from that very object, so its state_before is not serialised twice.
        self._last_after: tuple[Any, str] | None = None

    def after_turn(self, *, result: TurnResult, **future: Any) -> None:
        key = turn_key(result.conversation_id, result.turn_index)
        # One array per run in the store's field order (NODE_RUN_FIELDS), all runs in one orjson call.
        if self.capture_io:
            runs = [(run.seq, run.node_id, run.node_type, run.start_us, run.duration_us, run.status, inputs, outputs, run.error)
                    for run, (inputs, outputs) in zip(result.runs, node_payloads(result), strict=True)]
        else:
            runs = [(run.seq, run.node_id, run.node_type, run.start_us, run.duration_us, run.status, _EMPTY, _EMPTY, run.error) for run in result.runs]
        values = result.values
        intent = values.get("intent")
        last = self._last_after
        before = result.conversation_before
        state_before = last[1] if last is not None and last[0] is before else before.model_dump_json()
        state_after = result.conversation_after.model_dump_json()
        self._last_after = (result.conversation_after, state_after)
        self.store.record_encoded(
            TurnRecord(
                turn_key=key,
                run_id=self.run_id,
                conversation_id=result.conversation_id,
                turn=result.turn_index,
                ts=datetime.fromisoformat(result.turn_time),
                message=result.message,
                response=result.response,
                state_before=state_before,
                state_after=state_after,
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
            dumps_bytes(runs),
        )
