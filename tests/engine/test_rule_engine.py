"""The durable-rules adapter: salience order, forward chaining, flat memory, parity with Python."""
from __future__ import annotations

import random

from engine.conditions import AllOf, AnyOf, Derived, Leaf, NotOf
from engine.rule_engine import RuleDef, rule_host


def in_category(intent: str, category: str) -> bool:
    return category == "objection" and intent.startswith("objection_")


RULES = [
    RuleDef("unclear", 80, Leaf("unclear_streak", "gte", 3)),
    RuleDef("frustrated", 100, AllOf((Leaf("frustration", "gte", 6), Leaf("is_final", "eq", False))), asserts=("client_frustrated",)),
    RuleDef("exit", 90, AllOf((Derived("client_frustrated"), Leaf("state", "not_in", ("success", "soft_close"))))),
    RuleDef("objection_or_demo", 60, AnyOf((Leaf("intent", "in_category", "objection"), Leaf("actions", "contains", "offer_demo")))),
    RuleDef("no_demo_yet", 20, NotOf(Leaf("actions", "contains_any", ("offer_demo", "ask_contact")))),
    RuleDef("chained_twice", 10, AllOf((Derived("client_frustrated"), Derived("client_frustrated")))),
]


def facts(**overrides):
    base = {"unclear_streak": 0, "frustration": 0.0, "is_final": False, "state": "greeting", "intent": "agreement", "actions": []}
    base.update(overrides)
    return base


def test_rules_fire_in_salience_order_and_chain_through_derived_facts() -> None:
    ruleset = rule_host().compile("test_order", RULES)
    evaluation = ruleset.evaluate(facts(unclear_streak=3, frustration=8, intent="objection_price"), in_category)
    assert [firing.rule_id for firing in evaluation.firings] == ["frustrated", "exit", "unclear", "objection_or_demo", "no_demo_yet", "chained_twice"]
    assert [firing.order for firing in evaluation.firings] == [1, 2, 3, 4, 5, 6]
    assert evaluation.derived == ["client_frustrated"]
    exit_rule = evaluation.firings[1]
    assert exit_rule.derived == ("client_frustrated",) and exit_rule.facts == {"state": "greeting"}
    assert evaluation.firings[0].facts == {"frustration": 8, "is_final": False}
    assert evaluation.errors == []


def test_a_derived_fact_does_not_outlive_its_evaluation() -> None:
    ruleset = rule_host().compile("test_order", RULES)
    ruleset.evaluate(facts(frustration=8), in_category)
    calm = ruleset.evaluate(facts(frustration=1, actions=["offer_demo"]), in_category)
    assert [firing.rule_id for firing in calm.firings] == ["objection_or_demo"]
    assert ruleset.stored_facts() == []


def test_nothing_matching_fires_nothing() -> None:
    ruleset = rule_host().compile("test_order", RULES)
    evaluation = ruleset.evaluate(facts(actions=["ask_contact"]), in_category)
    assert evaluation.firings == [] and evaluation.errors == []


def test_durable_agrees_with_the_python_reference_on_random_facts() -> None:
    ruleset = rule_host().compile("test_order", RULES)
    rng = random.Random(5)
    for _ in range(1500):
        sample = facts(
            unclear_streak=rng.randint(0, 4),
            frustration=rng.choice([0, 5.5, 6, 9]),
            is_final=rng.random() < 0.2,
            state=rng.choice(["greeting", "success", "soft_close", "close"]),
            intent=rng.choice(["agreement", "objection_price", "objection_think", "unclear"]),
            actions=rng.sample(["offer_demo", "ask_contact", "present", "greet"], rng.randint(0, 3)),
        )
        durable = [firing.rule_id for firing in ruleset.evaluate(sample, in_category).firings]
        assert durable == ruleset.evaluate_python(sample, in_category), sample
    assert ruleset.stored_facts() == []


def test_the_host_compiles_each_distinct_ruleset_once() -> None:
    host = rule_host()
    first = host.compile("test_cache", RULES[:2])
    again = host.compile("test_cache", list(RULES[:2]))
    other = host.compile("test_cache", RULES[:3])
    assert first is again and other is not first
