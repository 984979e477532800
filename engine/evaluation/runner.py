"""Run scripted dialogues through the turn graph and judge them: the work of one worker.

A worker (the CLI process itself, a forked/spawned process, or a Ray task) builds one
``Runtime`` per process and reuses it for every chunk it is given; each chunk writes its own
trace shard. Conversation ids come from dialogue ids, so seeds and therefore replies do not
depend on which worker ran a dialogue or in what order.
"""
from __future__ import annotations

import gc
import os
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.evaluation.judge import Check, TurnObservation, judge_outcome, judge_turn
from engine.evaluation.latency import LatencyHistogram
from engine.evaluation.spec import Dialogue

__all__ = ["RunSpec", "ChunkJob", "ChunkOutcome", "runtime_for", "adopt_runtime", "run_chunk", "run_dialogue", "observe", "strip_timings", "forget_runtimes"]


@dataclass(frozen=True)
class RunSpec:
    """How to build the runtime under test, in any process (picklable)."""

    config_dir: str | None = None
    graph: str | None = None
    flags: tuple[tuple[str, bool], ...] = ()  # overrides, sorted

    @classmethod
    def make(cls, config_dir: str | None, graph: str | None, flags: Mapping[str, bool] | None) -> RunSpec:
        return cls(str(config_dir) if config_dir else None, graph, tuple(sorted((flags or {}).items())))


@dataclass
class ChunkJob:
    index: int
    spec: RunSpec
    dialogues: list[Dialogue]
    shard: str | None  # trace shard path; None: no traces
    run_id: str


@dataclass
class ChunkOutcome:
    index: int
    results: list[dict[str, Any]]
    turn_latency: LatencyHistogram
    node_latency: dict[str, LatencyHistogram]
    startup_s: float  # building the runtime (0 when this process had it already)
    run_s: float
    pid: int = field(default_factory=os.getpid)
    shard: str | None = None


_RUNTIMES: dict[RunSpec, Any] = {}


def runtime_for(spec: RunSpec) -> Any:
    """This process's runtime for ``spec`` (built once; heavy models load on first use)."""
    runtime = _RUNTIMES.get(spec)
    if runtime is None:
        from engine.runtime import Runtime

        sessions = os.path.join(tempfile.gettempdir(), "spinflow-eval-sessions")  # never written: turns run on explicit states
        runtime = Runtime(spec.config_dir, spec.graph, trace=False, sessions_dir=sessions, flag_overrides=dict(spec.flags))
        _RUNTIMES[spec] = runtime
    return runtime


def forget_runtimes() -> None:
    """Drop this process's cached runtimes (tests that build many configs)."""
    for runtime in _RUNTIMES.values():
        runtime.close()
    _RUNTIMES.clear()


def adopt_runtime(spec: RunSpec, runtime: Any) -> None:
    """Register a runtime built elsewhere in this process (the CLI built it to check names)."""
    _RUNTIMES[spec] = runtime


def run_chunk(job: ChunkJob, progress: Callable[[int], None] | None = None) -> ChunkOutcome:
    """Run every dialogue of the chunk, tracing into its shard; ``progress(turns)`` per dialogue."""
    from engine.executor import Executor

    started = time.perf_counter()
    runtime = runtime_for(job.spec)
    ready = time.perf_counter()
    store = None
    hooks: list[Any] = []
    if job.shard:
        from engine.trace_store import TraceStore
        from engine.tracing import TraceHook

        trace = runtime.bundle.settings.trace
        store = TraceStore(job.shard, flush_every_turns=trace.flush_every_turns)
        hooks.append(TraceHook(store, run_id=job.run_id, capture_io=trace.capture_io))
    executor = Executor(runtime.graph, hooks)
    flags = runtime.flags.snapshot()
    turn_latency = LatencyHistogram()
    node_latency: dict[str, LatencyHistogram] = {}
    results = []
    frozen = False
    try:
        for dialogue in job.dialogues:
            results.append(run_dialogue(executor, dialogue, flags=flags, flow=runtime.bundle.settings.flow, turn_latency=turn_latency, node_latency=node_latency))
            if progress is not None:
                progress(len(dialogue.spec.turns))
            if not frozen:
                # After the first dialogue every lazily built resource exists. Config, indexes and
                # dictionaries are ~225k long-lived objects that each full collection would walk
                # again (20-40 ms a time); frozen, the collector skips them. Measured on the evals
                # set: 5-8% more turns/s and a lower p99.
                gc.collect()
                gc.freeze()
                frozen = True
    finally:
        if frozen:
            gc.unfreeze()  # the process (a test session, the CLI) may go on: let the collector see them again
        if store is not None:
            store.close()
        from engine.resources import persist_resources

        persist_resources()  # a forked worker ends without exit handlers: keep its caches (lemmas) now
    return ChunkOutcome(job.index, results, turn_latency, node_latency, ready - started, time.perf_counter() - ready, shard=job.shard)


