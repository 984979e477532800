"""``cta.generate`` through a graph: gates, dynamic options by collected data, no repeats."""
from __future__ import annotations

from typing import Any

import pytest

from engine.state import ConversationState
from tests.nodes.answers_support import copy_shipped, run_messages, small_graph

#: A non-question reply with an action that does not back off: the moment a CTA may follow.
STATEMENT = ("у нас магазин", {"action": "answer_unknown", "intent": "info_provided"})


@pytest.fixture(scope="module")
def answers(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    root = copy_shipped(tmp_path_factory.mktemp("cta") / "config")
    return small_graph(root)


def conversation(state: str = "presentation", turn_count: int = 4, **fields: Any) -> ConversationState:
    return ConversationState(conversation_id="cta-test", state=state, turn_count=turn_count, **fields)


def cta_of(answers: tuple, turn: tuple = STATEMENT, flags: dict | None = None, **fields: Any) -> dict:
    bundle, executor = answers
    [result], _ = run_messages(executor, bundle, [turn], conversation=conversation(**fields), flags=flags)
    return result.values["cta"] | {"_response": result.response}


@pytest.mark.parametrize(
    ("fields", "blocked_by"),
    [
        ({"turn_count": 1}, "early_turn"),  # turn 2 < min_turn 3
        ({"state": "greeting"}, "early_state"),
        ({"state": "spin_situation"}, "early_state"),
        ({"frustration": 5.0}, "frustration"),
        ({"collected_data": {"phone": "+77011234567"}}, "contact_collected"),
    ],
)
def test_gates_block_and_name_the_reason(answers: tuple, fields: dict, blocked_by: str) -> None:
    cta = cta_of(answers, **fields)
    assert (cta["id"], cta["blocked_by"]) == (None, blocked_by)


def test_backing_off_and_questions_get_no_cta(answers: tuple) -> None:
    assert cta_of(answers, ("нет, спасибо", {"action": "soft_close", "intent": "rejection"}))["blocked_by"] == "backing_off"
    assert cta_of(answers, ("дорого", {"action": "handle_price_objection", "intent": "objection_price", "response_directives": [{"kind": "offer_exit"}]}))["blocked_by"] == "backing_off"
    assert cta_of(answers, ("ну", {"action": "ask_problem", "intent": "info_provided"}), state="spin_problem")["blocked_by"] == "reply_asks"


def test_just_below_the_frustration_limit_a_state_cta_is_added(answers: tuple) -> None:
    bundle, _executor = answers
    state_ctas = {item.id: item for item in bundle.section("cta").state_ctas}
    cta = cta_of(answers, frustration=4.9)
    assert cta["source"] == "state" and "presentation" in state_ctas[cta["id"]].states
    assert cta["_response"].endswith(cta["text"])


def test_a_mentioned_competitor_outranks_the_pain_and_the_state(answers: tuple) -> None:
    cta = cta_of(answers, collected_data={"competitor": "iiko", "pain_category": "no_control"})
    assert cta["id"] in ("competitor_compare#0", "competitor_compare#1") and (cta["source"], cta["priority"]) == ("dynamic", 10)
    assert "iiko" in cta["text"]
    assert cta_of(answers, collected_data={"pain_category": "manual_work"})["id"].startswith("pain_manual_work#")


def test_no_cta_is_repeated_in_a_conversation(answers: tuple) -> None:
    bundle, executor = answers
    results, state = run_messages(executor, bundle, [STATEMENT] * 8, conversation=conversation("handle_objection", collected_data={"competitor": "umag"}))
    ids = [result.values["cta"]["id"] for result in results]
    shown = [item for item in ids if item]
    assert sorted(shown[:2]) == ["competitor_compare#0", "competitor_compare#1"]  # priority 10 first
    assert len(shown) == len(set(shown)) and state.used_ctas == shown
    available = 2 + sum(1 for item in bundle.section("cta").state_ctas if "handle_objection" in item.states)
    assert len(shown) == available
    assert results[-1].values["cta"]["blocked_by"] == "no_unused_cta"


def test_dynamic_options_can_be_switched_off(answers: tuple) -> None:
    cta = cta_of(answers, flags={"dynamic_cta": False}, collected_data={"competitor": "iiko"})
    assert cta["source"] == "state"
