"""refine.secondary_intents: the Lost Question fix, non-destructive."""
from __future__ import annotations

import pytest

from tests.nodes.refine.conftest import entry

NO_CALIBRATION = {"confidence_calibration": False}


def test_brief_example_data_answer_keeps_its_price_question(layers) -> None:
    # Brief: «100 человек. Сколько стоит?», info_provided 0.85 → unchanged, price_question added.
    result = layers.turn("100 человек. Сколько стоит?", "info_provided", 0.85, flags=NO_CALIBRATION)
    assert result.values["intent"] == "info_provided"
    assert result.values["intent_confidence"] == pytest.approx(0.85)
    assert result.values["secondary_intents"] == ["price_question"]
    assert result.values["secondary_intent_confidence"] == {"price_question": 0.9}
    layer = entry(result, "secondary_intents")
    assert (layer["decision"], layer["reason"]) == ("pass_through", "secondary_detected")


def test_primary_intent_is_never_its_own_secondary(layers) -> None:
    result = layers.turn("сколько стоит тариф?", "price_question", 0.9)
    assert result.values["secondary_intents"] == []
    assert entry(result, "secondary_intents")["reason"] == "no_secondary"


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("у нас 3 точки, а интеграция с каспи есть?", ["question_integrations"]),
        ("работаем в excel, что умеет ваша программа?", ["question_features"]),
    ],
)
def test_questions_and_requests_are_ranked_by_priority(layers, message: str, expected: list[str]) -> None:
    result = layers.turn(message, "situation_provided", 0.8, flags={"option_selection_refinement": False})
    assert result.values["secondary_intents"][: len(expected)] == expected


def test_explicit_request_outranks_a_data_statement(layers) -> None:
    # «12 человек, хочу демо»: the data statement becomes secondary, the request leads.
    result = layers.turn("12 человек, хочу демо", "situation_provided", 0.8, context={"spin_phase": "situation"})
    assert result.values["intent"] == "demo_request"
    assert result.values["secondary_intents"][0] == "situation_provided"
    layer = entry(result, "secondary_intents")
    assert (layer["decision"], layer["reason"]) == ("refined", "request_outranks_data")


def test_promoted_request_keeps_the_other_question(layers) -> None:
    result = layers.turn("5 кассиров, покажите демо и сколько стоит", "situation_provided", 0.8)
    assert result.values["intent"] == "demo_request"
    assert result.values["secondary_intents"] == ["situation_provided", "price_question"]


def test_question_primary_is_not_replaced_by_a_request(layers) -> None:
    result = layers.turn("сколько стоит и можно демо?", "price_question", 0.9)
    assert result.values["intent"] == "price_question"
    assert result.values["secondary_intents"] == ["demo_request"]


def test_flag_off_writes_nothing(layers) -> None:
    result = layers.turn("100 человек. Сколько стоит?", "info_provided", 0.85, flags={"secondary_intent_detection": False})
    assert "secondary_intents" not in result.values
    assert entry(result, "secondary_intents")["decision"] == "skipped"


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        # The brief's detection pattern groups, one phrase each.
        ("у нас 2 магазина. какая цена?", "price_question"),
        ("у нас 2 магазина. какие функции есть?", "question_features"),
        ("у нас 2 магазина. есть api?", "question_integrations"),
        ("у нас 2 магазина. нужна настройка ssl", "question_technical"),
        ("у нас 2 магазина. как с безопасностью данных?", "question_security"),
        ("у нас 2 магазина. какое оборудование нужно?", "question_equipment_general"),
        ("у нас 2 магазина. можно попробовать?", "demo_request"),
        ("у нас 2 магазина. свяжитесь со мной", "callback_request"),
    ],
)
def test_brief_detection_patterns(layers, message: str, expected: str) -> None:
    result = layers.turn(message, "info_provided", 0.8, flags={"secondary_intent_detection": True})
    found = set(result.values.get("secondary_intents") or []) | {result.values["intent"]}
    assert expected in found
