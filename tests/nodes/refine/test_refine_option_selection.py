"""refine.option_selection: «1», «второе», «первый вариант» after a question with options."""
from __future__ import annotations

import pytest

from tests.nodes.refine.conftest import entry


@pytest.mark.parametrize(
    ("bot", "message", "intent", "confidence", "expected_confidence", "kind", "option"),
    [
        # Brief, errors example 1 / success example 1: inline «или» question.
        ("Скорость или функционал?", "1", "request_brevity", 0.9, 0.9, "inline_choice", "скорость"),
        ("Скорость или функционал важнее?", "1", "request_brevity", 0.9, 0.9, "inline_choice", "скорость"),
        # Brief, errors example 2: numbered options.
        ("1) Desktop 2) Pro 3) Kassa — что интересует?", "второе", "unclear", 0.7, 0.85, "numbered_list", "Pro"),
        # Brief, success example 2.
        ("1) Wipon Desktop 2) Wipon Pro", "второй вариант", "unclear", 0.7, 0.85, "numbered_list", "Wipon Pro"),
    ],
)
def test_brief_examples(layers, bot: str, message: str, intent: str, confidence: float, expected_confidence: float, kind: str, option: str) -> None:
    result = layers.turn(message, intent, confidence, context={"last_bot_message": bot})
    layer = entry(result, "option_selection")
    assert layer["decision"] == "refined"
    assert layer["reason"] == f"option_selected:{kind}"
    assert layer["meta"]["option"] == option
    assert result.values["intent"] == "info_provided"
    assert result.values["intent_confidence"] == pytest.approx(expected_confidence)


def test_three_way_choice_with_dash_lead(layers) -> None:
    bot = "Понял. Что для вас важнее — скорость, контроль или снижение ошибок?"
    result = layers.turn("3", "unclear", 0.3, context={"last_bot_message": bot})
    layer = entry(result, "option_selection")
    assert layer["meta"]["options"] == ["скорость", "контроль", "снижение ошибок"]
    assert layer["meta"]["option"] == "снижение ошибок"
    assert result.values["intent"] == "info_provided"


def test_number_outside_the_options_is_not_a_choice(layers) -> None:
    result = layers.turn("5", "unclear", 0.3, context={"last_bot_message": "Скорость или функционал?"})
    assert entry(result, "option_selection")["reason"] == "option_out_of_range"
    assert result.values["intent"] != "info_provided" or entry(result, "option_selection")["decision"] != "refined"


def test_question_without_options_leaves_the_number_to_others(layers) -> None:
    result = layers.turn("1", "request_brevity", 0.9, context={"last_bot_message": "Сколько человек в команде?"})
    assert entry(result, "option_selection")["reason"] == "no_options_offered"


def test_chosen_option_in_a_spin_phase_is_not_overridden_by_short_answer(layers) -> None:
    context = {"state": "spin_situation", "spin_phase": "situation", "last_bot_message": "Что для вас приоритетнее — скорость или функционал?"}
    result = layers.turn("1", "info_provided", 0.54, context=context)
    assert result.values["intent"] == "info_provided"
    assert entry(result, "short_answer")["reason"] == "refined_earlier"


def test_longer_message_is_not_an_option_answer(layers) -> None:
    result = layers.turn("первое время мы всё считали вручную", "situation_provided", 0.8, context={"last_bot_message": "Скорость или функционал?"})
    assert entry(result, "option_selection")["reason"] == "not_an_option_answer"
    assert result.values["intent"] == "situation_provided"
