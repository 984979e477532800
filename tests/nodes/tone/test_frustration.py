"""tone.frustration through Runtime turns: rise, decay, bands, guidance, config checks."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.config import ConfigBundle
from engine.errors import ConfigError
from engine.graph import load_graph
from tests.nodes.tone_support import PRIVATE_REFERENCES, SHIPPED, fresh_turn, tone_runtime, write_tone_config

ANGRY = "Сколько можно повторять одно и то же"  # frustrated, regex, confidence 0.8
CALM = "у нас магазин продуктов"  # neutral, semantic


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tone_config(tmp_path_factory.mktemp("tone-frustration") / "config", references=PRIVATE_REFERENCES)


def test_frustration_rises_on_repeated_negative_turns_and_decays_on_neutral_ones(config: Path, tmp_path: Path) -> None:
    runtime = tone_runtime(config, sessions=tmp_path / "sessions")
    levels, guidance = [], []
    for message in [ANGRY, ANGRY, ANGRY, CALM, CALM, CALM]:
        result = runtime.turn("c-frustration", message)
        levels.append(result.conversation_after.frustration)
        guidance.append(result.values["tone_guidance"])
    assert [item["tone"] for item in guidance] == ["frustrated"] * 3 + ["neutral"] * 3
    # +3.0 × 0.8 per frustrated turn, −1 per calm turn.
    assert levels == pytest.approx([2.4, 4.8, 7.2, 6.2, 5.2, 4.2])
    assert [(item["apologize"], item["offer_exit"]) for item in guidance] == [(False, False), (False, False), (True, True), (True, False), (True, False), (False, False)]
    assert [item["max_words"] for item in guidance] == [30, 30, 25, 35, 35, None]
    assert [item["delta"] for item in guidance] == pytest.approx([2.4, 2.4, 2.4, -1.0, -1.0, -1.0])
    resumed, was_saved = runtime.open("c-frustration")
    assert was_saved and resumed.frustration == pytest.approx(4.2)


def test_positive_turns_calm_faster(config: Path) -> None:
    result = fresh_turn(tone_runtime(config), "спасибо большое", frustration=4.0)
    # calm turn: 4.0 − 1 (decay) + (−1.0 × 0.75)
    assert result.conversation_after.frustration == pytest.approx(2.25)
    assert result.values["tone_guidance"]["weight"] == pytest.approx(-0.75)


@pytest.mark.parametrize(
    ("before", "after", "apologize", "offer_exit"),
    [(5.99, 4.99, False, False), (6.0, 5.0, True, False), (7.99, 6.99, True, False), (8.0, 7.0, True, True)],
)
def test_guidance_thresholds(config: Path, before: float, after: float, apologize: bool, offer_exit: bool) -> None:
    guidance = fresh_turn(tone_runtime(config), CALM, frustration=before).values["tone_guidance"]
    assert guidance["frustration"] == pytest.approx(after)
    assert (guidance["apologize"], guidance["offer_exit"]) == (apologize, offer_exit)


def test_guidance_by_tone_with_the_band_appended(config: Path) -> None:
    rushed = fresh_turn(tone_runtime(config), "давайте быстрее, у меня нет времени").values["tone_guidance"]
    assert {key: rushed[key] for key in ("tone", "apologize", "offer_exit", "max_words")} == {"tone": "rushed", "apologize": False, "offer_exit": False, "max_words": 25}
    assert rushed["instruction"].startswith("Отвечай предельно коротко")
    upset = fresh_turn(tone_runtime(config), "мне грустно", frustration=4.5).values["tone_guidance"]
    assert (upset["tone"], upset["frustration"], upset["max_words"], upset["apologize"]) == ("negative", pytest.approx(5.7), 35, True)
    assert upset["instruction"].endswith("Один раз извинись за неудобство.")


def test_level_is_clamped_to_the_scale(config: Path) -> None:
    result = fresh_turn(tone_runtime(config), "ВЫ ИЗДЕВАЕТЕСЬ?!!", frustration=9.5)
    assert result.conversation_after.frustration == 10.0
    assert fresh_turn(tone_runtime(config), CALM, frustration=0.5).conversation_after.frustration == 0.0


def test_tone_analysis_off_leaves_frustration_alone(config: Path) -> None:
    result = fresh_turn(tone_runtime(config, tone_analysis=False), ANGRY, frustration=3.0)
    assert {run.node_id for run in result.runs if run.status == "skipped"} == {"tone_regex", "tone_semantic", "tone_llm", "tone_frustration"}
    assert result.conversation_after.frustration == 3.0
    assert "tone_guidance" not in result.values


def test_policy_problems_are_listed_with_lines(tmp_path: Path) -> None:
    policy = (SHIPPED / "yaml_config" / "tone" / "frustration.yaml").read_text(encoding="utf-8")
    policy = policy.replace("  rushed: 1.0\n", "  rushd: 1.0\n").replace("  - at: 7\n", "  - at: 12\n").replace("  confused:\n    instruction:", "  confusd:\n    instruction:")
    root = write_tone_config(tmp_path / "config", edit={"frustration.yaml": policy})
    with pytest.raises(ConfigError) as caught:
        load_graph(ConfigBundle(root), "tone_only")
    rendered = [issue.render() for issue in caught.value.issues]
    lines = policy.splitlines()
    weight_line = lines.index("  rushd: 1.0") + 1
    assert f"yaml_config/tone/frustration.yaml:{weight_line}: weights.rushd: unknown tone 'rushd'. Did you mean 'rushed'?" in rendered
    assert any(line.startswith("yaml_config/tone/frustration.yaml:") and "guidance: no guidance for tone(s) confused" in line for line in rendered)
    assert any("levels[1].at: level 12 is above the scale (10) and can never be reached" in line for line in rendered)
