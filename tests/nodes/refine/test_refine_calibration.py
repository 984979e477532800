"""refine.confidence_calibration: entropy, gap and heuristic strategies, floor and ceiling."""
from __future__ import annotations

import pytest

from tests.nodes.refine.conftest import entry


def test_brief_example_da_with_close_agreement(layers) -> None:
    # Brief: LLM 0.9 for «да», alternative agreement 0.75 → entropy 0.05 + gap 0.1 +
    # short message 0.15 → 0.6.
    result = layers.turn("да", "info_provided", 0.9, [("agreement", 0.75)])
    calibration = entry(result, "confidence_calibration")
    assert calibration["decision"] == "refined"
    assert calibration["meta"]["penalties"] == {"entropy": 0.05, "gap": 0.1, "short_message": 0.15}
    assert calibration["confidence"] == pytest.approx(0.6)
    assert calibration["reason"] == "calibration:entropy+gap+heuristic"
    assert result.values["intent"] == "info_provided"  # the intent never changes
    assert calibration["from"] == ["info_provided", 0.9]


def test_clear_winner_long_message_passes_through(layers) -> None:
    result = layers.turn("у нас три магазина продуктов в алматы и учёт в тетради", "situation_provided", 0.7, [("info_provided", 0.03)])
    calibration = entry(result, "confidence_calibration")
    assert calibration["decision"] == "pass_through"
    assert calibration["meta"]["gap"] == pytest.approx(0.67)
    assert calibration["meta"]["entropy"] < 0.5
    assert result.values["intent_confidence"] == pytest.approx(0.7)


def test_ceiling_bounds_an_otherwise_clean_answer(layers) -> None:
    result = layers.turn("у нас три магазина продуктов в алматы и учёт в тетради", "situation_provided", 0.99, [("info_provided", 0.03)])
    calibration = entry(result, "confidence_calibration")
    assert calibration["decision"] == "refined"
    assert calibration["reason"] == "calibration:ceiling"
    assert calibration["confidence"] == pytest.approx(0.95)


def test_floor_bounds_a_pile_of_penalties(layers) -> None:
    # greeting at 0.9, one word, a close alternative, right after a data question: every
    # penalty fires, the floor stops the fall.
    result = layers.turn("ок", "greeting", 0.3, [("agreement", 0.29)], context={"last_action": "ask_about_company"})
    calibration = entry(result, "confidence_calibration")
    assert calibration["confidence"] >= 0.1
    result = layers.turn("ок", "greeting", 0.9, [("agreement", 0.89), ("small_talk", 0.88)], context={"last_action": "ask_about_company"})
    calibration = entry(result, "confidence_calibration")
    penalties = calibration["meta"]["penalties"]
    assert set(penalties) == {"entropy", "gap", "short_message", "overconfident_intent", "context_mismatch"}
    assert calibration["confidence"] == pytest.approx(max(0.1, 0.9 - sum(penalties.values())))


def test_objection_without_alternatives_rule_5(layers) -> None:
    result = layers.turn("это для нас слишком дорого сейчас", "objection_price", 0.8)
    penalties = entry(result, "confidence_calibration")["meta"]["penalties"]
    assert penalties == {"objection_overconfidence": 0.1, "objection_no_alternatives": 0.15}


def test_high_confidence_without_alternatives_pays_no_alternatives_penalty(layers) -> None:
    result = layers.turn("расскажите про интеграцию с каспи пожалуйста", "question_kaspi_integration", 0.9)
    calibration = entry(result, "confidence_calibration")
    assert calibration["meta"]["penalties"] == {"no_alternatives": 0.1}
    assert calibration["confidence"] == pytest.approx(0.8)


def test_flag_off_skips(layers) -> None:
    result = layers.turn("да", "info_provided", 0.9, [("agreement", 0.75)], flags={"confidence_calibration": False})
    calibration = entry(result, "confidence_calibration")
    assert (calibration["decision"], calibration["reason"]) == ("skipped", "flag_off")
    assert result.values["intent_confidence"] == pytest.approx(0.9)
