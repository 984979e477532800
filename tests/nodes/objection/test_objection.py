"""Objection handler through the turn graph: types, strategy per attempt, limits, flag off."""
from __future__ import annotations

import pytest

from engine.runtime import Runtime
from tests.nodes.dialogue_support import Dialogue, shipped_runtime

PRICE = ("дорого", "слишком дорого для нас")
AGREE = ("да", "хорошо", "давайте")
NO_TIME = ("нет времени", "некогда сейчас этим заниматься")
THINK = ("подумаю", "мне надо подумать")


@pytest.fixture(scope="module")
def runtime() -> Runtime:
    return shipped_runtime()


def start(runtime: Runtime, name: str) -> Dialogue:
    return Dialogue(runtime, name, state="spin_problem", flow="spin_selling", turn_count=2)


def test_the_seven_brief_types_are_distinct(runtime: Runtime) -> None:
    handler = runtime.graph.node("objection").instance
    intents = ["objection_price", "objection_no_time", "objection_think", "objection_competitor", "objection_complexity", "objection_trust", "objection_no_need"]
    types = [handler.type_of(intent) for intent in intents]
    assert types == ["price", "no_time", "think", "competitor", "complexity", "trust", "no_need"]
    assert handler.type_of("objection_company_policy") == "other"
    assert handler.type_of("agreement") is None


def test_each_attempt_at_a_type_gets_the_next_strategy(runtime: Runtime) -> None:
    talk = start(runtime, "strategies")
    talk.say(*PRICE, intent="objection_price")
    assert (talk.last("objection")["strategy"], talk.last("action")) == ("value_reframe", "handle_price_objection")
    talk.say(*AGREE, intent="agreement")
    assert talk.state == "spin_problem"
    talk.say(*PRICE, intent="objection_price")
    objection = talk.last("objection")
    assert (objection["strategy"], objection["attempt"]) == ("roi_calculation", 2)
    assert talk.conversation.counters["objection.price"] == 2


def test_five_objections_in_total_end_in_a_soft_close(runtime: Runtime) -> None:
    talk = start(runtime, "total")
    for objection, intent in ((PRICE, "objection_price"), (NO_TIME, "objection_no_time"), (THINK, "objection_think"), (PRICE, "objection_price")):
        talk.say(*objection, intent=intent)
        assert talk.last("objection")["should_soft_close"] is False
        talk.say(*AGREE, intent="agreement")
        assert talk.state != "soft_close"
    talk.say(*NO_TIME, intent="objection_no_time")
    objection = talk.last("objection")
    assert objection["total"] == 5 and objection["streak"] == 1 and objection["should_soft_close"] is True
    assert talk.state == "soft_close" and talk.last("transition")["rule"] == "objection_limit"


def test_with_the_handler_off_objections_get_the_generic_answer_and_no_limit() -> None:
    off = shipped_runtime((("objection_handler", False),))
    talk = start(off, "handler-off")
    for objection, intent in ((PRICE, "objection_price"), (NO_TIME, "objection_no_time"), (THINK, "objection_think")):
        talk.say(*objection, intent=intent)
    assert talk.last("objection") is None
    assert talk.state == "handle_objection" and talk.last("action") == "handle_objection"  # no limit without the handler
