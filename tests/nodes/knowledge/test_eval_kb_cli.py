"""``spinflow eval kb FILE.jsonl``: hit@1, hit@3 and latency from section ids or answer phrases."""
from __future__ import annotations

import json
from pathlib import Path

from engine.cli.main import main

ROWS = [
    {"question": "Что такое ТИС?", "expected_section": "tis.overview"},
    {"question": "Сколько стоит ОФД в месяц?", "expected_section": ["fiscal.ofd_price"]},
    {"question": "Сколько стоит ОФД в месяц?", "must_contain_any": ["1 120"], "must_not_contain": ["бесплатно навсегда"], "category": "fiscal"},
    {"question": "Что такое ТИС?", "expected_section": "tariffs.mini", "category": "fiscal"},  # a deliberate miss
]


def write_cases(path: Path, rows: list[dict]) -> Path:
    path.write_text("\n".join(json.dumps(row, ensure_ascii=False) for row in rows) + "\n", encoding="utf-8")
    return path


def test_reports_hits_per_category_and_latency(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    cases = write_cases(tmp_path / "cases.jsonl", ROWS)
    out = tmp_path / "summary.json"
    assert main(["eval", "kb", str(cases), "--json", str(out), "--flag", "kb_semantic=off"]) == 0
    summary = json.loads(out.read_text(encoding="utf-8"))
    assert summary["n"] == 4
    assert summary["hit_at_1"] == 0.75 and summary["hit_at_3"] == 0.75
    assert summary["per_category"]["fiscal"] == {"n": 2, "hit_at_1": 0.5, "hit_at_3": 0.5}
    assert set(summary["latency_ms"]) == {"p50", "p95", "mean"} and summary["latency_ms"]["p95"] >= summary["latency_ms"]["p50"] > 0
    assert [miss["line"] for miss in summary["misses"]] == [4]
    assert "hit@1 0.750" in capsys.readouterr().out


def test_must_not_contain_turns_a_hit_into_a_miss(tmp_path: Path) -> None:
    rows = [{"question": "Сколько стоит ОФД в месяц?", "must_contain_any": ["1 120"], "must_not_contain": ["1 120"]}]
    out = tmp_path / "summary.json"
    assert main(["eval", "kb", str(write_cases(tmp_path / "cases.jsonl", rows)), "--json", str(out), "--flag", "kb_semantic=off"]) == 0
    assert json.loads(out.read_text(encoding="utf-8"))["hit_at_1"] == 0.0


def test_a_bad_line_is_named(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    cases = tmp_path / "cases.jsonl"
    cases.write_text('{"question": "Что такое ТИС?", "expected_section": "tis.overview"}\n{"question": 5}\n', encoding="utf-8")
    assert main(["eval", "kb", str(cases)]) == 1
    assert f"{cases}:2: each line needs a 'question' string" in capsys.readouterr().err.replace("\n", "")
