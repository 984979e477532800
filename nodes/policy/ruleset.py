"""Section ``policy_rules``: ``rules/*.yaml`` parsed, checked and turned into engine rule definitions.

A rule file::

    version: 1
    ruleset: dialogue_policy
    rules:
      - id: frustration_offer_exit
        salience: 90                      # higher fires first (0..1000)
        when: {derived: client_frustrated}
        then:
          set_action: offer_exit          # override the FSM's action
          set_state: soft_close           # override the next state
          directives: [{kind: offer_exit}, {kind: brevity, max_words: 40}]
          assert: [exit_offered]          # derive a fact other rules can use
        once: true                        # at most once per conversation
        flag: some_flag                   # only while this feature flag is on
        flows: [spin_selling]             # only in these flows

Conditions use the grammar of ``engine.conditions`` over ``POLICY_FACTS``. Files with the
same ``ruleset`` merge. Nothing here evaluates Python.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from engine.conditions import AllOf, Condition, ConditionContext, Leaf, derived_names, parse_condition
from engine.config import ConfigBundle, check, section, validate_model
from engine.errors import ConfigIssue
from engine.registry import suggest
from engine.rule_engine import MAX_SALIENCE, RuleDef
from engine.yaml_loader import LoadedYaml
from nodes.context.facts import POLICY_FACTS, fact_domains
from nodes.context.references import Reference, check_references

__all__ = ["PolicyRule", "PolicyRuleset", "PolicyRules", "load_policy_rules"]

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class _Then(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    set_action: str | None = None
    set_state: str | None = None
    directives: list[dict[str, Any]] = Field(default_factory=list)
    asserts: list[str] = Field(default_factory=list, alias="assert")

    @field_validator("directives")
    @classmethod
    def _kinds(cls, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for item in value:
            kind = item.get("kind")
            if not isinstance(kind, str) or not _NAME.match(kind):
                raise ValueError("every directive needs kind: snake_case_name")
            for key, param in item.items():
                if isinstance(param, (dict, list)):
                    raise ValueError(f"directive '{kind}': parameter '{key}' must be a plain value")
        return value

    @model_validator(mode="after")
    def _something(self) -> _Then:
        if not (self.set_action or self.set_state or self.directives or self.asserts):
            raise ValueError("a rule must do something: set_action, set_state, directives or assert")
        return self


class _RuleSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    description: str = ""
    salience: int = Field(50, ge=0, le=MAX_SALIENCE)
    when: Any
    then: _Then
    once: bool = False
    flag: str | None = None
    flows: list[str] = Field(default_factory=list)


class _RulesFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    version: int = 1
    ruleset: str
    description: str = ""
    rules: list[_RuleSpec]


@dataclass(frozen=True)
class PolicyRule:
    rule_id: str
    description: str
    salience: int
    condition: Condition | None
    set_action: str | None
    set_state: str | None
    directives: tuple[dict[str, Any], ...]
    asserts: tuple[str, ...]
    once: bool
    flag: str | None
    flows: tuple[str, ...]
    file: str
    line: int

    def engine_condition(self) -> Condition | None:
        """The condition plus the rule's own guards (flag, once, flows) as plain facts."""
        extra: list[Condition] = []
        if self.flag:
            extra.append(Leaf(f"flag_{self.flag}", "eq", True))
        if self.once:
            extra.append(Leaf("fired_rules", "not_contains", self.rule_id))
        if self.flows:
            extra.append(Leaf("flow", "in", self.flows))
        if not extra:
            return self.condition
        items: list[Condition] = list(self.condition.items) if isinstance(self.condition, AllOf) else ([self.condition] if self.condition is not None else [])
        return AllOf(tuple(extra + items))


@dataclass
class PolicyRuleset:
    name: str
    rules: list[PolicyRule] = field(default_factory=list)

    def definitions(self) -> list[RuleDef]:
        return [RuleDef(rule.rule_id, rule.salience, rule.engine_condition(), rule.asserts) for rule in self.rules]

    @property
    def flags(self) -> list[str]:
        return sorted({rule.flag for rule in self.rules if rule.flag})


@dataclass
class PolicyRules:
    rulesets: dict[str, PolicyRuleset] = field(default_factory=dict)
    references: list[Reference] = field(default_factory=list)


