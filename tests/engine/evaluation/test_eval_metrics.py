"""Dialogue metrics by their documented definitions, and the mergeable latency histogram."""
from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from engine.config import ConfigBundle, default_config_dir
from engine.evaluation.latency import LatencyHistogram
from engine.evaluation.metrics import MetricDefinitions, dialogue_events, load_metric_definitions, summarise

DEFS = MetricDefinitions(
    stall_turns=3,
    phases=("greeting", "spin_situation", "spin_problem", "spin_implication", "presentation", "close"),
    soft_close_states=frozenset({"soft_close"}),
    success_states=frozenset({"success"}),
    terminal_states=frozenset({"success", "escalated"}),
)


def turns(*steps: tuple[str, str] | tuple[str, str, list[str]]) -> list[dict[str, Any]]:
    out = []
    for number, step in enumerate(steps, start=1):
        state, action = step[0], step[1]
        data = step[2] if len(step) > 2 else []
        out.append({"turn": number, "state": state, "action": action, "data_changed": data, "tier": None,
                    "checks": [{"key": "clean", "passed": True}]})
    return out


def test_stall_needs_three_same_state_turns_without_progress() -> None:
    stalled = turns(("greeting", "greet"), ("spin_problem", "ask_problem"), ("spin_problem", "ask_problem"), ("spin_problem", "ask_problem"),
                    ("spin_problem", "ask_problem"))
    events = dialogue_events(stalled, DEFS)
    assert events["stalls"] == [{"turn": 4, "state": "spin_problem", "turns": 3}]  # counted once per run
    # new data or a different action is progress
    moving = turns(("spin_problem", "ask_problem"), ("spin_problem", "ask_problem", ["company_size"]), ("spin_problem", "ask_problem"))
    assert dialogue_events(moving, DEFS)["stalls"] == []
    answering = turns(("presentation", "present"), ("presentation", "answer_price"), ("presentation", "answer_features"))
    assert dialogue_events(answering, DEFS)["stalls"] == []
    # terminal states never stall
    done = turns(("success", "confirm_contact"), ("success", "confirm_contact"), ("success", "confirm_contact"))
    assert dialogue_events(done, DEFS)["stalls"] == []


def test_loop_is_a_return_to_an_earlier_phase() -> None:
    looped = turns(("greeting", "greet"), ("spin_problem", "ask_problem"), ("soft_close", "soft_close"), ("spin_situation", "ask_situation"),
                   ("spin_problem", "ask_problem"))
    events = dialogue_events(looped, DEFS)
    assert events["loops"] == [{"turn": 4, "from": "spin_problem", "to": "spin_situation"}]
    assert events["soft_closed"] is True and events["succeeded"] is False
    assert events["visited"] == ["greeting", "spin_problem", "soft_close", "spin_situation"]
    detour = turns(("spin_problem", "ask_problem"), ("handle_objection", "handle_price_objection"), ("spin_problem", "ask_problem"),
                   ("presentation", "present"), ("close", "ask_contact"), ("success", "confirm_contact"))
    events = dialogue_events(detour, DEFS)
    assert events["loops"] == [] and events["succeeded"] is True


def result(dialogue_id: str, persona: str, passed: bool, steps: list[dict[str, Any]], outcome_passed: bool | None = None) -> dict[str, Any]:
    outcome = [] if outcome_passed is None else [{"key": "outcome.final_state", "passed": outcome_passed}]
    return {"id": dialogue_id, "persona": persona, "passed": passed, "turns": steps, "outcome_checks": outcome}


