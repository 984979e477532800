"""tone.regex through the tone_only graph (normalize → tone.regex → …) on the shipped markers."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.config import ConfigBundle
from engine.errors import ConfigError
from engine.graph import load_graph
from tests.nodes.tone_support import fresh_turn, tone_runtime, write_tone_config


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory):
    root = write_tone_config(tmp_path_factory.mktemp("tone-regex") / "config")
    return tone_runtime(root)


DECIDED = [
    pytest.param("ВЫ ИЗДЕВАЕТЕСЬ?!!", "frustrated", {"mockery", "caps", "interrobang", "exclamations"}, id="caps-mockery"),
    pytest.param("Сколько можно повторять одно и то же", "frustrated", {"stop_it"}, id="stop-it"),
    pytest.param("блин, опять не работает", "frustrated", {"swearing_lite", "fed_up", "again", "broken"}, id="swearing-lite"),
    pytest.param("Спасибо большое, очень помогли", "positive", {"thanks", "intensifier"}, id="thanks"),
    pytest.param("отлично, жду", "positive", {"delight"}, id="delight"),
    pytest.param("Это слишком дорого, не интересует", "negative", {"too_expensive", "dissatisfied", "intensifier"}, id="brief-example"),
    pytest.param("мне грустно", "negative", {"sadness"}, id="sadness"),
    pytest.param("ну такое себе (((", "negative", {"emoji_sadness"}, id="emoticon-hint"),
    pytest.param("пишу вам 😡", "frustrated", {"emoji_anger"}, id="emoji-hint"),
    pytest.param("давайте быстрее, у меня нет времени", "rushed", {"hurry"}, id="rushed"),
    pytest.param("да это всё развод", "skeptical", {"scam"}, id="scam"),
    pytest.param("не верю я в это", "skeptical", {"disbelief"}, id="disbelief"),
    pytest.param("Не понял, это как?", "confused", {"not_understood", "what_do_you_mean"}, id="confused"),
]


@pytest.mark.parametrize(("message", "label", "markers"), DECIDED)
def test_regex_tier_decides(runtime, message: str, label: str, markers: set[str]) -> None:
    result = fresh_turn(runtime, message)
    tone = result.values["tone"]
    assert (tone["label"], tone["tier"]) == (label, "regex")
    assert tone["confidence"] >= 0.65
    assert {item["id"] for item in tone["markers"] if item["weight"]} == markers
    assert tone["tiers"]["semantic"] == {"used": False, "reason": "lower_tier_confident"}
    assert tone["polarity"] == {"frustrated": "negative", "negative": "negative", "skeptical": "negative", "positive": "positive"}.get(label, "neutral")


def test_caps_counts_only_in_the_raw_message(runtime) -> None:
    shouting = fresh_turn(runtime, "ПОЧЕМУ НИКТО НЕ ОТВЕЧАЕТ")
    calm = fresh_turn(runtime, "почему никто не отвечает")
    assert "caps" in {item["id"] for item in shouting.values["tone"]["markers"]}
    assert "caps" not in {item["id"] for item in calm.values["tone"]["markers"]}
    assert shouting.values["tone"]["tiers"]["regex"]["scores"]["frustrated"] > calm.values["tone"]["tiers"]["regex"]["scores"]["frustrated"]


def test_negation_drops_or_flips_a_marker(runtime) -> None:
    not_bad = fresh_turn(runtime, "в целом не плохо").values["tone"]
    [bad] = [item for item in not_bad["markers"] if item["id"] == "bad"]
    assert (bad["negated"], bad["weight"]) == (True, 0.0)
    assert "negative" not in not_bad["tiers"]["regex"]["scores"]
    dislike = fresh_turn(runtime, "мне не очень нравится").values["tone"]
    [joy] = [item for item in dislike["markers"] if item["id"] == "joy"]
    assert (joy["negated"], joy["tone"]) == (True, "negative")
    assert dislike["tiers"]["regex"]["label"] == "negative"


def test_mixed_signals_are_unsure_and_escalate(runtime) -> None:
    tone = fresh_turn(runtime, "спасибо, но это ужасно").values["tone"]
    regex = tone["tiers"]["regex"]
    assert set(regex["scores"]) == {"positive", "negative"}
    assert regex["confidence"] < 0.65  # best − 0.5 × runner-up
    assert tone["tier"] == "semantic"


def test_no_marker_means_neutral_at_low_confidence(runtime) -> None:
    regex = fresh_turn(runtime, "у нас три магазина в Алматы").values["tone"]["tiers"]["regex"]
    assert regex == {"label": "neutral", "confidence": 0.3, "scores": {}}


def test_bad_marker_file_lists_every_problem_with_lines(tmp_path: Path) -> None:
    markers = """\
        version: 1
        markers:
          frustated:
            - id: one
              weight: 0.8
              patterns: ['\\bбес(ит']
          negative:
            - id: one
              weight: 1.5
              patterns: ['\\bплохо\\b']
              when_negated: positiv
        emoji:
          angr: {tone: frustrated, weight: 0.5}
        """
    root = write_tone_config(tmp_path / "config", edit={"markers.yaml": markers})
    with pytest.raises(ConfigError) as caught:
        load_graph(ConfigBundle(root), "tone_only")
    rendered = [issue.render() for issue in caught.value.issues]
    assert "yaml_config/tone/markers.yaml:3: markers.frustated: unknown tone 'frustated'. Did you mean 'frustrated'?" in rendered
    assert any(line.startswith("yaml_config/tone/markers.yaml:6: markers.frustated[0].patterns[0]: bad regular expression") for line in rendered)
    assert any(line.startswith("yaml_config/tone/markers.yaml:9: markers.negative[0].weight:") for line in rendered)
    assert "yaml_config/tone/markers.yaml:13: emoji.angr: the normaliser never gives the emoji hint 'angr'. Did you mean 'anger'?" in rendered
