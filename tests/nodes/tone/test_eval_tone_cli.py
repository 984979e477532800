"""``spinflow eval tone`` on a tiny CEDR-format file written here (fake embedder, private refs)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import engine.resources
from engine.cli.cmd_eval_tone import binary_label, read_cedr
from engine.cli.main import main
from tests.nodes.tone_support import PRIVATE_REFERENCES, FakeEmbedder, write_tone_config

CSV = """\
text,labels,source
Мне очень грустно сегодня,[1],twitter
"Бесит, что опять всё сломалось",[4],twitter
Рада тебя видеть,[0],twitter
У нас магазин продуктов у дома,[],lenta
У нас магазин одежды,[],lenta
"Это ужасно и обидно","[1, 4]",lj
Страшно выходить вечером,[3],lj
"Сказочки, как всегда",[],lj
"""


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    # The CLI builds its own Runtime: the fake model replaces the process-wide embedder.
    monkeypatch.setitem(engine.resources._PROCESS_CACHE, "embedder", FakeEmbedder())
    root = write_tone_config(tmp_path / "config", references=PRIVATE_REFERENCES)
    data = tmp_path / "tiny.csv"
    data.write_text(CSV, encoding="utf-8")
    return root, data


def test_reader_and_binary_labels(tmp_path: Path) -> None:
    data = tmp_path / "tiny.csv"
    data.write_text(CSV, encoding="utf-8")
    rows = read_cedr(data)
    assert [row.labels for row in rows] == [(1,), (4,), (0,), (), (), (1, 4), (3,), ()]
    assert [binary_label(row.labels) for row in rows] == ["negative", "negative", None, "none", "none", "negative", None, "none"]
    assert (rows[5].line, rows[5].source) == (7, "lj")


def test_eval_reports_precision_recall_and_tier_shares(setup: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root, data = setup
    out = tmp_path / "summary.json"
    assert main(["eval", "tone", str(data), "--config-dir", str(root), "--json", str(out)]) == 0
    summary = json.loads(out.read_text(encoding="utf-8"))
    assert (summary["rows_in_file"], summary["evaluated"], summary["excluded_other_emotions"]) == (8, 6, 2)
    assert summary["gold"] == {"negative": 3, "none": 3}
    # «Сказочки, как всегда» is nearest the skeptical references: a false positive.
    assert {key: summary["overall"][key] for key in ("tp", "fp", "fn", "tn")} == {"tp": 3, "fp": 1, "fn": 0, "tn": 2}
    assert summary["overall"]["precision"] == pytest.approx(0.75)
    assert summary["overall"]["recall"] == pytest.approx(1.0)
    assert summary["overall"]["f1"] == pytest.approx(6 / 7)
    # The two shop statements carry no sentiment word: the semantic gate keeps them neutral at the regex tier.
    assert {tier: round(item["share"], 4) for tier, item in summary["tiers"].items()} == {"regex": round(5 / 6, 4), "semantic": round(1 / 6, 4)}
    assert {key: summary["tiers"]["regex"][key] for key in ("tp", "fp", "fn", "tn")} == {"tp": 3, "fp": 0, "fn": 0, "tn": 2}
    assert summary["baseline_all_negative"]["precision"] == pytest.approx(0.5)
    assert summary["labels"] == {"negative": 2, "frustrated": 1, "neutral": 2, "skeptical": 1}
    assert summary["flags"] == {"tone_analysis": True, "tone_semantic": True, "tone_llm": False}
    assert [miss["line"] for miss in summary["misses"]] == [9]
    assert set(summary["latency_ms"]["nodes"]) == {"tone.regex", "tone.semantic", "tone.frustration"}
    assert (summary["latency_ms"]["nodes"]["tone.semantic"]["runs"], summary["latency_ms"]["nodes"]["tone.semantic"]["used"]) == (6, 1)
    printed = capsys.readouterr().out
    assert "2 rows with other emotions only are excluded" in printed


def test_limit_and_flags(setup: tuple[Path, Path], tmp_path: Path) -> None:
    root, data = setup
    out = tmp_path / "summary.json"
    assert main(["eval", "tone", str(data), "--config-dir", str(root), "--limit", "4", "--flag", "tone_semantic=off", "--json", str(out)]) == 0
    summary = json.loads(out.read_text(encoding="utf-8"))
    assert summary["evaluated"] == 4
    assert {tier: item["n"] for tier, item in summary["tiers"].items()} == {"regex": 4}
    assert summary["flags"]["tone_semantic"] is False


def test_bad_labels_name_the_line(setup: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root, _data = setup
    bad = tmp_path / "bad.csv"
    bad.write_text("text,labels,source\nхорошо,[],lj\nплохо,anger,lj\n", encoding="utf-8")
    assert main(["eval", "tone", str(bad), "--config-dir", str(root)]) == 1
    assert f"{bad}:3: labels 'anger' is not a list of class ids" in capsys.readouterr().err.replace("\n", "")
