"""Conversation guard through the turn graph: each check, its intervention, the flow's move."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.runtime import Runtime
from tests.nodes.dialogue_support import Dialogue, shipped_runtime


@pytest.fixture(scope="module")
def runtime() -> Runtime:
    return shipped_runtime()


def entry(turn: int, state: str, text: str, intent: str = "price_question") -> dict:
    return {"turn": turn, "text": text, "intent": intent, "confidence": 0.9, "state": state, "data_count": 0, "action": "answer_price", "next_state": state, "bot": ""}


def in_state(state: str, entered_turn: int) -> dict:
    """Conversation fields for a conversation sitting in ``state`` since ``entered_turn``."""
    return {"state": state, "flow": "spin_selling", "extra": {"fsm": {"entered_turn": entered_turn, "phase_history": [state]}}}


def test_a_repeated_message_is_rephrased(runtime: Runtime) -> None:
    window = [entry(1, "spin_problem", "сколько стоит?"), entry(2, "spin_problem", "сколько стоит?")]
    talk = Dialogue(runtime, "repeat", context_window=window, turn_count=2, **in_state("spin_problem", 2))
    talk.say("сколько стоит?", intent="price_question")
    guard = talk.last("guard")
    assert guard["intervention"] == "rephrase" and guard["reasons"] == ["repeated_message"]
    assert guard["checks"]["repeated_message"] == {"value": 2, "triggered": True}
    transition = talk.last("transition")
    assert (transition["rule"], transition["trigger"], transition["to"]) == ("guard", "guard:rephrase", "spin_problem")
    assert {"kind": "rephrase", "source": "guard"} in talk.last("response_directives")
    assert talk.conversation.counters["guard.last_intervention_turn"] == 3


def test_a_state_held_too_long_skips_the_phase(runtime: Runtime) -> None:
    window = [entry(n, "spin_situation", f"сообщение {n}", intent="unclear") for n in (1, 2, 3)]
    talk = Dialogue(runtime, "stuck", context_window=window, turn_count=3, **in_state("spin_situation", 1))
    talk.say("хм", "ну", intent=None)
    assert talk.last("guard")["intervention"] == "skip_phase"
    assert talk.last("transition")["rule"] == "guard" and talk.state == "spin_problem"


def test_no_progress_while_states_bounce_offers_options(runtime: Runtime) -> None:
    window = [entry(n, state, f"сообщение {n}", intent="unclear") for n, state in enumerate(["spin_problem", "handle_objection", "spin_problem", "handle_objection"], 1)]
    for item in window:
        item["phases_done"] = 1
    memory = {"fsm": {"entered_turn": 4, "phase_history": ["spin_situation", "spin_problem"], "phases_done": ["situation"], "return_to": None}}
    talk = Dialogue(runtime, "bounce", state="spin_problem", flow="spin_selling", context_window=window, turn_count=4, extra=memory)
    talk.say("хм", "ну", intent=None)
    guard = talk.last("guard")
    assert guard["checks"]["state_stuck"] == {"value": 1, "triggered": False}
    assert guard["checks"]["no_progress"] == {"value": 5, "triggered": True}
    assert guard["intervention"] == "offer_options"
    assert talk.last("transition")["trigger"] == "guard:offer_options" and talk.last("action") == "offer_options"


def test_too_many_turns_close_softly(runtime: Runtime) -> None:
    talk = Dialogue(runtime, "long", turn_count=30, **in_state("spin_problem", 29))
    talk.say("хм", "ну", intent=None)
    assert talk.last("guard")["intervention"] == "soft_close" and talk.last("guard")["reasons"][0] == "max_turns"
    assert talk.state == "soft_close" and talk.last("transition")["trigger"] == "guard:soft_close"


def test_a_long_conversation_in_time_closes_softly(runtime: Runtime) -> None:
    started = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    talk = Dialogue(runtime, "slow", started_at=started, turn_count=2, **in_state("spin_problem", 1))
    talk.say("хм", "ну", intent=None)
    guard = talk.last("guard")
    assert guard["intervention"] == "soft_close" and "max_duration" in guard["reasons"]
    assert guard["checks"]["max_duration"]["value"] >= 119


def test_high_frustration_closes_softly() -> None:
    no_tone = shipped_runtime((("tone_analysis", False),))  # keep the preset frustration as it is
    talk = Dialogue(no_tone, "furious", frustration=9.5, turn_count=2, **in_state("spin_problem", 1))
    talk.say("хм", "ну", intent=None)
    assert talk.last("guard")["intervention"] == "soft_close" and talk.last("guard")["reasons"][0] == "high_frustration"
    assert talk.state == "soft_close"


def test_cooldown_and_exempt_states(runtime: Runtime) -> None:
    window = [entry(1, "spin_problem", "сколько стоит?"), entry(2, "spin_problem", "сколько стоит?")]
    cooling = Dialogue(runtime, "cooldown", context_window=window, turn_count=2, counters={"guard.last_intervention_turn": 2}, **in_state("spin_problem", 2))
    cooling.say("сколько стоит?", intent="price_question")
    guard = cooling.last("guard")
    assert guard["triggered"] == ["repeated_message"] and guard["intervention"] == "" and guard["note"].startswith("cooldown")
    assert cooling.last("action") == "answer_price"
    resting = Dialogue(runtime, "exempt", turn_count=40, **in_state("soft_close", 39))
    resting.say("хм", "ну", intent=None)
    assert resting.last("guard")["intervention"] == "" and resting.last("guard")["note"] == "state exempt"


def test_the_guard_can_be_switched_off() -> None:
    off = shipped_runtime((("conversation_guard", False),))
    talk = Dialogue(off, "guard-off", turn_count=30, **in_state("spin_problem", 29))
    talk.say("хм", "ну", intent=None)
    assert talk.last("guard") is None and talk.last("envelope")["guard_intervention"] == ""
    assert talk.last("transition")["rule"] != "guard"
