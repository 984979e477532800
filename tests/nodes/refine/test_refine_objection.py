"""refine.objection: the five rules against false objections."""
from __future__ import annotations

import pytest

from tests.nodes.refine.conftest import entry


def test_rule_1_topic_alignment(layers) -> None:
    result = layers.turn("бюджет пока не определён", "objection_price", 0.8, context={"last_action": "ask_about_budget"})
    assert entry(result, "objection")["reason"] == "topic_alignment"
    assert result.values["intent"] == "info_provided"
    assert result.values["intent_confidence"] == pytest.approx(0.75)


def test_rule_1_need_denial_answering_a_need_question_is_the_spin_answer(layers) -> None:
    result = layers.turn("нам это не нужно", "objection_no_need", 0.8, context={"last_action": "ask_need_payoff"})
    assert entry(result, "objection")["reason"] == "topic_alignment"
    assert result.values["intent"] == "no_need"
    assert result.values["intent_confidence"] == pytest.approx(0.75)
    result = layers.turn("нам это не нужно", "objection_no_need", 0.8, context={"last_action": "present_features"})
    assert result.values["intent"] == "objection_no_need"
    result = layers.turn("нам это не нужно", "objection_no_need", 0.8, context={"spin_phase": "need_payoff"})
    assert entry(result, "objection")["reason"] == "topic_alignment"
    assert result.values["intent"] == "no_need"
    result = layers.turn("нам это не нужно", "objection_no_need", 0.8, context={"spin_phase": "situation"})
    assert result.values["intent"] == "objection_no_need"


def test_rule_2_question_markers(layers) -> None:
    result = layers.turn("а сколько это стоит?", "objection_price", 0.85)
    assert entry(result, "objection")["reason"] == "question_markers"
    assert result.values["intent"] == "price_question"
    assert result.values["intent_confidence"] == pytest.approx(0.7)


def test_rule_2_veto_a_stated_objection_phrased_as_question(layers) -> None:
    result = layers.turn("дорого. скидка есть?", "objection_price", 0.85)
    assert entry(result, "objection")["reason"] in ("genuine_objection", "confident_objection")
    assert result.values["intent"] == "objection_price"


def test_rule_3_callback(layers) -> None:
    result = layers.turn("сейчас некогда, перезвоните завтра", "objection_no_time", 0.8)
    assert entry(result, "objection")["reason"] == "callback_pattern"
    assert result.values["intent"] == "callback_request"
    assert result.values["intent_confidence"] == pytest.approx(0.8)


def test_rule_4_interest(layers) -> None:
    result = layers.turn("надо подумать, но интересно, расскажите", "objection_think", 0.8)
    assert entry(result, "objection")["reason"] == "interest_pattern"
    assert result.values["intent"] == "question_features"


def test_rule_5_uncertainty(layers) -> None:
    result = layers.turn("не уверен нужно ли это вообще", "objection_think", 0.8)
    assert entry(result, "objection")["reason"] == "uncertainty_pattern"
    assert result.values["intent"] == "question_features"
    assert result.values["intent_confidence"] == pytest.approx(0.7)


def test_confident_objection_without_context_issues_is_accepted(layers) -> None:
    result = layers.turn("у вас слишком дорого для нас", "objection_price", 0.95, [("objection_price", 0.95)], flags={"confidence_calibration": False})
    assert entry(result, "objection")["reason"] == "confident_objection"
    assert result.values["intent"] == "objection_price"


def test_real_objection_passes(layers) -> None:
    result = layers.turn("у вас слишком дорого для нас", "objection_price", 0.7)
    assert entry(result, "objection")["reason"] == "genuine_objection"
    assert result.values["intent"] == "objection_price"


def test_not_an_objection_is_skipped(layers) -> None:
    result = layers.turn("сколько стоит?", "price_question", 0.9)
    assert entry(result, "objection")["decision"] == "skipped"


def test_rule_5_reads_need_doubt_in_objection_handling_whatever_the_classifier_said(layers) -> None:
    result = layers.turn("стоит ли это внедрять в нашей компании", "price_question", 0.8, context={"state": "handle_objection"})
    layer = entry(result, "objection")
    assert (layer["decision"], layer["reason"]) == ("refined", "uncertainty_pattern_in_state")
    assert result.values["intent"] == "question_features"


def test_rule_5_by_state_leaves_a_refusal_alone(layers) -> None:
    result = layers.turn("а смысл? нет, не надо", "rejection", 0.8, context={"state": "handle_objection"})
    assert entry(result, "objection")["reason"] == "not_an_objection"
    assert result.values["intent"] == "rejection"


def test_trust_doubt_is_not_need_doubt(layers) -> None:
    result = layers.turn("сомневаюсь в эффективности", "objection_trust", 0.7)
    assert entry(result, "objection")["reason"] == "genuine_objection"
    assert result.values["intent"] == "objection_trust"


def test_need_doubt_in_greeting_is_a_question(layers) -> None:
    result = layers.turn("Здравствуйте. Честно говоря сомневаюсь что это нам нужно", "objection_trust", 0.7, context={"state": "greeting", "turn": 1})
    assert entry(result, "objection")["reason"] == "uncertainty_pattern"
    assert result.values["intent"] == "question_features"


def test_rule_3_is_for_no_time_only_a_timing_objection_stays(layers) -> None:
    result = layers.turn("перезвоните через месяц", "objection_timing", 0.7)
    assert entry(result, "objection")["reason"] == "genuine_objection"
    assert result.values["intent"] == "objection_timing"
