"""refine.first_contact: cautious interest on turn ≤ 2 is not an objection."""
from __future__ import annotations

import pytest

from tests.nodes.refine.conftest import entry


def test_brief_example_1_referral_and_cautious_interest(layers) -> None:
    result = layers.turn("мне тут коллега посоветовал, но я не уверен стоит ли", "objection_trust", 0.85, context={"state": "greeting", "turn": 1})
    layer = entry(result, "first_contact")
    assert (layer["decision"], layer["reason"]) == ("refined", "first_contact_referral")
    assert result.values["intent"] == "consultation_request"
    assert result.values["intent_confidence"] == pytest.approx(0.9)


def test_brief_example_2_pure_cautious_interest(layers) -> None:
    result = layers.turn("интересно, но хочу сначала понять как это работает", "objection_think", 0.8, context={"state": "greeting", "turn": 2})
    layer = entry(result, "first_contact")
    assert (layer["decision"], layer["reason"]) == ("refined", "first_contact_cautious_interest")
    assert result.values["intent"] == "consultation_request"
    assert result.values["intent_confidence"] == pytest.approx(0.85)


def test_brief_example_3_after_the_presentation_it_is_an_objection(layers) -> None:
    result = layers.turn("не уверен что это нам подходит", "objection_think", 0.85, context={"state": "presentation", "turn": 5})
    assert entry(result, "first_contact")["reason"] == "not_first_contact"
    assert result.values["intent"] == "objection_think"


def test_same_words_in_greeting_on_turn_5_stay_an_objection(layers) -> None:
    result = layers.turn("не уверен что это нам подходит", "objection_think", 0.85, context={"state": "greeting", "turn": 5})
    assert entry(result, "first_contact")["decision"] == "skipped"
    assert result.values["intent"] == "objection_think"


def test_plain_objection_on_first_turn_passes(layers) -> None:
    result = layers.turn("у вас слишком дорого", "objection_price", 0.85, context={"state": "greeting", "turn": 1})
    assert entry(result, "first_contact")["reason"] == "no_cautious_signal"
    assert result.values["intent"] == "objection_price"