def observe(number: int, client: str, result: Any, duration_ms: float) -> TurnObservation:
    """Read the turn's decisions from a ``TurnResult``; absent keys are tolerated."""
    values = result.values
    fallback = values.get("fallback")
    tier = reason = None
    tier_number: int | None = None
    if isinstance(fallback, Mapping) and fallback.get("tier") and fallback.get("triggered", True):
        # The fallback node writes {triggered, tier (1-4), name, reason}; tier 0 / untriggered = none used.
        tier = str(fallback.get("name") or fallback.get("tier"))
        tier_number = fallback.get("tier") if isinstance(fallback.get("tier"), int) else None
        reason = str(fallback["reason"]) if fallback.get("reason") is not None else None
    before = result.conversation_before.collected_data
    after = result.conversation_after.collected_data
    changed = sorted(key for key, value in after.items() if key not in before or before[key] != value)
    intent, action, template = values.get("intent"), values.get("action"), values.get("template_id")
    return TurnObservation(
        turn=number,
        client=client,
        intent=intent if isinstance(intent, str) else None,
        state=result.conversation_after.state,
        action=action if isinstance(action, str) else None,
        reply=result.response,
        tier=tier,
        tier_number=tier_number,
        fallback_reason=reason,
        template_id=template if isinstance(template, str) else None,
        status=result.status,
        errors=[f"{run.node_id}: {run.error}" for run in result.runs if run.error],
        duration_ms=round(duration_ms, 4),
        data_changed=changed,
    )


def run_dialogue(
    executor: Any,
    dialogue: Dialogue,
    *,
    flags: Mapping[str, bool],
    flow: str,
    turn_latency: LatencyHistogram | None = None,
    node_latency: dict[str, LatencyHistogram] | None = None,
) -> dict[str, Any]:
    """Play one dialogue from a fresh conversation and judge it; returns its JSON result."""
    from engine.runtime import coerce_message
    from engine.state import ConversationState

    state = ConversationState(conversation_id=dialogue.conversation_id, flow=flow)
    turns: list[dict[str, Any]] = []
    observed: list[TurnObservation] = []
    checks: list[Check] = []
    for number, turn in enumerate(dialogue.spec.turns, start=1):
        started = time.perf_counter()
        try:
            result = executor.run_turn(state, coerce_message(turn.client), flags=flags)
        except Exception as exc:  # noqa: BLE001 - a hook or the executor itself failed: the dialogue ends here
            seen = TurnObservation(number, turn.client, None, state.state, None, "", status="crashed", errors=[f"{type(exc).__name__}: {exc}"])
            turn_checks = judge_turn(turn.expect, seen)
            observed.append(seen)
            checks += turn_checks
            turns.append({**seen.to_json(), "checks": [c.to_json() for c in turn_checks]})
            break
        elapsed_us = (time.perf_counter() - started) * 1e6
        if turn_latency is not None:
            turn_latency.add(elapsed_us)
        if node_latency is not None:
            for run in result.runs:
                if run.status != "skipped":
                    node_latency.setdefault(run.node_id, LatencyHistogram()).add(run.duration_us)
        seen = observe(number, turn.client, result, elapsed_us / 1000)
        state = result.conversation_after
        turn_checks = judge_turn(turn.expect, seen)
        observed.append(seen)
        checks += turn_checks
        turns.append({**seen.to_json(), "checks": [c.to_json() for c in turn_checks]})
    outcome_checks = judge_outcome(dialogue.spec.outcome, observed)
    checks += outcome_checks
    return {
        "id": dialogue.id,
        "persona": dialogue.spec.persona,
        "file": dialogue.file,
        "line": dialogue.line,
        "turn_lines": list(dialogue.turn_lines),
        "conversation_id": dialogue.conversation_id,
        "passed": all(check.passed for check in checks),
        "turns": turns,
        "outcome_checks": [check.to_json() for check in outcome_checks],
        "final_state": observed[-1].state if observed else "",
    }


def strip_timings(results: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Results without durations: what must be identical whatever the engine and workers."""
    out = []
    for result in results:
        copy = dict(result)
        copy["turns"] = [{k: v for k, v in turn.items() if k != "duration_ms"} for turn in result["turns"]]
        out.append(copy)
    return sorted(out, key=lambda item: item["id"])
