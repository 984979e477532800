"""The declarative condition grammar: parsing with file:line issues, and Python evaluation."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from engine.conditions import AllOf, AnyOf, ConditionContext, FactSpec, Leaf, evaluate, negate, parse_condition
from engine.yaml_loader import LoadedYaml

FACTS = {
    "unclear_streak": FactSpec("number"),
    "has_oscillation": FactSpec("bool"),
    "intent": FactSpec("intent"),
    "state": FactSpec("state"),
    "phases_done": FactSpec("list", domain="phase"),
    "tone": FactSpec("text"),
}
DOMAINS = {"intent": {"price_question", "objection_price", "agreement"}, "state": {"greeting", "close"}, "category": {"objection", "positive"}, "phase": {"situation", "problem"}}
CATEGORIES = {"objection": {"objection_price"}, "positive": {"agreement"}}


def doc_of(text: str) -> LoadedYaml:
    text = textwrap.dedent(text).lstrip("\n")
    return LoadedYaml("rules/x.yaml", yaml.safe_load(text), yaml.compose(text), text)


def parse(text: str, allow_derived: bool = False):
    doc = doc_of(text)
    return parse_condition(doc.data["when"], doc, ("when",), ConditionContext(FACTS, DOMAINS, allow_derived))


def in_category(intent: str, category: str) -> bool:
    return intent in CATEGORIES.get(category, set())


def test_a_nested_condition_parses_and_evaluates() -> None:
    condition, issues = parse("""
        when:
          all:
            - {fact: unclear_streak, gte: 3}
            - any:
                - {fact: intent, in_category: objection}
                - {fact: has_oscillation}
            - {not: {fact: state, in: [close]}}
            - {fact: phases_done, contains_all: [situation, problem]}
    """)
    assert issues == []
    facts = {"unclear_streak": 3, "has_oscillation": False, "intent": "objection_price", "state": "greeting", "phases_done": ["situation", "problem"]}
    assert evaluate(condition, facts, in_category) is True
    assert evaluate(condition, dict(facts, unclear_streak=2), in_category) is False
    assert evaluate(condition, dict(facts, intent="agreement"), in_category) is False
    assert evaluate(condition, dict(facts, intent="agreement", has_oscillation=True), in_category) is True
    assert evaluate(condition, dict(facts, state="close"), in_category) is False
    assert evaluate(condition, dict(facts, phases_done=["situation"]), in_category) is False


@pytest.mark.parametrize(
    ("when", "line", "message"),
    [
        ("{fact: unclear_streek, gte: 3}", 1, "when.fact: unknown fact 'unclear_streek'. Did you mean 'unclear_streak'?"),
        ("{fact: tone, gte: 3}", 1, "when.gte: operator 'gte' does not apply to fact 'tone' (text)"),
        ("{fact: unclear_streak, gte: many}", 1, "when.gte: fact 'unclear_streak' is a number; got 'many'"),
        ("{fact: intent, eq: price_questoin}", 1, "when.eq: unknown intent 'price_questoin'. Did you mean 'price_question'?"),
        ("{fact: intent, in_category: objections}", 1, "when.in_category: unknown category 'objections'. Did you mean 'objection'?"),
        ("{fact: state, in: [greeting, clsoe]}", 1, "when.in[1]: unknown state 'clsoe'. Did you mean 'close'?"),
        ("{fact: unclear_streak}", 1, "when: fact 'unclear_streak' is a number; only bool facts may stand alone"),
        ("{fact: unclear_streak, gte: 3, lte: 5}", 1, "when: one operator per condition"),
        ("{fact: unclear_streak, greater: 3}", 1, "when.greater: unknown operator 'greater'"),
        ("{all: []}", 1, "when.all: 'all' takes a non-empty list of conditions"),
        ("{derived: needs_exit}", 1, "when.derived: derived facts exist only in policy rules"),
    ],
)
def test_each_problem_is_reported_with_line_and_fix(when: str, line: int, message: str) -> None:
    condition, issues = parse(f"when: {when}\n")
    assert condition is None
    rendered = [issue.render() for issue in issues]
    assert any(text.startswith(f"rules/x.yaml:{line}: {message}") for text in rendered), rendered


def test_problems_deep_in_a_tree_point_at_their_own_line() -> None:
    _condition, issues = parse("""
        when:
          all:
            - {fact: unclear_streak, gte: 3}
            - any:
                - {fact: has_oscillation}
                - {fact: intent, eq: agreemnt}
    """)
    assert [issue.line for issue in issues] == [6]
    assert issues[0].path == "when.all[1].any[1].eq"


def test_a_negated_derived_fact_is_rejected() -> None:
    _condition, issues = parse("when: {not: {derived: client_frustrated}}\n", allow_derived=True)
    assert len(issues) == 1 and "cannot be negated" in issues[0].problem


def test_negation_is_pushed_to_the_leaves() -> None:
    condition = AllOf((Leaf("unclear_streak", "gte", 3), AnyOf((Leaf("phases_done", "contains_any", ("a", "b")), Leaf("state", "in", ("close",))))))
    negated = negate(condition)
    facts_samples = [
        {"unclear_streak": n, "phases_done": done, "state": state}
        for n in (2, 3) for done in ([], ["a"], ["b", "c"]) for state in ("close", "greeting")
    ]
    for facts in facts_samples:
        assert evaluate(negated, facts) is (not evaluate(condition, facts))


def test_yaml_file_line_numbers_come_from_the_document(tmp_path: Path) -> None:
    from engine.yaml_loader import load_yaml

    path = tmp_path / "r.yaml"
    path.write_text("version: 1\nwhen:\n  any:\n    - {fact: has_oscillation}\n    - {fact: nope}\n", encoding="utf-8")
    doc, _ = load_yaml(path, "rules/r.yaml")
    _condition, issues = parse_condition(doc.data["when"], doc, ("when",), ConditionContext(FACTS, DOMAINS))
    assert issues[0].render().startswith("rules/r.yaml:5: when.any[1].fact: unknown fact 'nope'")
