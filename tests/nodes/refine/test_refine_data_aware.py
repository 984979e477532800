"""refine.data_aware: unclear + meaningful extracted data → info_provided."""
from __future__ import annotations

import pytest

from tests.nodes.refine.conftest import entry


def test_brief_example_about_fifteen_people(layers) -> None:
    result = layers.turn("не знаю точно но около 15 человек", "unclear", 0.2)
    assert result.values["extracted"]["company_size"] == 15
    layer = entry(result, "data_aware")
    assert (layer["decision"], layer["reason"]) == ("refined", "meaningful_data:company_size")
    assert result.values["intent"] == "info_provided"
    assert result.values["intent_confidence"] == pytest.approx(0.7)


def test_unclear_without_data_stays_unclear(layers) -> None:
    result = layers.turn("ну не знаю даже", "unclear", 0.2)
    assert entry(result, "data_aware")["reason"] == "no_meaningful_data"
    assert result.values["intent"] == "unclear"


def test_other_intents_are_not_touched(layers) -> None:
    result = layers.turn("около 15 человек, сколько стоит?", "price_question", 0.9)
    assert entry(result, "data_aware")["reason"] == "intent_not_source"
    assert result.values["intent"] == "price_question"
