"""Run one turn through a compiled graph: fixed order, per-node timing, failure policy."""
from __future__ import annotations

import time
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from engine.errors import PatchError
from engine.graph import CompiledGraph
from engine.node import NodeContext, StateView
from engine.state import CONVERSATION_PREFIX, ConversationState

__all__ = ["Executor", "Hook", "NodeRun", "TurnResult"]


class Hook(Protocol):
    """Observer of execution. Every method takes keyword-only arguments plus ``**future``.

    ``before_node`` may return a token that is handed back to ``after_node``.
    """

    def before_node(self, *, node_id: str, node_type: str, inputs: Mapping[str, Any], **future: Any) -> Any: ...

    def after_node(self, *, token: Any, run: NodeRun, **future: Any) -> None: ...

    def after_turn(self, *, result: TurnResult, **future: Any) -> None: ...


@dataclass(slots=True)
class NodeRun:
    seq: int
    node_id: str
    node_type: str
    start_us: float
    duration_us: float
    status: str  # ok | skipped | error | replayed
    inputs: Mapping[str, Any]
    outputs: Mapping[str, Any]
    error: str | None = None


@dataclass(slots=True)
class TurnResult:
    conversation_id: str
    turn_index: int
    message: str
    values: dict[str, Any]
    runs: list[NodeRun]
    conversation_before: ConversationState
    conversation_after: ConversationState
    flags: Mapping[str, bool]
    turn_time: str
    duration_us: float
    status: str  # ok | degraded
    graph: CompiledGraph = field(repr=False)

    @property
    def response(self) -> str:
        return str(self.values.get("response") or "")

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)


@dataclass(frozen=True, slots=True)
class _Step:
    """What the loop needs of one compiled node, looked up once at build time."""

    node: Any
    node_id: str
    type_name: str
    reads: frozenset[str]
    writes: frozenset[str]
    run: Any  # the node instance's bound ``run``
    # A node's seed is zlib.crc32 rather than hash() (Python's str hash is salted per process):
    # the turn part is computed once per turn, the node part continues the same CRC over these bytes.
    seed_bytes: bytes  # node id, UTF-8
    replayable: bool  # nondeterministic: recorded outputs are reused on replay


