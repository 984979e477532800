"""refine.composite_message: data wins over meta-signals in data context."""
from __future__ import annotations

import pytest

from tests.nodes.refine.conftest import entry

ASK_SIZE = {"last_action": "ask_about_company", "last_bot_message": "Сколько у вас человек в команде?"}


def test_brief_example_1_data_with_urgency(layers) -> None:
    result = layers.turn("5 человек, быстрее давайте", "objection_timing", 0.7, context=ASK_SIZE)
    layer = entry(result, "composite_message")
    assert (layer["decision"], layer["reason"]) == ("refined", "data_extracted:company_size")
    assert layer["meta"]["data"] == {"company_size": 5}
    assert layer["meta"]["secondary_signals"] == ["urgency"]
    assert result.values["intent"] == "info_provided"
    assert result.values["intent_confidence"] == pytest.approx(0.75)


def test_brief_example_2_ambiguous_phrase_in_rejection_context(layers) -> None:
    result = layers.turn("больше не нужно", "rejection", 0.8, context={"last_action": "ask_about_problem", "last_bot_message": "Какие у вас боли?"})
    layer = entry(result, "composite_message")
    assert (layer["decision"], layer["reason"]) == ("pass_through", "ambiguity_kept:no_more_needed:rejection_context")
    assert result.values["intent"] == "rejection"


def test_ambiguous_phrase_in_data_context_is_an_answer(layers) -> None:
    result = layers.turn("больше не нужно", "rejection", 0.8, context=ASK_SIZE)
    assert entry(result, "composite_message")["reason"] == "ambiguity_resolved:no_more_needed:data_context"
    assert result.values["intent"] == "info_provided"


def test_in_a_spin_state_the_data_intent_follows_the_phase(layers) -> None:
    result = layers.turn("5 человек, больше не нужно, быстрее", "objection_think", 0.7, context={"state": "spin_situation", **ASK_SIZE})
    assert result.values["intent"] == "situation_provided"


def test_question_with_data_keeps_the_question_secondary(layers) -> None:
    context = {"state": "spin_situation", "spin_phase": "situation", "last_action": "ask_about_company"}
    result = layers.turn("У нас ресторан, 20 столов. Какие возможности есть?", "question_features", 0.8, context=context)
    layer = entry(result, "composite_message")
    assert layer["reason"].startswith("data_with_question:")
    assert result.values["intent"] == "situation_provided"
    assert result.values["secondary_intents"][0] == "question_features"


def test_without_data_context_nothing_changes(layers) -> None:
    result = layers.turn("5 человек, быстрее давайте", "objection_timing", 0.7, context={"last_action": "offer_demo"})
    assert entry(result, "composite_message")["reason"] == "no_data_context"
    assert result.values["intent"] == "objection_timing"


def test_objection_without_data_passes(layers) -> None:
    result = layers.turn("мне нужно подумать", "objection_think", 0.7, context=ASK_SIZE)
    assert entry(result, "composite_message")["reason"] == "no_data_found"


def test_brevity_marker_around_data_is_an_answer_in_any_context(layers) -> None:
    context = {"state": "handle_objection", "last_action": "handle_time_objection"}
    result = layers.turn("если коротко: аптека, три фармацевта", "request_brevity", 0.9, context=context)
    layer = entry(result, "composite_message")
    assert (layer["decision"], layer["reason"]) == ("refined", "data_extracted:company_size")
    assert layer["meta"]["data"]["company_size"] == 3
    assert result.values["intent"] == "info_provided"


def test_content_free_rule_needs_data_and_a_content_free_intent(layers) -> None:
    context = {"state": "handle_objection", "last_action": "handle_time_objection"}
    result = layers.turn("короче, не грузите", "request_brevity", 0.9, context=context)
    assert entry(result, "composite_message")["reason"] == "no_data_context"
    assert result.values["intent"] == "request_brevity"
    result = layers.turn("нет времени, у меня 3 продавца на смене", "objection_no_time", 0.9, context=context)
    assert entry(result, "composite_message")["reason"] == "no_data_context"
    assert result.values["intent"] == "objection_no_time"
