"""refine.short_answer: SPIN-phase aware «да», «1», «нет», «первое» (the State Loop fix)."""
from __future__ import annotations

import pytest

from tests.nodes.refine.conftest import entry


def test_brief_example_1_number_in_situation(layers) -> None:
    result = layers.turn("1", "greeting", 0.8, context={"spin_phase": "situation"})
    layer = entry(result, "short_answer")
    assert (layer["decision"], layer["reason"]) == ("refined", "short_answer_number_in_situation")
    assert result.values["intent"] == "situation_provided"
    assert result.values["intent_confidence"] == pytest.approx(0.7)


def test_brief_example_2_yes_with_pain_in_problem(layers) -> None:
    result = layers.turn("да, теряем клиентов", "greeting", 0.7, context={"spin_phase": "problem"})
    assert entry(result, "short_answer")["reason"] == "short_answer_positive_in_problem"
    assert result.values["intent"] == "problem_revealed"
    assert result.values["intent_confidence"] == pytest.approx(0.7)
    assert result.values["extracted"].get("pain_category") == "losing_clients"


def test_brief_example_3_ordinal_in_implication(layers) -> None:
    result = layers.turn("первое", "greeting", 0.8, context={"spin_phase": "implication"})
    assert entry(result, "short_answer")["meta"]["polarity"] == "number"
    assert result.values["intent"] == "implication_acknowledged"
    assert result.values["intent_confidence"] == pytest.approx(0.7)


@pytest.mark.parametrize(
    ("message", "intent", "context", "expected"),
    [
        ("да", "agreement", {"spin_phase": "problem"}, "problem_revealed"),
        ("нет", "rejection", {"spin_phase": "problem"}, "no_problem"),
        ("нет", "rejection", {"spin_phase": "need_payoff"}, "no_need"),
        ("да", "agreement", {"last_action": "spin_implication"}, "implication_acknowledged"),
        ("да", "agreement", {"state": "greeting", "spin_phase": "situation", "last_action": "ask_about_company"}, "situation_provided"),
        ("1", "info_provided", {"state": "greeting", "last_action": "ask_about_company"}, "situation_provided"),
        ("первое", "greeting", {"state": "greeting", "last_action": "ask_for_clarification", "spin_phase": "situation"}, "situation_provided"),
        ("да", "agreement", {"state": "spin_need_payoff"}, "need_expressed"),
    ],
)
def test_short_answers_follow_the_phase(layers, message: str, intent: str, context: dict, expected: str) -> None:
    result = layers.turn(message, intent, 0.8, context=context)
    assert result.values["intent"] == expected


@pytest.mark.parametrize(
    ("message", "intent", "context", "reason"),
    [
        # The last action asked no SPIN question: «да» answers the close offer itself.
        ("да", "agreement", {"state": "close", "spin_phase": "implication", "last_action": "close"}, "already_answer"),
        ("нет", "rejection", {"last_action": "presentation"}, "already_answer"),
        ("нет, дорого", "objection_price", {"last_action": "presentation"}, "not_a_bare_answer"),
        ("да", "agreement", {"last_action": "greet_back"}, "action_not_phase_specific"),
        # A real greeting and thanks mean what they say.
        ("привет", "greeting", {"spin_phase": "situation"}, "explicit_meaning"),
        ("спасибо", "gratitude", {"spin_phase": "problem"}, "explicit_meaning"),
        # «не интересно» is a refusal, not «no problem»: rejection is refinable only for a bare «нет».
        ("не интересно", "rejection", {"spin_phase": "problem"}, "polarity_not_accepted"),
        # Outside SPIN phases (BANT budget) there is nothing to map to.
        ("да", "agreement", {"state": "bant_budget", "spin_phase": "budget", "last_action": "ask_about_budget"}, "action_not_phase_specific"),
    ],
)
def test_short_answers_that_stay(layers, message: str, intent: str, context: dict, reason: str) -> None:
    result = layers.turn(message, intent, 0.8, context=context)
    layer = entry(result, "short_answer")
    assert layer["reason"] == reason
    assert layer["intent"] == intent


@pytest.mark.parametrize(
    ("message", "classified", "context", "expected"),
    [
        ("да", "implication_acknowledged", {"state": "close", "spin_phase": "implication", "last_action": "close"}, "agreement"),
        ("да, хорошо", "no_problem", {"state": "presentation", "last_action": "presentation"}, "agreement"),
        ("ну ладно", "skepticism_expression", {"state": "presentation", "last_action": "presentation"}, "agreement"),
        ("нет", "info_provided", {"last_action": "handle_objection"}, "rejection"),
    ],
)
def test_bare_yes_no_answers_the_offer_just_made(layers, message: str, classified: str, context: dict, expected: str) -> None:
    result = layers.turn(message, classified, 0.7, context=context)
    layer = entry(result, "short_answer")
    assert layer["reason"].startswith("short_answer_")
    assert layer["meta"]["last_action"] == context["last_action"]
    assert result.values["intent"] == expected
    assert result.values["intent_confidence"] == pytest.approx(0.75)


def test_long_message_is_not_a_short_answer(layers) -> None:
    result = layers.turn("да, у нас пять магазинов и везде разные кассы, учёт ведём в тетрадях", "greeting", 0.8, context={"spin_phase": "situation"})
    assert entry(result, "short_answer")["reason"] == "not_short"


def test_neutral_answer_takes_the_positive_intent_at_lower_confidence(layers) -> None:
    result = layers.turn("аптека", "small_talk", 0.6, context={"spin_phase": "situation"})
    assert result.values["intent"] == "situation_provided"
    assert result.values["intent_confidence"] == pytest.approx(0.7 * 0.85)


def test_flag_off_leaves_the_state_loop(layers) -> None:
    result = layers.turn("1", "greeting", 0.8, context={"spin_phase": "situation"}, flags={"classification_refinement": False})
    assert entry(result, "short_answer")["decision"] == "skipped"
    assert result.values["intent"] == "greeting"
