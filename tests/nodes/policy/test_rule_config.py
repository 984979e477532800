"""Policy rule files: one bad-rule fixture per error message, and the shipped rules are clean."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.config import ConfigBundle
from nodes.policy.ruleset import check_policy_references
from tests.nodes.dialogue_support import SHIPPED, copy_config

HEADER = "version: 1\nruleset: dialogue_policy\nrules:\n"


def rule_issues(root: Path) -> list[str]:
    bundle = ConfigBundle(root)
    bundle.section("policy_rules")
    issues = list(bundle.issues) + list(check_policy_references(bundle))
    return sorted({issue.render() for issue in issues if issue.file.startswith("rules/")})


def test_the_shipped_rules_are_clean() -> None:
    assert rule_issues(SHIPPED) == []
    rules = ConfigBundle(SHIPPED).section("policy_rules").rulesets["dialogue_policy"].rules
    assert {rule.rule_id for rule in rules} >= {"detect_frustration", "frustrated_offer_exit", "unclear_offer_options", "oscillation_clarify", "qualified_offer_demo"}


BAD_RULES = [
    ("  - id: a\n    when: {fact: unclear_streek, gte: 3}\n    then: {set_action: offer_options}\n",
     "rules/extra.yaml:5: rules[0].when.fact: unknown fact 'unclear_streek'. Did you mean 'unclear_streak'?"),
    ("  - id: a\n    when: {not: {derived: client_frustrated}}\n    then: {set_action: offer_exit}\n",
     "rules/extra.yaml:5: rules[0].when.not: a derived fact cannot be negated"),
    ("  - id: a\n    when: {derived: needs_exti}\n    then: {set_action: offer_exit}\n",
     "derived fact 'needs_exti' is never asserted in ruleset 'dialogue_policy'"),
    ("  - id: a\n    when: {fact: has_oscillation}\n    then: {set_action: gentle_clarificaton}\n",
     "rules/extra.yaml:6: rules[0].then.set_action: unknown action 'gentle_clarificaton'. Did you mean 'gentle_clarification'?"),
    ("  - id: a\n    when: {fact: has_oscillation}\n    flag: context_polcy\n    then: {set_action: gentle_clarification}\n",
     "rules/extra.yaml:6: rules[0].flag: unknown flag 'context_polcy'. Did you mean 'context_policy'?"),
    ("  - id: a\n    when: {fact: has_oscillation}\n    then: {}\n",
     "rules/extra.yaml:6: rules[0].then: a rule must do something"),
    ("  - id: a\n    when: {fact: has_oscillation}\n    then: {set_state: soft_clse}\n",
     "rules/extra.yaml:6: rules[0].then.set_state: state 'soft_clse' is not in flow(s)"),
    ("  - id: a\n    when: {fact: has_oscillation}\n    then: {directives: [{max_words: 3}]}\n",
     "rules/extra.yaml:6: rules[0].then.directives: every directive needs kind: snake_case_name"),
    ("  - id: a\n    salience: 5000\n    when: {fact: has_oscillation}\n    then: {set_action: offer_exit}\n",
     "rules/extra.yaml:5: rules[0].salience: Input should be less than or equal to 1000"),
    ("  - id: detect_frustration\n    when: {fact: has_oscillation}\n    then: {set_action: offer_exit}\n",
     "rules/extra.yaml:4: rules[0].id: rule id 'detect_frustration' is already used in rules/dialogue_policy.yaml"),
    ("  - id: a\n    when: {fact: intent, in_category: objectoin}\n    then: {set_action: offer_exit}\n",
     "rules/extra.yaml:5: rules[0].when.in_category: unknown category 'objectoin'. Did you mean 'objection'?"),
    ("  - id: a\n    when: {fact: next_state, eq: presentaton}\n    then: {set_action: offer_exit}\n",
     "rules/extra.yaml:5: rules[0].when.eq: unknown state 'presentaton'. Did you mean 'presentation'?"),
    ("  - id: a\n    when: {fact: has_oscillation}\n    then: {assert: [frustration]}\n",
     "rules/extra.yaml:6: rules[0].then.assert[0]: 'frustration' is an envelope fact; a derived fact needs its own name"),
]


@pytest.mark.parametrize(("rule", "expected"), BAD_RULES, ids=[expected.split(": ", 2)[-1][:40] for _, expected in BAD_RULES])
def test_each_bad_rule_is_reported(tmp_path: Path, rule: str, expected: str) -> None:
    root = copy_config(tmp_path)
    (root / "rules/extra.yaml").write_text(HEADER + rule, encoding="utf-8")
    issues = rule_issues(root)
    assert any(expected in issue for issue in issues), "\n".join(issues)
