"""Policy rules through the full turn graph: overrides, directives, forward chaining, shadow mode, trace."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.runtime import Runtime
from engine.trace_store import TraceStore
from tests.nodes.dialogue_support import SHIPPED, Dialogue, shipped_runtime


@pytest.fixture(scope="module")
def runtime() -> Runtime:
    return shipped_runtime()


def fired(result_policy: dict) -> list[str]:
    return [item["rule"] for item in result_policy["fired"]]


def test_a_frustrated_client_is_offered_an_exit_visible_in_the_trace(tmp_path: Path) -> None:
    traced = Runtime(SHIPPED, "turn", trace=True, trace_db=tmp_path / "trace.duckdb", sessions_dir=tmp_path / "sessions")
    talk = Dialogue(traced, "frustrated", frustration=7.0)
    talk.say("Здравствуйте", "Добрый день", intent="greeting")
    assert talk.last("action") == "offer_exit"
    kinds = [item["kind"] for item in talk.last("response_directives")]
    assert "offer_exit" in kinds and "brevity" in kinds
    traced.close()
    with TraceStore(tmp_path / "trace.duckdb", read_only=True) as store:
        runs = {row["node_id"]: row for row in store.node_runs("test-frustrated", 1)}
    outputs = json.loads(runs["policy"]["outputs"])
    trace = outputs["policy"]
    assert [(item["rule"], item["order"]) for item in trace["fired"]] == [("detect_frustration", 1), ("frustrated_offer_exit", 2)]
    first, second = trace["fired"]
    frustration = json.loads(runs["envelope"]["outputs"])["envelope"]["frustration"]  # the tone node may have moved it from 7
    assert frustration >= 6
    assert first["facts"] == {"frustration": frustration, "is_final": False} and first["asserted"] == ["client_frustrated"]
    assert second["derived"] == ["client_frustrated"] and second["effects"]["set_action"] == "offer_exit"
    assert trace["overrides"]["action"] == ["greet", "offer_exit"]
    assert outputs["action"] == "offer_exit"


def test_shadow_mode_evaluates_and_traces_but_does_not_apply() -> None:
    shadow = shipped_runtime((("policy_shadow_mode", True),))
    talk = Dialogue(shadow, "shadow", frustration=7.0)
    talk.say("Здравствуйте", "Добрый день", intent="greeting")
    policy = talk.last("policy")
    assert policy["shadow"] is True
    assert fired(policy) == ["detect_frustration", "frustrated_offer_exit"]
    assert policy["overrides"]["action"] == ["greet", "offer_exit"]  # what it would have done
    assert talk.last("action") == "greet"
    assert "offer_exit" not in [item["kind"] for item in talk.last("response_directives") or []]
    assert "policy" not in talk.conversation.extra  # nothing remembered as applied


def test_policy_switched_off_leaves_the_fsm_decision() -> None:
    off = shipped_runtime((("context_policy", False),))
    talk = Dialogue(off, "policy-off", frustration=7.0)
    result = talk.say("Здравствуйте", "Добрый день", intent="greeting")
    assert talk.last("action") == "greet" and talk.last("policy") is None
    assert [run.status for run in result.runs if run.node_id == "policy"] == ["skipped"]


def test_three_unclear_messages_in_a_row_get_concrete_options(runtime: Runtime) -> None:
    talk = Dialogue(runtime, "unclear")
    gibberish = ("ывапролд", "asdkjh", "qwzx", "ъъъ ыыы", "zzzz")
    talk.say(*gibberish, intent="unclear")
    talk.say(*gibberish, intent="unclear")
    assert talk.last("action") != "offer_options"
    talk.say(*gibberish, intent="unclear")
    assert talk.last("envelope")["unclear_streak"] == 3
    assert talk.last("action") == "offer_options" and fired(talk.last("policy")) == ["unclear_offer_options"]
    talk.say(*gibberish, intent="unclear")
    assert talk.last("action") != "offer_options"  # not twice in a row: last_action guards it


def test_enough_data_offers_a_demo_once(runtime: Runtime) -> None:
    talk = Dialogue(runtime, "qualified", state="presentation", flow="spin_selling", lead_score=40.0,
                    collected_data={"business_type": "grocery", "pain_point": "недостачи"})
    stalling = ("хм", "ну не знаю", "посмотрим", "ясно")
    result = talk.say(*stalling, intent=None)
    assert result.values["transition"]["moved"] is False and talk.state == "presentation", result.values["transition"]
    assert "qualified_offer_demo" in fired(talk.last("policy")), talk.last("policy")
    assert talk.last("action") == "offer_demo"
    assert {"kind": "cta", "cta": "demo", "source": "qualified_offer_demo"} in talk.last("response_directives")
    talk.say(*stalling, intent=None)
    assert "qualified_offer_demo" not in fired(talk.last("policy") or {"fired": []})  # once per conversation


def test_the_durable_session_holds_no_facts_between_turns(runtime: Runtime) -> None:
    talk = Dialogue(runtime, "hygiene", frustration=8.0)
    talk.say("Здравствуйте", intent="greeting")
    node = runtime.graph.node("policy").instance
    assert node.compiled.stored_facts() == []
    assert node.compiled.evaluations >= 1
