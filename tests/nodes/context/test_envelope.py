"""Context window and envelope through the turn graph: history, counters, detectors, missing data."""
from __future__ import annotations

import pytest

from engine.runtime import Runtime
from nodes.context import detectors
from tests.nodes.dialogue_support import Dialogue, shipped_runtime


@pytest.fixture(scope="module")
def runtime() -> Runtime:
    return shipped_runtime()


def entry(turn: int, intent: str, state: str, text: str = "…", confidence: float = 0.9, data_count: int = 0, action: str = "ask_problem") -> dict:
    return {"turn": turn, "text": text, "intent": intent, "confidence": confidence, "state": state, "data_count": data_count, "action": action, "next_state": state, "bot": ""}


def test_the_window_keeps_the_last_turns_and_backfills_what_the_bot_did(runtime: Runtime) -> None:
    talk = Dialogue(runtime, "window")
    talk.say("Здравствуйте", intent="greeting")
    talk.say("у нас 3 продуктовых магазина, 5 продавцов", "у нас магазин продуктов, 5 продавцов", intent="situation_provided")
    window = talk.conversation.context_window
    assert [item["turn"] for item in window] == [1, 2]
    assert window[0]["action"] == "greet" and window[0]["next_state"] == "greeting"
    assert "action" not in window[1]  # completed when the next message arrives
    assert window[1]["intent"] == "situation_provided" and window[1]["state"] == "greeting"
    for _ in range(8):
        talk.say("хм", "ну", intent=None)
    window = talk.conversation.context_window
    assert len(window) == 8 and window[0]["turn"] == 3 and window[-1]["turn"] == 10
    assert [item["turn"] for item in window] == list(range(3, 11))


def test_counters_and_streaks(runtime: Runtime) -> None:
    talk = Dialogue(runtime, "counters")
    talk.say("Здравствуйте", intent="greeting")
    talk.say("дорого", "слишком дорого для нас", intent="objection_price")
    talk.say("нет времени", "некогда сейчас этим заниматься", intent="objection_no_time")
    envelope = talk.last("envelope")
    assert (envelope["objection_count"], envelope["objection_streak"]) == (2, 2)
    talk.say("да", "хорошо", intent="agreement")
    envelope = talk.last("envelope")
    assert (envelope["objection_count"], envelope["objection_streak"]) == (2, 0)
    assert envelope["positive_count"] == 2  # greeting and agreement are positive signals
    talk.say("сколько стоит?", "а сколько стоит программа?", intent="price_question")
    assert talk.last("envelope")["question_count"] == 1
    assert talk.conversation.counters["objections"] == 2 and talk.conversation.counters["questions"] == 1


def test_oscillation_between_interest_and_objection(runtime: Runtime) -> None:
    window = [entry(1, "agreement", "spin_problem"), entry(2, "objection_price", "handle_objection"), entry(3, "agreement", "spin_problem")]
    talk = Dialogue(runtime, "oscillation", state="spin_problem", flow="spin_selling", context_window=window, turn_count=3, last_action="ask_problem")
    talk.say("дорого", "слишком дорого для нас", intent="objection_price")
    assert talk.last("envelope")["has_oscillation"] is True
    calm = Dialogue(runtime, "no-oscillation", state="spin_problem", flow="spin_selling", context_window=window[:1], turn_count=1)
    calm.say("дорого", "слишком дорого для нас", intent="objection_price")
    assert calm.last("envelope")["has_oscillation"] is False


def test_stuck_repeated_question_and_confidence_trend(runtime: Runtime) -> None:
    window = [entry(n, "price_question", "spin_situation", text="сколько стоит?", confidence=0.3) for n in (1, 2, 3)]
    talk = Dialogue(runtime, "stuck", state="spin_situation", flow="spin_selling", context_window=window, turn_count=3, last_action="answer_price")
    talk.say("сколько стоит?", intent="price_question")
    envelope = talk.last("envelope")
    assert envelope["is_stuck"] is True
    assert envelope["repeated_question"] is True
    assert envelope["confidence_trend"] == "rising"  # 0.3, 0.3 → 0.3, ~0.95
    assert envelope["intent_history"] == ["price_question"] * 4
    assert envelope["state_history"] == ["spin_situation"] * 4


def test_missing_data_and_essentials(runtime: Runtime) -> None:
    talk = Dialogue(runtime, "missing", state="spin_situation", flow="spin_selling", collected_data={"pain_point": "недостачи"})
    talk.say("хм", "ну", intent=None)
    envelope = talk.last("envelope")
    assert envelope["phase"] == "situation"
    assert envelope["collected_fields"] == ["pain_point"]
    assert envelope["missing_data"] == ["business_type"]
    assert envelope["essentials_known"] is False and envelope["missing_essentials"] == ["business_type"]
    known = Dialogue(runtime, "known", state="spin_situation", flow="spin_selling", collected_data={"pain_point": "недостачи", "business_type": "pharmacy"})
    known.say("хм", "ну", intent=None)
    envelope = known.last("envelope")
    assert envelope["missing_data"] == [] and envelope["essentials_known"] is True and envelope["missing_essentials"] == []


def test_detectors_directly() -> None:
    assert detectors.oscillation(["I", "O", "I", "O"], 6, 3) is True
    assert detectors.oscillation(["I", "", "O", "", "I"], 6, 3) is False
    assert detectors.oscillation(["O", "O", "O", "O"], 6, 1) is False
    assert detectors.confidence_trend([0.9, 0.9, 0.4, 0.5], 4, 0.1) == "falling"
    assert detectors.confidence_trend([0.5, 0.55, 0.5, 0.52], 4, 0.1) == "stable"
    assert detectors.engagement(["у нас сеть из пяти продуктовых магазинов в Алматы и Шымкенте"], 3, 8, 2.5) == "high"
    assert detectors.engagement(["да", "ок"], 3, 8, 2.5) == "low"
    assert detectors.trailing([1, 2, 2, 2], lambda value: value == 2) == 3
