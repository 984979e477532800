"""refine.disambiguation (asks) and refine.disambiguation_resolution (reads the answer)."""
from __future__ import annotations

import pytest

from engine.state import ConversationState
from tests.nodes.refine.conftest import entry

CLOSE = [("price_question", 0.62), ("question_features", 0.6)]


def ask(layers, conversation: ConversationState | None = None, message: str = "расскажите про цены и возможности"):
    return layers.turn(message, "price_question", 0.62, CLOSE, conversation=conversation or ConversationState(conversation_id="disambiguation"))


def test_close_candidates_ask_a_numbered_question(layers) -> None:
    result = ask(layers)
    asked = result.values["disambiguation"]
    assert asked["status"] == "asked"
    assert asked["options"] == ["price_question", "question_features"]
    clarification = result.values["clarification"]
    assert [(item["number"], item["intent"]) for item in clarification["options"]] == [(1, "price_question"), (2, "question_features")]
    lines = clarification["question"].splitlines()
    assert [line.split(".", 1)[0] for line in lines[1:4]] == ["1", "2", "3"]  # 3 = «другое»
    assert result.values["action"] == "ask_clarification"
    assert result.values["intent"] == "price_question"  # the best guess stays visible
    pending = result.conversation_after.extra["disambiguation"]["pending"]
    assert pending["options"] == ["price_question", "question_features"] and pending["asked_turn"] == 1
    assert entry(result, "disambiguation")["reason"] == "clarification_asked"


def test_clear_winner_is_not_asked_about(layers) -> None:
    result = layers.turn("сколько стоит", "price_question", 0.62, [("price_question", 0.62), ("question_features", 0.4)])
    assert "disambiguation" not in result.values
    assert entry(result, "disambiguation")["reason"] == "clear_winner"


@pytest.mark.parametrize(
    ("answer", "classified", "expected", "reason", "confidence"),
    [
        ("2", "unclear", "question_features", "option_selected", 0.9),
        ("второе", "unclear", "question_features", "option_selected", 0.9),
        ("первый вариант", "unclear", "price_question", "option_selected", 0.9),
        ("про цену", "unclear", "price_question", "option_keyword", 0.85),
        ("3", "unclear", "unclear", "custom_option_selected", 0.9),
        ("другое", "unclear", "unclear", "custom_option_selected", 0.9),
    ],
)
def test_next_turn_resolves_by_number_ordinal_keyword_or_other(layers, answer: str, classified: str, expected: str, reason: str, confidence: float) -> None:
    first = ask(layers)
    second = layers.turn(answer, classified, 0.3, conversation=first.conversation_after)
    resolution = entry(second, "disambiguation_resolution")
    assert (resolution["decision"], resolution["reason"]) == ("refined", reason)
    assert second.values["intent"] == expected
    assert second.values["intent_confidence"] == pytest.approx(confidence)
    assert second.conversation_after.extra["disambiguation"]["pending"] is None
    assert entry(second, "disambiguation")["reason"] == "just_resolved"


def test_critical_intent_exits_at_once(layers) -> None:
    first = ask(layers)
    second = layers.turn("нет, не интересно", "rejection", 0.9, conversation=first.conversation_after)
    resolution = entry(second, "disambiguation_resolution")
    assert (resolution["decision"], resolution["reason"]) == ("pass_through", "critical_intent_exit")
    assert second.values["intent"] == "rejection"
    assert second.values["disambiguation"]["path"] == "critical"
    assert second.conversation_after.extra["disambiguation"]["pending"] is None


def test_free_text_is_its_own_answer(layers) -> None:
    first = ask(layers)
    second = layers.turn("а с каспи работает?", "question_kaspi_integration", 0.8, conversation=first.conversation_after)
    resolution = entry(second, "disambiguation_resolution")
    assert (resolution["decision"], resolution["reason"]) == ("pass_through", "custom_input")
    assert second.values["intent"] == "question_kaspi_integration"


def test_cooldown_between_clarifications(layers) -> None:
    conversation = ask(layers).conversation_after                                      # turn 1: asked
    conversation = layers.turn("2", "unclear", 0.3, conversation=conversation).conversation_after  # turn 2: resolved
    third = ask(layers, conversation)                                                  # turn 3: too soon
    assert entry(third, "disambiguation")["reason"] == "cooldown"
    conversation = third.conversation_after
    conversation = layers.turn("у нас два магазина", "situation_provided", 0.8, [("situation_provided", 0.8)], conversation=conversation).conversation_after  # turn 4
    fifth = ask(layers, conversation)                                                  # turn 5: 4 turns later
    assert fifth.values["disambiguation"]["status"] == "asked"


def test_unanswered_question_expires(layers) -> None:
    conversation = ask(layers).conversation_after
    conversation = conversation.model_copy(update={"turn_count": 2})  # a turn passed without the resolver
    late = layers.turn("2", "unclear", 0.3, conversation=conversation)
    assert entry(late, "disambiguation_resolution")["reason"] == "expired"
    assert late.values["intent"] != "question_features"


def test_context_refinement_wins_over_asking(layers) -> None:
    result = layers.turn("1", "greeting", 0.62, [("greeting", 0.62), ("question_features", 0.6)], context={"spin_phase": "situation"})
    assert result.values["intent"] == "situation_provided"
    assert entry(result, "disambiguation")["reason"] == "context_refined"


def test_critical_intent_is_never_asked_about(layers) -> None:
    result = layers.turn("позовите человека", "request_human", 0.6, [("request_human", 0.6), ("question_support", 0.59)])
    assert entry(result, "disambiguation")["reason"] == "critical_intent"


def test_flag_off_never_asks(layers) -> None:
    result = layers.turn("расскажите про цены и возможности", "price_question", 0.62, CLOSE, flags={"intent_disambiguation": False})
    assert "clarification" not in result.values
    assert entry(result, "disambiguation")["reason"] == "flag_off"


def test_question_the_dialogue_did_not_show_is_dropped(layers) -> None:
    # In the full turn graph the FSM writes conv.last_action; if it answered with something
    # other than the clarification, a later «1» must not pick an option nobody offered.
    conversation = ask(layers).conversation_after.model_copy(update={"last_action": "ask_problem"})
    second = layers.turn("1", "unclear", 0.3, conversation=conversation)
    assert entry(second, "disambiguation_resolution")["reason"] == "question_not_shown"
    assert second.conversation_after.extra["disambiguation"]["pending"] is None
    shown = ask(layers).conversation_after.model_copy(update={"last_action": "ask_clarification"})
    assert layers.turn("1", "unclear", 0.3, conversation=shown).values["intent"] == "price_question"
