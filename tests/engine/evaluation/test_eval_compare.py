"""``eval compare``: metric verdicts and per-dialogue fixed / broken / changed, through the CLI."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from engine.cli.main import main
from engine.evaluation.compare import compare_reports


def dialogue(dialogue_id: str, passed: bool, failing: list[tuple[int, str]] = ()) -> dict[str, Any]:
    turns = [{"turn": n, "checks": [{"key": key, "passed": False, "expected": ["x"], "got": "y"}]} for n, key in failing]
    return {"id": dialogue_id, "passed": passed, "turns": turns, "outcome_checks": []}


def report(pass_rate: float, stall: float, p50: float, results: list[dict[str, Any]], intent_accuracy: float) -> dict[str, Any]:
    return {"pass_rate": pass_rate, "stall_rate": stall, "loop_rate": 0.0, "turns_per_s": 100.0, "latency_ms": {"p50": p50, "p95": 2.0, "p99": 3.0},
            "per_expectation": {"intent": {"accuracy": intent_accuracy}}, "per_persona": {}, "phases_reached": {"close": 0.5}, "results": results}


A = report(0.5, 0.2, 1.0, [dialogue("a", False, [(2, "state")]), dialogue("b", True), dialogue("c", False, [(1, "intent")]), dialogue("gone", True)], 0.6)
B = report(0.5, 0.1, 1.5, [dialogue("a", True), dialogue("b", False, [(3, "action")]), dialogue("c", False, [(2, "intent")]), dialogue("new", True)], 0.6)


def test_verdicts_and_dialogue_changes() -> None:
    comparison = compare_reports(A, B)
    verdicts = {m.name: m.verdict for m in comparison.metrics}
    assert verdicts["pass_rate"] == "same"
    assert verdicts["stall_rate"] == "better"  # lower is better
    assert verdicts["latency_ms.p50"] == "worse"
    assert verdicts["per_expectation.intent.accuracy"] == "same"
    assert verdicts["phases_reached.close"] == "same"
    assert verdicts["fallback_rate"] == "same"  # absent on both sides
    assert (comparison.fixed, comparison.broken, comparison.added, comparison.removed) == (["a"], ["b"], ["new"], ["gone"])
    assert comparison.changed == {"c": {"gone": ["turn 1 intent: expected ['x'], got y"], "new": ["turn 2 intent: expected ['x'], got y"]}}
    assert comparison.regressed is True
    assert compare_reports(A, A).regressed is False


def test_cli_compare_exit_codes_and_json(tmp_path: Path) -> None:
    before, after, out = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "cmp.json"
    before.write_text(json.dumps(A), encoding="utf-8")
    after.write_text(json.dumps(B), encoding="utf-8")
    assert main(["eval", "compare", str(before), str(after)]) == 0
    assert main(["eval", "compare", str(before), str(after), "--fail-on-regression", "--json", str(out)]) == 1
    written = json.loads(out.read_text(encoding="utf-8"))
    assert (written["fixed"], written["broken"], written["regressed"]) == (["a"], ["b"], True)
    assert main(["eval", "compare", str(before), str(before), "--fail-on-regression"]) == 0
    (tmp_path / "bad.json").write_text("{\"x\": 1}", encoding="utf-8")
    assert main(["eval", "compare", str(before), str(tmp_path / "bad.json")]) == 1  # not a report: EngineError → 1