class Executor:
    """Runs turns over one compiled graph. Build once; ``run_turn`` is re-entrant."""

    def __init__(self, graph: CompiledGraph, hooks: Sequence[Any] = ()) -> None:
        self.graph = graph
        self.hooks = list(hooks)
        self._node_hooks = [hook for hook in self.hooks if hasattr(hook, "before_node") or hasattr(hook, "after_node")]
        self._settings = graph.bundle.settings.model_dump()
        # Only conversation fields some node may write can change; compare just those.
        written = set().union(*(node.writes for node in graph.order)) if graph.order else set()
        self._conv_fields = tuple(
            name for name in ConversationState.model_fields
            if CONVERSATION_PREFIX + name in written and name not in ("conversation_id", "version", "turn_count", "updated_at")
        )
        self._steps = tuple(
            _Step(node, node.node_id, node.type_name, node.reads, node.writes, node.instance.run, node.node_id.encode(), bool(node.nondeterministic))
            for node in graph.order
        )
        # Which nodes run depends only on the flags their ``when:`` names: decided once per
        # combination of those flags (normally one per process), not per node per turn.
        self._when_names = tuple(sorted(set().union(*(node.when.names for node in graph.order if node.when is not None))))
        self._plans: dict[tuple[bool, ...], tuple[bool, ...]] = {}
        self._after_turn = [hook.after_turn for hook in self.hooks if getattr(hook, "after_turn", None) is not None]

    def _plan(self, flags: Mapping[str, bool]) -> tuple[bool, ...]:
        """Per step: does it run under ``flags``?"""
        key = tuple(bool(flags.get(name, False)) for name in self._when_names)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = tuple(step.node.when is None or bool(step.node.when.evaluate(flags)) for step in self._steps)
        return plan

    def run_turn(
        self,
        conversation: ConversationState,
        message: str,
        *,
        flags: Mapping[str, bool],
        dialogue_context: Mapping[str, Any] | None = None,
        turn_time: str | None = None,
        extra_inputs: Mapping[str, Any] | None = None,
        recorded: Mapping[str, Mapping[str, Any]] | None = None,
        replay: bool = False,
    ) -> TurnResult:
        """Run every node in topological order and return the turn's result.

        ``recorded`` maps node ids to outputs captured earlier; nondeterministic nodes
        (LLM calls) found there are not executed but their outputs reused ("replayed").
        The conversation passed in is never mutated; the result carries the new one.
        """
        started = time.perf_counter()
        turn_index = conversation.turn_count + 1
        conversation_id = conversation.conversation_id
        turn_time = turn_time or datetime.now(UTC).isoformat(timespec="microseconds")
        values: dict[str, Any] = conversation.conv_values()
        values["message"] = message
        values["turn_index"] = turn_index
        values["turn_time"] = turn_time
        values["dialogue_context"] = dict(dialogue_context or {})
        values["conversation_id"] = conversation_id
        if extra_inputs:
            values.update(extra_inputs)
        runs: list[NodeRun] = []
        turn_seed = zlib.crc32(f"{conversation_id}\x1f{turn_index}\x1f".encode())
        degraded = False
        node_hooks = self._node_hooks
        settings = self._settings
        clock = time.perf_counter
        crc32 = zlib.crc32
        for seq, (step, active) in enumerate(zip(self._steps, self._plan(flags), strict=True)):
            node_start = clock()
            if not active:
                runs.append(NodeRun(seq, step.node_id, step.type_name, (node_start - started) * 1e6, 0.0, "skipped", {}, {}, None))
                continue
            reads = step.reads
            inputs = {key: values[key] for key in reads if key in values}
            tokens = [hook.before_node(node_id=step.node_id, node_type=step.type_name, inputs=inputs) for hook in node_hooks] if node_hooks else ()
            error: str | None = None
            status = "ok"
            if recorded is not None and step.replayable and step.node_id in recorded:
                patch: Mapping[str, Any] = dict(recorded[step.node_id])
                status = "replayed"
            else:
                ctx = NodeContext(conversation_id, turn_index, step.node_id, flags, crc32(step.seed_bytes, turn_seed), settings, replay)
                try:
                    patch = step.run(StateView(inputs, reads, step.node_id), ctx) or {}
                    if not patch.keys() <= step.writes:
                        outside = [key for key in patch if key not in step.writes]
                        raise PatchError(step.node_id, step.type_name, f"patch writes {', '.join(repr(k) for k in sorted(outside))} outside its declared writes {sorted(step.writes)}")
                except Exception as exc:  # noqa: BLE001 - the failure policy decides, the trace records
                    degraded = True
                    status = "error"
                    error = f"{type(exc).__name__}: {exc}"
                    patch = self._on_error(step.node, error, values)
            values.update(patch)
            run = NodeRun(seq, step.node_id, step.type_name, (node_start - started) * 1e6, (clock() - node_start) * 1e6, status, inputs, patch, error)
            runs.append(run)
            if node_hooks:
                for hook, token in zip(node_hooks, tokens, strict=True):
                    hook.after_node(token=token, run=run)
        conversation_after = self._commit(conversation, values, turn_index, turn_time, self._conv_fields)
        result = TurnResult(
            conversation_id, turn_index, message, values, runs, conversation, conversation_after, flags, turn_time,
            (clock() - started) * 1e6, "degraded" if degraded else "ok", self.graph,
        )
        for after_turn in self._after_turn:
            after_turn(result=result)
        return result

    @staticmethod
    def _on_error(node: Any, error: str, values: dict[str, Any]) -> Mapping[str, Any]:
        policy = node.spec.on_error
        if policy == "default":
            return dict(node.spec.default)
        if policy == "fallback":
            values["error"] = {"node": node.node_id, "type": node.type_name, "error": error}
        return {}

    @staticmethod
    def _commit(conversation: ConversationState, values: Mapping[str, Any], turn_index: int, turn_time: str, fields: Sequence[str]) -> ConversationState:
        update: dict[str, Any] = {"turn_count": turn_index, "updated_at": turn_time}
        # The reply is the engine's one output contract, so the runtime (not some node) keeps
        # it as the conversation's last bot message for the next turn's context.
        response = values.get("response")
        if isinstance(response, str) and response:
            update["last_bot_message"] = response
        for name in fields:
            value = values.get(CONVERSATION_PREFIX + name)
            if value is not getattr(conversation, name):
                update[name] = value
        return conversation.model_copy(update=update)
