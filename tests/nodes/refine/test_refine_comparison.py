"""refine.comparison (off by default): competitive comparisons become objection_competitor."""
from __future__ import annotations

import pytest

from tests.nodes.refine.conftest import entry

ON = {"comparison_refinement": True}


@pytest.mark.parametrize(
    ("message", "intent", "reason"),
    [
        ("У Битрикс дешевле", "comparison", "competitive_signal"),
        ("Конкурент лучше по функционалу", "comparison", "competitive_signal"),
        ("Зачем вы если есть AmoCRM?", "comparison", "competitive_signal"),
        ("чем Wipon лучше Poster", "question_features", "competitor_comparison_question"),
    ],
)
def test_brief_examples(layers, message: str, intent: str, reason: str) -> None:
    result = layers.turn(message, intent, 0.8, flags=ON)
    layer = entry(result, "comparison")
    assert (layer["decision"], layer["reason"]) == ("refined", reason)
    assert result.values["intent"] == "objection_competitor"


def test_off_by_default(layers) -> None:
    result = layers.turn("У Битрикс дешевле", "comparison", 0.8)
    assert entry(result, "comparison")["reason"] == "flag_off"
    assert result.values["intent"] == "comparison"


def test_neutral_comparison_stays(layers) -> None:
    result = layers.turn("чем отличается тариф стандарт от про", "comparison", 0.8, flags=ON)
    assert entry(result, "comparison")["reason"] == "neutral_comparison"
    assert result.values["intent"] == "comparison"
