"""tone.semantic through the tone_only graph, with private references and a fake embedder."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.config import ConfigBundle
from engine.errors import ConfigError
from engine.graph import load_graph
from tests.nodes.tone_support import PRIVATE_REFERENCES, SHIPPED, BrokenEmbedder, FakeEmbedder, fresh_turn, tone_runtime, write_tone_config


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tone_config(tmp_path_factory.mktemp("tone-semantic") / "config", references=PRIVATE_REFERENCES)


def test_semantic_tier_decides_an_unmarked_message(config: Path) -> None:
    embedder = FakeEmbedder()
    runtime = tone_runtime(config, embedder=embedder, fresh=True)
    tone = fresh_turn(runtime, "по-шустрому оформляйте").values["tone"]
    assert (tone["label"], tone["tier"], tone["polarity"]) == ("rushed", "semantic", "neutral")
    semantic = tone["tiers"]["semantic"]
    assert semantic["used"] is True and semantic["abstained"] is False and semantic["carried_regex"] is False
    assert semantic["groups"] == {"neutral": "t_neutral", "rushed": "t_rushed", "skeptical": "t_skeptical"}
    assert semantic["nearest"][0] == {"text": "оформляйте по-шустрому", "group": "t_rushed", "similarity": pytest.approx(semantic["nearest"][0]["similarity"])}
    assert tone["confidence"] == semantic["confidence"] >= 0.55
    assert tone["tiers"]["regex"] == {"label": "neutral", "confidence": 0.3, "scores": {}}
    # References are encoded once (9 texts), then one message per turn.
    fresh_turn(runtime, "сказочки рассказываете")
    assert embedder.calls == [9, 1, 1]


def test_second_tone_from_references(config: Path) -> None:
    tone = fresh_turn(tone_runtime(config), "сказочки рассказываете").values["tone"]
    assert (tone["label"], tone["tier"], tone["polarity"]) == ("skeptical", "semantic", "negative")


def test_semantic_is_skipped_when_the_regex_tier_is_confident(config: Path) -> None:
    embedder = FakeEmbedder()
    tone = fresh_turn(tone_runtime(config, embedder=embedder), "спасибо большое").values["tone"]
    assert (tone["label"], tone["tier"]) == ("positive", "regex")
    assert tone["tiers"]["semantic"] == {"used": False, "reason": "lower_tier_confident"}
    assert embedder.calls == []


def test_weak_regex_evidence_is_carried_into_the_semantic_scores(config: Path) -> None:
    tone = fresh_turn(tone_runtime(config), "короче, у нас магазин продуктов").values["tone"]
    regex, semantic = tone["tiers"]["regex"], tone["tiers"]["semantic"]
    assert regex == {"label": "rushed", "confidence": 0.45, "scores": {"rushed": 0.45}}
    assert semantic["carried_regex"] is True and tone["tier"] == "semantic"
    carry = 0.35
    mixed = {name: (1 - carry) * p + carry * regex["scores"].get(name, 0.0) for name, p in semantic["probabilities"].items()}
    total = sum(mixed.values())
    assert tone["scores"] == {name: pytest.approx(value / total, abs=2e-4) for name, value in mixed.items()}
    assert tone["label"] == max(mixed, key=mixed.__getitem__)


def test_weak_evidence_abstains_to_neutral(tmp_path: Path) -> None:
    tones = (SHIPPED / "yaml_config" / "tone" / "tones.yaml").read_text(encoding="utf-8")
    assert "abstain_below: 0.35" in tones and "temperature: 0.05" in tones
    # A high temperature flattens the evidence below a high abstain_below.
    edited = tones.replace("temperature: 0.05", "temperature: 1").replace("abstain_below: 0.35", "abstain_below: 0.9")
    root = write_tone_config(tmp_path / "config", references=PRIVATE_REFERENCES, edit={"tones.yaml": edited})
    tone = fresh_turn(tone_runtime(root), "по-шустрому оформляйте").values["tone"]
    semantic = tone["tiers"]["semantic"]
    assert max(semantic["probabilities"], key=semantic["probabilities"].__getitem__) == "rushed"
    assert semantic["probabilities"]["rushed"] < 0.9
    assert (tone["label"], tone["tier"], semantic["abstained"]) == ("neutral", "semantic", True)
    assert tone["confidence"] == pytest.approx(semantic["probabilities"]["neutral"], abs=1e-4)


def test_a_broken_model_keeps_the_regex_answer_and_says_why(config: Path) -> None:
    result = fresh_turn(tone_runtime(config, embedder=BrokenEmbedder()), "короче, у нас магазин продуктов")
    tone = result.values["tone"]
    assert (tone["label"], tone["tier"], tone["confidence"]) == ("rushed", "regex", 0.45)
    semantic = tone["tiers"]["semantic"]
    assert (semantic["used"], semantic["failed"], semantic["reason"]) == (False, True, "embedder_error")
    assert semantic["detail"] == "OSError: model weights not found"
    assert result.status == "ok"


def test_flag_off_leaves_the_regex_answer(config: Path) -> None:
    result = fresh_turn(tone_runtime(config, tone_semantic=False), "по-шустрому оформляйте")
    assert {run.node_id: run.status for run in result.runs}["tone_semantic"] == "skipped"
    assert (result.values["tone"]["label"], result.values["tone"]["tier"]) == ("neutral", "regex")


def test_reference_file_problems_are_listed_with_lines(tmp_path: Path) -> None:
    references = """\
        version: 1
        groups:
          - id: a
            tone: rushd
            examples: [быстрее]
          - id: a
            tone: rushed
            examples: [быстрее]
          - id: b
            tone: neutral
            examples: []
        """
    root = write_tone_config(tmp_path / "config", references=references)
    with pytest.raises(ConfigError) as caught:
        load_graph(ConfigBundle(root), "tone_only")
    rendered = [issue.render() for issue in caught.value.issues]
    assert "yaml_config/tone/references.yaml:4: groups[0].tone: unknown tone 'rushd'. Did you mean 'rushed'?" in rendered
    assert "yaml_config/tone/references.yaml:6: groups[1].id: group id 'a' is already used in yaml_config/tone/references.yaml. Give every group its own id." in rendered
    assert any(line.startswith("yaml_config/tone/references.yaml:11: groups[2].examples:") for line in rendered), rendered


@pytest.mark.parametrize(("message", "reason"), [
    ("+7 701 123 45 67", "data_only"),
    ("Алматы", "short_answer"),
    ("у нас магазин продуктов у дома", "no_sentiment_words"),
])
def test_the_gate_keeps_messages_without_sentiment_from_the_embedder(config: Path, message: str, reason: str) -> None:
    embedder = FakeEmbedder()
    tone = fresh_turn(tone_runtime(config, embedder=embedder, fresh=True), message).values["tone"]
    assert (tone["label"], tone["tier"], tone["tiers"]["semantic"]) == ("neutral", "regex", {"used": False, "reason": reason})
    assert embedder.calls == []


def test_a_weak_regex_marker_or_a_sentiment_word_passes_the_gate(config: Path) -> None:
    embedder = FakeEmbedder()
    runtime = tone_runtime(config, embedder=embedder, fresh=True)
    assert fresh_turn(runtime, "короче, у нас магазин продуктов").values["tone"]["tiers"]["semantic"]["used"] is True  # marker «короче»
    assert fresh_turn(runtime, "опять вы со своими звонками").values["tone"]["tiers"]["semantic"]["used"] is True  # stem «опять»
    assert embedder.calls == [9, 1, 1]


def test_without_the_gate_every_unsure_message_is_embedded(tmp_path: Path) -> None:
    root = write_tone_config(tmp_path / "config", references=PRIVATE_REFERENCES, edit={"semantic_gate.yaml": "version: 1\nenabled: false\n"})
    embedder = FakeEmbedder()
    tone = fresh_turn(tone_runtime(root, embedder=embedder, fresh=True), "у нас магазин продуктов у дома").values["tone"]
    assert tone["tiers"]["semantic"]["used"] is True and embedder.calls == [9, 1]


def test_a_bad_gate_stem_is_reported_with_its_line(tmp_path: Path) -> None:
    gate = (SHIPPED / "yaml_config" / "tone" / "semantic_gate.yaml").read_text(encoding="utf-8")
    assert "sentiment_stems: [\n" in gate
    root = write_tone_config(tmp_path / "config", edit={"semantic_gate.yaml": gate.replace("sentiment_stems: [\n", "sentiment_stems: [\n  зл,\n")})
    bundle = ConfigBundle(root)
    bundle.section("tone_semantic_gate")
    line = 2 + next(number for number, text in enumerate(gate.splitlines()) if text.startswith("sentiment_stems:"))
    [issue] = [issue for issue in bundle.issues if issue.file.endswith("semantic_gate.yaml")]
    assert (issue.line, issue.path) == (line, "sentiment_stems[0]")
    assert "stem 'зл' must be a word start of at least 3 letters" in issue.render()
