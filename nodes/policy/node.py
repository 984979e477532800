"""``policy.rules``: forward-chaining policy rules over the envelope, overriding the FSM's decision.

Facts = the envelope + the objection result + what the FSM decided (next_state,
proposed_action, transition_rule, moved) + rules already applied in this conversation.
The compiled durable-rules ruleset fires every matching rule in salience order; the first
rule that sets the action (or the state) wins, directives accumulate (one per kind).
In shadow mode (flag ``policy_shadow_mode``) the rules are evaluated and traced but the
turn's action, state and directives are left as the FSM made them.

The ``policy`` output is the trace of the evaluation: each fired rule in order with the
facts its condition read, the derived facts it used and asserted, and its effects.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.errors import ConfigError, ConfigIssue
from engine.node import NodeConfig, NodeContext
from engine.registry import register
from engine.resources import resource
from engine.rule_engine import CompiledRuleset, rule_host
from nodes.context.facts import POLICY_FACTS, objection_facts, with_defaults
from nodes.policy.ruleset import PolicyRule, PolicyRules

__all__ = ["PolicyRulesNode", "PolicyRulesConfig"]

_FIRED_KEEP = 50


@resource("rule_host", per_process=True)
def _rule_host(resources: Any) -> Any:
    """durable-rules lives for the process: one host, rulesets cached by content."""
    return rule_host()


class PolicyRulesConfig(NodeConfig):
    ruleset: str = "dialogue_policy"
    shadow_flag: str = "policy_shadow_mode"


@register("policy.rules")
class PolicyRulesNode:
    """Evaluates the ruleset and applies (or, in shadow mode, only traces) its overrides."""

    Config = PolicyRulesConfig
    reads = frozenset({"envelope", "objection", "transition", "action", "response_directives", "turn_index", "conv.state", "conv.flow", "conv.extra"})
    writes = frozenset({"action", "conv.state", "conv.last_action", "conv.extra", "response_directives", "policy"})

    def __init__(self, config: PolicyRulesConfig, resources: Any) -> None:
        self.config = config
        rules: PolicyRules | None = resources.bundle.section("policy_rules")
        ruleset = rules.rulesets.get(config.ruleset) if rules is not None else None
        if ruleset is None:
            known = ", ".join(sorted(rules.rulesets)) if rules else ""
            raise ConfigError([ConfigIssue("rules/", 0, "", f"policy.rules: no ruleset '{config.ruleset}'", f"Known rulesets: {known}" if known else "Add rules/<name>.yaml with ruleset: " + config.ruleset)])
        self.rules: dict[str, PolicyRule] = {rule.rule_id: rule for rule in ruleset.rules}
        self.flags = ruleset.flags
        self.flows = resources.bundle.section("flows") or {}
        self.compiled: CompiledRuleset = resources.get("rule_host").compile(config.ruleset, ruleset.definitions())
        taxonomy = resources.bundle.section("intents")
        self._in_category = taxonomy.in_category if taxonomy is not None else (lambda intent, category: False)

    def facts(self, state: Mapping[str, Any], ctx: NodeContext) -> dict[str, Any]:
        facts = with_defaults(state.get("envelope"), POLICY_FACTS)
        facts.update(objection_facts(state.get("objection")))
        transition = state.get("transition") or {}
        facts["next_state"] = state.get("conv.state") or ""
        facts["proposed_action"] = state.get("action") or ""
        facts["transition_rule"] = transition.get("rule") or ""
        facts["moved"] = bool(transition.get("moved"))
        memory = (state.get("conv.extra") or {}).get("policy") or {}
        facts["fired_rules"] = list(memory.get("fired") or [])
        if not facts["flow"]:
            facts["flow"] = state.get("conv.flow") or ""
        for flag in self.flags:
            facts[f"flag_{flag}"] = ctx.flag(flag)
        return facts

    def run(self, state: Mapping[str, Any], ctx: NodeContext) -> dict[str, Any]:
        facts = self.facts(state, ctx)
        evaluation = self.compiled.evaluate(facts, self._in_category)
        shadow = ctx.flag(self.config.shadow_flag)
        action = state.get("action") or ""
        next_state = state.get("conv.state") or ""
        directives = [dict(item) for item in (state.get("response_directives") or [])]
        kinds = {item.get("kind") for item in directives}
        flow = self.flows.get(state.get("conv.flow") or facts["flow"])
        action_by = state_by = None
        new_action, new_state = action, next_state
        fired: list[dict[str, Any]] = []
        for firing in evaluation.firings:
            rule = self.rules[firing.rule_id]
            effects: dict[str, Any] = {}
            if rule.set_state:
                if flow is None or rule.set_state not in flow.states:
                    effects["set_state"] = f"ignored: '{rule.set_state}' is not a state of flow '{facts['flow']}'"
                elif state_by is None:
                    state_by, new_state = rule.rule_id, rule.set_state
                    effects["set_state"] = rule.set_state
                else:
                    effects["set_state"] = f"shadowed by '{state_by}'"
            if rule.set_action:
                if action_by is None:
                    action_by, new_action = rule.rule_id, rule.set_action
                    effects["set_action"] = rule.set_action
                else:
                    effects["set_action"] = f"shadowed by '{action_by}'"
            added = []
            for directive in rule.directives:
                if directive.get("kind") not in kinds:
                    kinds.add(directive.get("kind"))
                    directives.append(dict(directive, source=rule.rule_id))
                    added.append(directive.get("kind"))
            if added:
                effects["directives"] = added
            fired.append({"rule": rule.rule_id, "order": firing.order, "salience": rule.salience, "facts": firing.facts, "derived": list(firing.derived), "asserted": list(firing.asserted), "effects": effects})
        if state_by is not None and action_by is None and flow is not None and new_state != next_state:
            new_action = flow.states[new_state].on_enter or new_action
        if new_action != action:  # the FSM's "resume the phase" no longer fits a replaced answer
            directives = [item for item in directives if item.get("kind") != "continue_phase"]
        trace = {
            "ruleset": self.config.ruleset,
            "shadow": shadow,
            "fired": fired,
            "derived": list(evaluation.derived),
            "overrides": {"action": [action, new_action] if new_action != action else None, "state": [next_state, new_state] if new_state != next_state else None},
        }  # deterministic on replay: no timings or evaluation ids here (the node run has the duration)
        if evaluation.errors:
            trace["errors"] = list(evaluation.errors)
        if shadow or not fired:
            return {"policy": trace}
        extra = dict(state.get("conv.extra") or {})
        memory = dict(extra.get("policy") or {})
        memory["fired"] = (list(memory.get("fired") or []) + [item["rule"] for item in fired if item["rule"] not in (memory.get("fired") or [])])[-_FIRED_KEEP:]
        extra["policy"] = memory
        if new_state != next_state and isinstance(extra.get("fsm"), Mapping):
            extra["fsm"] = dict(extra["fsm"], entered_turn=int(state.get("turn_index") or ctx.turn_index))
        return {
            "policy": trace,
            "action": new_action,
            "conv.state": new_state,
            "conv.last_action": new_action,
            "conv.extra": extra,
            "response_directives": directives,
        }
