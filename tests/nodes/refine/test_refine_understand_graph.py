"""graphs/understand.yaml end to end: real normaliser, cascade, extractor, then the layers."""
from __future__ import annotations

import pytest

from tests.nodes.refine.conftest import entry


def test_lost_question_is_kept_next_to_the_data(understand) -> None:
    context = {"state": "spin_situation", "last_action": "ask_about_company", "last_bot_message": "Сколько человек у вас работает?"}
    result = understand.turn("100 человек. Сколько стоит?", context=context)
    assert result.values["intent"] in ("situation_provided", "info_provided")
    assert "price_question" in result.values["secondary_intents"]


@pytest.mark.parametrize(
    ("message", "context", "expected"),
    [
        ("да", {"spin_phase": "problem"}, "problem_revealed"),
        ("нет", {"spin_phase": "need_payoff"}, "no_need"),
        ("первое", {"state": "greeting", "spin_phase": "situation", "last_action": "ask_about_company"}, "situation_provided"),
        ("1", {"state": "spin_situation", "last_bot_message": "Что для вас приоритетнее — скорость или функционал?"}, "info_provided"),
        ("второй вариант", {"last_bot_message": "1) Wipon Desktop 2) Wipon Pro"}, "info_provided"),
        ("бюджет пока не определён", {"state": "presentation", "last_action": "ask_about_budget", "turn": 5}, "info_provided"),
        ("не уверен нужно ли это вообще", {"state": "handle_objection"}, "question_features"),
        ("синхронизация не работает", {"state": "greeting", "turn": 1}, "problem_revealed"),
    ],
)
def test_context_decides_with_the_real_classifier(understand, message: str, context: dict, expected: str) -> None:
    result = understand.turn(message, context=context)
    assert result.values["intent"] == expected, result.values["refinement_chain"]


def test_every_understand_turn_carries_the_chain(understand) -> None:
    result = understand.turn("сколько стоит касса?")
    chain = result.values["refinement_chain"]
    assert len(chain) == 12
    assert entry(result, "comparison")["reason"] == "flag_off"
    assert "action" not in result.values or result.values["action"] == "ask_clarification"
