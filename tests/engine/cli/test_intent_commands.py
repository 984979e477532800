"""``spinflow eval intents`` and ``spinflow explain`` on tiny inputs written by the test."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.cli.intent_metrics import Case, CaseResult, load_cases, percentile, summarize
from engine.cli.main import main
from engine.errors import EngineError

ROWS = [
    {"message": "сколько стоит?", "expected_intent": "price_question"},
    {"message": "дорого", "expected_intent": "objection_price"},
    {"message": "да", "context": {"state": "spin_problem"}, "expected_intent": "problem_revealed"},
    {"message": "да", "expected_intent": ["agreement", "demo_request"]},
    {"message": "покажите демо", "expected_intent": "price_question"},  # deliberately wrong label
]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("\n".join(json.dumps(row, ensure_ascii=False) for row in rows) + "\n", encoding="utf-8")
    return path


def test_eval_intents_writes_metrics(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cases = write_jsonl(tmp_path / "cases.jsonl", ROWS)
    out = tmp_path / "report.json"
    code = main(["eval", "intents", str(cases), "--graph", "graphs/classify_only.yaml", "--flag", "semantic_stage=off", "--json", str(out)])
    assert code == 0
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["n"] == 5 and report["correct"] == 4 and report["accuracy"] == 0.8
    assert {"n", "accuracy", "macro_f1", "per_intent", "per_stage", "latency_ms"} <= set(report)
    assert set(report["latency_ms"]) == {"p50", "p95", "p99"}
    assert report["per_intent"]["price_question"] == {"precision": 1.0, "recall": 0.5, "f1": 0.6667, "support": 2, "predicted": 1}
    assert report["per_intent"]["demo_request"]["support"] == 0 and report["per_intent"]["demo_request"]["predicted"] == 1
    assert report["confusions"] == [{"expected": "price_question", "predicted": "demo_request", "count": 1}]
    assert report["per_stage"]["patterns"]["count"] == 5 and report["per_stage"]["patterns"]["accuracy"] == 0.8
    assert report["flags"]["semantic_stage"] is False
    printed = capsys.readouterr().out
    assert "accuracy 0.800" in printed and "per stage" in printed


def test_eval_intents_rejects_bad_rows(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"message": "да", "expected_intent": "agreement"}\n{"message": 5}\nnot json\n{"message": "x", "expected_intent": []}\n', encoding="utf-8")
    with pytest.raises(EngineError, match=r"bad\.jsonl:2: expected an object with a string 'message'\n.*bad\.jsonl:3: invalid JSON.*\n.*bad\.jsonl:4: 'expected_intent' must be a string or a non-empty list"):
        load_cases(bad)
    assert main(["eval", "intents", str(bad)]) == 1


def test_metrics_by_hand() -> None:
    def result(expected: tuple[str, ...], predicted: str, stage: str = "patterns", ms: float = 1.0) -> CaseResult:
        return CaseResult(Case(1, "m", {}, expected), predicted, 0.9, stage, ms, ms)

    results = [result(("a",), "a"), result(("a",), "b", "roots", 3.0), result(("b", "a"), "b"), result(("c",), "c", "lemmas", 2.0)]
    report = summarize(results)
    assert report["accuracy"] == 0.75
    assert report["per_intent"]["a"] == {"precision": 1.0, "recall": 0.5, "f1": 0.6667, "support": 2, "predicted": 1}
    assert report["per_intent"]["b"] == {"precision": 0.5, "recall": 1.0, "f1": 0.6667, "support": 1, "predicted": 2}
    assert report["macro_f1"] == round((0.6667 + 0.6667 + 1.0) / 3, 4)
    assert report["per_stage"]["roots"] == {"count": 1, "coverage": 0.25, "accuracy": 0.0, "latency_ms_p50": 3.0, "latency_ms_p95": 3.0}
    assert percentile([1, 2, 3, 4], 50) == 2 and percentile([1, 2, 3, 4], 99) == 4 and percentile([], 50) == 0.0


def test_explain_shows_every_stage(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["explain", "Скок стоит прога?", "--flag", "semantic_stage=off", "--json"])
    assert code == 0
    explanation = json.loads(capsys.readouterr().out)
    assert explanation["text"] == "сколько стоит программа?"
    assert explanation["intent"] == "price_question" and explanation["stage"] == "patterns"
    assert set(explanation["stages"]) == {"patterns", "roots", "lemmas"}  # all run, semantic off
    assert explanation["stages"]["roots"]["top"][0][0] == "price_question"
    code = main(["explain", "да", "--context", '{"state": "spin_problem"}', "--flag", "semantic_stage=off"])
    assert code == 0
    assert "problem_revealed" in capsys.readouterr().out


def test_explain_rejects_bad_context() -> None:
    assert main(["explain", "да", "--context", "{state"]) == 1