def test_summary_numbers() -> None:
    a = turns(("greeting", "greet"), ("spin_problem", "ask_problem"), ("presentation", "present"), ("success", "confirm_contact"))
    a[1]["checks"].append({"key": "state", "passed": True})
    a[2]["tier"] = "generic"
    b = turns(("greeting", "greet"), ("spin_problem", "ask_problem"), ("spin_problem", "ask_problem"), ("spin_problem", "ask_problem"))
    b[3]["checks"].append({"key": "state", "passed": False})
    c = turns(("spin_problem", "ask_problem"), ("soft_close", "soft_close"), ("spin_situation", "ask_situation"), ("soft_close", "soft_close"))
    c[0]["tier"] = "knowledge"
    histogram = LatencyHistogram()
    for value in (1000.0, 2000.0, 3000.0, 4000.0):
        histogram.add(value)
    report = summarise([result("b", "skeptic", False, b), result("a", "happy_path", True, a, True), result("c", "rude", True, c)],
                       definitions=DEFS, turn_latency=histogram, node_latency={"fsm": histogram}, wall_s=2.0, fallback_in_graph=True)
    assert [r["id"] for r in report["results"]] == ["a", "b", "c"]
    assert (report["dialogues"], report["passed"], report["pass_rate"], report["turns"], report["turns_per_s"]) == (3, 2, 0.6667, 12, 6.0)
    assert report["per_expectation"] == {
        "clean": {"checked": 12, "passed": 12, "accuracy": 1.0},
        "outcome.final_state": {"checked": 1, "passed": 1, "accuracy": 1.0},
        "state": {"checked": 2, "passed": 1, "accuracy": 0.5},
    }
    assert report["per_persona"]["skeptic"] == {"dialogues": 1, "passed": 0, "pass_rate": 0.0}
    assert report["phases_reached"] == {"greeting": 0.6667, "spin_situation": 0.3333, "spin_problem": 1.0, "spin_implication": 0.0,
                                        "presentation": 0.3333, "close": 0.0}
    assert (report["stall_rate"], report["loop_rate"], report["soft_close_rate"], report["success_rate"]) == (0.3333, 0.3333, 0.3333, 0.3333)
    assert report["fallback_rate"] == round(2 / 12, 4)
    assert report["fallback_tiers"] == {"generic": 1, "knowledge": 1}
    assert report["latency_ms"]["p50"] == pytest.approx(2.0, rel=0.02)
    assert report["node_latency_ms"]["fsm"]["runs"] == 4
    no_fallback_node = summarise([result("a", "happy_path", True, a)], definitions=DEFS, turn_latency=histogram, node_latency={}, wall_s=1.0,
                                 fallback_in_graph=False)
    assert no_fallback_node["fallback_rate"] is None


def test_histogram_percentiles_within_two_percent_and_merge_equals_union() -> None:
    rng = random.Random(7)
    samples = [rng.lognormvariate(6.5, 1.0) for _ in range(20_000)]
    left, right, whole = LatencyHistogram(), LatencyHistogram(), LatencyHistogram()
    for index, value in enumerate(samples):
        (left if index % 2 else right).add(value)
        whole.add(value)
    left.merge(right)
    ordered = sorted(samples)
    for share in (0.5, 0.95, 0.99):
        exact = ordered[int(share * len(ordered)) - 1]
        assert left.percentile_us(share) == whole.percentile_us(share)
        assert left.percentile_us(share) == pytest.approx(exact, rel=0.021)
    assert left.count == 20_000 and left.max_us == max(samples)
    assert LatencyHistogram.from_json(left.to_json()).percentile_us(0.95) == left.percentile_us(0.95)
    assert LatencyHistogram().percentile_us(0.5) == 0.0


def test_metric_file_states_are_checked_against_the_flow(tmp_path: Path) -> None:
    path = tmp_path / "metrics.yaml"
    path.write_text("version: 1\nstall_turns: 4\nphases: [spin_problem, presentaton]\nsoft_close_states: [soft_close]\n", encoding="utf-8")
    definitions, issues = load_metric_definitions(path, ConfigBundle(default_config_dir()))
    assert [issue.render().split("metrics.yaml")[1] for issue in issues] == [":3: phases[1]: unknown state 'presentaton'. Did you mean 'presentation'?"]
    assert definitions.stall_turns == 4
    shipped, issues = load_metric_definitions(default_config_dir() / "evals" / "metrics.yaml", ConfigBundle(default_config_dir()))
    assert issues == []
    assert shipped.phases[:3] == ("greeting", "spin_situation", "spin_problem")
    assert {"success", "escalated"} <= shipped.terminal_states  # the flow's final states
