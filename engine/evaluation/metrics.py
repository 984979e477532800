"""Dialogue-level metrics of an evaluation run, and where their definitions come from.

Definitions (thresholds and state lists in ``evals/metrics.yaml``):

* **pass rate** — dialogues whose every check passed (each turn's ``clean`` plus every
  expectation and outcome) / dialogues.
* **per-expectation accuracy** — for each key (``intent``, ``state``, ``action``,
  ``contains``, ``not_contains``, ``tier``, ``clean``, ``outcome.*``): passed / checked.
* **phases reached** — for each phase state (the flow's ``phases`` order unless the metrics
  file lists them): the share of dialogues in which some turn ended in that state.
* **stall** — a run of ``stall_turns`` (default 3) or more consecutive turns ending in the
  same non-terminal state where no turn after the first made progress (progress: the
  collected data gained or changed a value, or the bot answered with a different action
  than on the previous turn). Stall rate = dialogues with at least one stall / dialogues.
* **loop** — a turn entering a phase state that comes earlier in the phase order than the
  phase state the dialogue was in last (e.g. ``spin_problem`` → ``soft_close`` →
  ``spin_situation``). Loop rate = dialogues with at least one loop / dialogues.
* **fallback rate** — turns on which a fallback tier was used (the ``fallback`` key written
  by the fallback node: ``{tier, reason}``) / turns; ``null`` when the graph has no node
  writing ``fallback``. Tier counts are reported alongside.
* **soft-close rate** / **success rate** — dialogues that visited one of the
  ``soft_close_states`` / ``success_states`` / dialogues.
* **latency** — wall time of each turn including trace capture (p50/p95/p99, ms) and each
  node's own duration (p50/p95, ms), from mergeable histograms (within 2%).
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from engine.config import ConfigBundle, validate_model
from engine.errors import ConfigIssue
from engine.evaluation.latency import LatencyHistogram
from engine.registry import suggest
from engine.yaml_loader import load_yaml

__all__ = ["MetricSettings", "MetricDefinitions", "load_metric_definitions", "dialogue_events", "summarise"]


class MetricSettings(BaseModel):
    """``evals/metrics.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    version: Literal[1] = 1
    stall_turns: int = Field(3, ge=2, description="same state this many consecutive turns without progress is a stall")
    phases: list[str] = Field(default_factory=list, description="phase states in order; empty: the flow's phase states")
    soft_close_states: list[str] = Field(default_factory=lambda: ["soft_close"])
    success_states: list[str] = Field(default_factory=lambda: ["success"])
    terminal_states: list[str] = Field(default_factory=list, description="never stalls; empty: the flow's final states")


@dataclass(frozen=True)
class MetricDefinitions:
    stall_turns: int
    phases: tuple[str, ...]
    soft_close_states: frozenset[str]
    success_states: frozenset[str]
    terminal_states: frozenset[str]


def load_metric_definitions(path: str | Path | None, bundle: ConfigBundle) -> tuple[MetricDefinitions, list[ConfigIssue]]:
    """Read the metrics file (defaults when ``path`` is None) and resolve it against the flow."""
    issues: list[ConfigIssue] = []
    settings = MetricSettings.model_validate({})
    doc = None
    if path is not None:
        doc, issues = load_yaml(Path(path), shown_as=str(path))
        if doc is not None:
            parsed, more = validate_model(doc, MetricSettings)
            issues += more
            settings = parsed or settings
    flows = bundle.section("flows")
    flow = flows.get(bundle.settings.flow) if isinstance(flows, Mapping) else None
    states = getattr(flow, "states", None) or {}
    phases = list(settings.phases)
    phase_states = getattr(flow, "phase_states", None)
    if not phases and callable(phase_states):
        phases = list(phase_states())
    terminal = set(settings.terminal_states) or {name for name, state in states.items() if getattr(state, "final", False)}
    if doc is not None and states:
        for key in ("phases", "soft_close_states", "success_states", "terminal_states"):
            for index, name in enumerate(getattr(settings, key)):
                if name not in states:
                    issues.append(doc.issue((key, index), f"unknown state '{name}'", suggest(name, states) or f"States of flow '{bundle.settings.flow}': {', '.join(states)}"))
    definitions = MetricDefinitions(settings.stall_turns, tuple(phases), frozenset(settings.soft_close_states), frozenset(settings.success_states), frozenset(terminal))
    return definitions, issues


