"""``fallback.tiers`` through a graph: which tier answers, and why, for each trigger."""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from engine.node import NodeConfig, NodeContext
from engine.registry import _REGISTRY, register
from engine.state import ConversationState
from nodes.respond.variations import split_sentences
from tests.nodes.answers_support import ANSWER_GRAPH, copy_shipped, run_messages, small_graph

if "testing.broken_responder" not in _REGISTRY:

    @register("testing.broken_responder")
    class BrokenResponder:
        """A responder that always fails: exercises on_error: fallback in front of the tiers."""

        Config = NodeConfig
        reads = frozenset({"action"})
        writes = frozenset({"response", "template_id", "reply_plan"})

        def __init__(self, config: NodeConfig, resources: Any) -> None:
            pass

        def run(self, state: Mapping[str, Any], ctx: NodeContext) -> dict[str, Any]:
            raise RuntimeError("template store unavailable")


BROKEN_GRAPH = ANSWER_GRAPH.replace("name: answers", "name: broken").replace(
    "    type: respond.template\n    after: [knowledge]\n    config: {directives_key: response_directives, tone_key: tone_guidance}\n",
    "    type: testing.broken_responder\n    after: [knowledge]\n",
)


@pytest.fixture(scope="module")
def configs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple]:
    root = copy_shipped(tmp_path_factory.mktemp("fallback") / "config")
    return {"broken": small_graph(root, BROKEN_GRAPH, "broken"), "answers": small_graph(root)}


def conversation(state: str = "spin_problem", **fields: Any) -> ConversationState:
    return ConversationState(conversation_id="fallback-test", state=state, turn_count=4, **fields)


def test_upstream_failure_answers_from_the_knowledge_base_first(configs: dict) -> None:
    bundle, executor = configs["broken"]
    [result], _ = run_messages(executor, bundle, [("Сколько стоит ОФД в месяц?", {"action": "answer_price", "intent": "price_question"})], conversation=conversation())
    fallback = result.values["fallback"]
    assert (fallback["tier"], fallback["name"], fallback["reason"]) == (1, "knowledge", "upstream_error: respond")
    assert result.values["template_id"].startswith("kb:fiscal.ofd_price+ask_problem#")
    assert result.response.startswith(bundle.section("knowledge").get("fiscal.ofd_price").answer.strip())
    assert result.values["error"]["node"] == "respond"


def test_then_a_company_fact_with_the_dynamic_cta_of_the_collected_data(configs: dict) -> None:
    bundle, executor = configs["broken"]
    [result], state = run_messages(executor, bundle, [("ну да", {"action": "ask_problem", "intent": "agreement"})], conversation=conversation(collected_data={"competitor": "umag"}))
    fallback = result.values["fallback"]
    assert (fallback["tier"], fallback["name"], fallback["cta_id"]) == (2, "company_facts", "competitor_compare#0")
    fact_id = result.values["template_id"].split("+")[0].removeprefix("fact:")
    fact = next(item for item in bundle.section("knowledge").company_facts if item.id == fact_id)
    assert fact.text.strip()[:40].lower() in result.response.lower()
    assert "UMAG" in split_sentences(result.response)[-1]
    assert state.used_ctas == ["competitor_compare#0"] and state.extra["respond"]["facts"] == [fact_id]
    assert result.values["cta"] == {"id": None, "blocked_by": "fallback_cta"}


def test_then_the_generic_template_of_the_action_then_an_apology(configs: dict) -> None:
    bundle, executor = configs["broken"]
    told = {"respond": {"facts": [fact.id for fact in bundle.section("knowledge").company_facts]}}
    [generic], _ = run_messages(executor, bundle, [("ну да", {"action": "ask_problem", "intent": "agreement"})], conversation=conversation(extra=told))
    assert (generic.values["fallback"]["tier"], generic.values["fallback"]["name"]) == (3, "generic")
    assert generic.values["template_id"].startswith("ask_problem#")
    [apology], state = run_messages(executor, bundle, [("ну да", {"action": None, "intent": "agreement"})], conversation=conversation("presentation", extra=told))
    assert (apology.values["fallback"]["tier"], apology.values["fallback"]["tried"]) == (4, ["knowledge", "company_facts", "generic", "apology"])
    assert apology.values["template_id"].startswith("apology#")
    assert apology.values["cta"]["blocked_by"] == "backing_off"
    assert state.extra["fallback"]["tiers"] == {"apology": 1}


def test_an_unclear_message_keeps_the_template_once_and_steers_with_a_fact_when_it_repeats(configs: dict) -> None:
    bundle, executor = configs["answers"]
    turns = [("ыфвапр", {"action": "ask_problem", "intent": "unclear"}), ("олдж", {"action": "ask_problem", "intent": "unclear"})]
    (first, second), state = run_messages(executor, bundle, turns, conversation=conversation())
    assert (first.values["fallback"]["name"], first.values["fallback"]["reason"], first.values["fallback"]["changed"]) == ("generic", "unclear_intent", False)
    assert first.values["template_id"].startswith("ask_problem#")
    assert (second.values["fallback"]["name"], second.values["fallback"]["reason"]) == ("company_facts", "repeated_unclear")
    assert state.extra["fallback"]["tiers"] == {"generic": 1, "company_facts": 1}


def test_a_clear_turn_does_not_trigger_and_resets_the_unclear_streak(configs: dict) -> None:
    bundle, executor = configs["answers"]
    turns = [("ыфвапр", {"action": "ask_problem", "intent": "unclear"}), ("у нас аптека", {"action": "ask_problem", "intent": "situation_provided"}),
             ("олдж", {"action": "ask_problem", "intent": "unclear"})]
    results, _ = run_messages(executor, bundle, turns, conversation=conversation())
    assert [result.values["fallback"]["triggered"] for result in results] == [True, False, True]
    assert results[2].values["fallback"]["reason"] == "unclear_intent"


def test_the_tier_lists_come_from_yaml(tmp_path: Path) -> None:
    root = copy_shipped(tmp_path / "config")
    text = (root / "yaml_config/fallback.yaml").read_text(encoding="utf-8")
    assert "  unclear_intent: [knowledge, generic, apology]" in text
    (root / "yaml_config/fallback.yaml").write_text(text.replace("  unclear_intent: [knowledge, generic, apology]", "  unclear_intent: [apology]"), encoding="utf-8")
    bundle, executor = small_graph(root)
    [result], _ = run_messages(executor, bundle, [("ыфвапр", {"action": "ask_problem", "intent": "unclear"})], conversation=conversation())
    assert (result.values["fallback"]["tier"], result.values["template_id"].split("#")[0]) == (4, "apology")