@section("policy_rules")
def load_policy_rules(bundle: ConfigBundle) -> PolicyRules:
    """Every ``rules/*.yaml`` file, grouped by ruleset name; problems go to the bundle."""
    out = PolicyRules()
    flows = bundle.section("flows") or {}
    states = {name for flow in flows.values() for name in flow.states}
    phases = {phase for flow in flows.values() for phase in flow.phases}
    context = ConditionContext(POLICY_FACTS, fact_domains(bundle, states=states or None, phases=phases or None), allow_derived=True)
    seen: dict[str, tuple[str, int]] = {}
    for doc in bundle.glob("rules/*.yaml"):
        parsed, issues = validate_model(doc, _RulesFile)
        bundle.add(issues)
        if parsed is None:
            continue
        ruleset = out.rulesets.setdefault(parsed.ruleset, PolicyRuleset(parsed.ruleset))
        for index, spec in enumerate(parsed.rules):
            rule = _rule(bundle, doc, ("rules", index), spec, context, states, flows, out.references)
            if rule is None:
                continue
            key = f"{parsed.ruleset}/{rule.rule_id}"
            if key in seen:
                bundle.add([doc.issue(("rules", index, "id"), f"rule id '{rule.rule_id}' is already used in {seen[key][0]}:{seen[key][1]}", "Give each rule a unique id")])
                continue
            seen[key] = (doc.file, rule.line)
            ruleset.rules.append(rule)
    for ruleset in out.rulesets.values():
        _check_derived(bundle, ruleset)
    return out


def _rule(bundle: ConfigBundle, doc: LoadedYaml, loc: tuple[str | int, ...], spec: _RuleSpec, context: ConditionContext, states: set[str], flows: Any, references: list[Reference]) -> PolicyRule | None:
    ok = True
    if not _NAME.match(spec.id):
        bundle.add([doc.issue(loc + ("id",), f"rule id '{spec.id}' is not snake_case", "Use lowercase letters, digits and _")])
        ok = False
    condition, issues = parse_condition(spec.when, doc, loc + ("when",), context)
    bundle.add(issues)
    ok = ok and not issues
    then = spec.then
    if then.set_action:
        references.append(Reference("action", then.set_action, doc, loc + ("then", "set_action")))
    for index, directive in enumerate(then.directives):
        if isinstance(directive.get("action"), str):
            references.append(Reference("action", directive["action"], doc, loc + ("then", "directives", index, "action")))
    if spec.flag:
        references.append(Reference("flag", spec.flag, doc, loc + ("flag",)))
    for index, name in enumerate(spec.flows):
        if flows and name not in flows:
            bundle.add([doc.issue(loc + ("flows", index), f"unknown flow '{name}'", suggest(name, flows) or f"Known flows: {', '.join(flows)}")])
            ok = False
    if then.set_state and states:
        scope = [flows[name] for name in spec.flows if name in flows] or list(flows.values())
        missing = [flow.name for flow in scope if then.set_state not in flow.states]
        if missing:
            having = [flow.name for flow in flows.values() if then.set_state in flow.states]
            fix = f"Restrict the rule with flows: [{', '.join(having)}]" if having else (suggest(then.set_state, states) or "Use a state of the flow")
            bundle.add([doc.issue(loc + ("then", "set_state"), f"state '{then.set_state}' is not in flow(s) {', '.join(missing)}", fix)])
            ok = False
    for index, name in enumerate(then.asserts):
        if not _NAME.match(name):
            bundle.add([doc.issue(loc + ("then", "assert", index), f"derived fact '{name}' is not snake_case", "Use lowercase letters, digits and _")])
            ok = False
        elif name in POLICY_FACTS:
            bundle.add([doc.issue(loc + ("then", "assert", index), f"'{name}' is an envelope fact; a derived fact needs its own name", "Rename it")])
            ok = False
    if not ok:
        return None
    return PolicyRule(spec.id, spec.description, spec.salience, condition, then.set_action, then.set_state, tuple(then.directives), tuple(then.asserts), spec.once, spec.flag, tuple(spec.flows), doc.file, doc.line_of(loc))


def _check_derived(bundle: ConfigBundle, ruleset: PolicyRuleset) -> None:
    asserted = {name for rule in ruleset.rules for name in rule.asserts}
    for rule in ruleset.rules:
        for name in derived_names(rule.condition):
            if name not in asserted:
                bundle.add([ConfigIssue(rule.file, rule.line, f"rules.{rule.rule_id}.when", f"derived fact '{name}' is never asserted in ruleset '{ruleset.name}'", suggest(name, asserted) or "Assert it from another rule (then: assert: [...])")])


@check("policy_references")
def check_policy_references(bundle: ConfigBundle) -> Any:
    """Actions (→ templates) and flags named in rules exist."""
    rules: PolicyRules | None = bundle.section("policy_rules")
    return check_references(bundle, rules.references) if rules is not None else ()