def dialogue_events(turns: Sequence[Mapping[str, Any]], definitions: MetricDefinitions) -> dict[str, Any]:
    """Stalls, loops and visited states of one dialogue's observed turns."""
    rank = {state: index for index, state in enumerate(definitions.phases)}
    stalls: list[dict[str, Any]] = []
    loops: list[dict[str, Any]] = []
    run = 0
    last_phase: str | None = None
    previous: Mapping[str, Any] | None = None
    for turn in turns:
        state = turn["state"]
        progress = bool(turn.get("data_changed")) or (previous is not None and turn.get("action") != previous.get("action"))
        if previous is not None and state == previous["state"] and not progress:
            run += 1
        else:
            run = 1
        if run == definitions.stall_turns and state not in definitions.terminal_states:
            stalls.append({"turn": turn["turn"], "state": state, "turns": run})
        if state in rank:
            if last_phase is not None and rank[state] < rank[last_phase]:
                loops.append({"turn": turn["turn"], "from": last_phase, "to": state})
            last_phase = state
        previous = turn
    visited = list(dict.fromkeys(turn["state"] for turn in turns))
    return {
        "stalls": stalls,
        "loops": loops,
        "visited": visited,
        "soft_closed": any(state in definitions.soft_close_states for state in visited),
        "succeeded": any(state in definitions.success_states for state in visited),
    }


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def summarise(
    results: Sequence[dict[str, Any]],
    *,
    definitions: MetricDefinitions,
    turn_latency: LatencyHistogram,
    node_latency: Mapping[str, LatencyHistogram],
    wall_s: float,
    fallback_in_graph: bool,
    meta: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The report: headline numbers, per-expectation and per-persona tables, per-dialogue results.

    Adds ``events`` (stalls, loops, visited, soft_closed, succeeded) to each result in place.
    """
    results = sorted(results, key=lambda item: item["id"])
    checks: Counter[str] = Counter()
    passed_checks: Counter[str] = Counter()
    personas: dict[str, list[bool]] = {}
    tiers: Counter[str] = Counter()
    turns = fallback_turns = 0
    stalled = looped = soft_closed = succeeded = 0
    reached: Counter[str] = Counter()
    for result in results:
        events = dialogue_events(result["turns"], definitions)
        result["events"] = events
        stalled += bool(events["stalls"])
        looped += bool(events["loops"])
        soft_closed += events["soft_closed"]
        succeeded += events["succeeded"]
        reached.update(state for state in events["visited"] if state in definitions.phases)
        personas.setdefault(result["persona"], []).append(result["passed"])
        for turn in result["turns"]:
            turns += 1
            if turn.get("tier"):
                fallback_turns += 1
                tiers[turn["tier"]] += 1
            for check in turn["checks"]:
                checks[check["key"]] += 1
                passed_checks[check["key"]] += check["passed"]
        for check in result["outcome_checks"]:
            checks[check["key"]] += 1
            passed_checks[check["key"]] += check["passed"]
    dialogues = len(results)
    passed = sum(result["passed"] for result in results)
    latency = turn_latency.summary_ms()
    return {
        "version": 1,
        **dict(meta or {}),
        "dialogues": dialogues,
        "passed": passed,
        "pass_rate": _rate(passed, dialogues),
        "turns": turns,
        "wall_s": round(wall_s, 3),
        "turns_per_s": round(turns / wall_s, 1) if wall_s > 0 else 0.0,
        "latency_ms": {"p50": latency["p50"], "p95": latency["p95"], "p99": latency["p99"], "mean": latency["mean"], "max": latency["max"]},
        "per_expectation": {key: {"checked": checks[key], "passed": passed_checks[key], "accuracy": _rate(passed_checks[key], checks[key])} for key in sorted(checks)},
        "per_persona": {name: {"dialogues": len(flags), "passed": sum(flags), "pass_rate": _rate(sum(flags), len(flags))} for name, flags in sorted(personas.items())},
        "phases_reached": {phase: _rate(reached[phase], dialogues) for phase in definitions.phases},
        "stall_rate": _rate(stalled, dialogues),
        "loop_rate": _rate(looped, dialogues),
        "fallback_rate": _rate(fallback_turns, turns) if fallback_in_graph else None,
        "fallback_tiers": dict(tiers.most_common()),
        "soft_close_rate": _rate(soft_closed, dialogues),
        "success_rate": _rate(succeeded, dialogues),
        "definitions": {"stall_turns": definitions.stall_turns, "phases": list(definitions.phases), "soft_close_states": sorted(definitions.soft_close_states),
                        "success_states": sorted(definitions.success_states), "terminal_states": sorted(definitions.terminal_states)},
        "node_latency_ms": {node: {"p50": h.summary_ms()["p50"], "p95": h.summary_ms()["p95"], "runs": h.count} for node, h in node_latency.items()},
        "results": results,
    }
