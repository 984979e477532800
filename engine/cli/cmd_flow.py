"""``spinflow flow show|explain`` and ``spinflow rules show``: flows and policy rules for designers.

``flow show`` lists the resolved states (after extends/mixins) or prints a Mermaid diagram;
``flow explain STATE INTENT [--fact name=value …]`` walks the decision priorities for one
hypothetical turn and shows which step decides and why; ``rules show`` lists the policy
rules in firing order.
"""
from __future__ import annotations

import argparse
import json
from typing import Any

from rich.table import Table

from engine.cli.common import add_config_args, console, err_console
from engine.config import ConfigBundle


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("flow", help="inspect dialogue flows (yaml_config/flows/)")
    flow_sub = parser.add_subparsers(dest="flow_command", metavar="WHAT")
    show = flow_sub.add_parser("show", help="resolved states of a flow, or a Mermaid state diagram")
    show.add_argument("flow", nargs="?", help="flow name (default: settings flow)")
    show.add_argument("--mermaid", action="store_true", help="print a Mermaid stateDiagram")
    add_config_args(show, flags=False)
    show.set_defaults(func=run_show)
    explain = flow_sub.add_parser("explain", help="which priority step decides STATE + INTENT, and why")
    explain.add_argument("state")
    explain.add_argument("intent")
    explain.add_argument("--flow", help="flow name (default: settings flow)")
    explain.add_argument("--fact", action="append", default=[], metavar="NAME=VALUE", help="envelope fact for the decision (JSON value; repeatable)")
    add_config_args(explain)
    explain.set_defaults(func=run_explain)
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])
    rules = sub.add_parser("rules", help="inspect policy rules (rules/*.yaml)")
    rules_sub = rules.add_subparsers(dest="rules_command", metavar="WHAT")
    rules_show = rules_sub.add_parser("show", help="policy rules in firing (salience) order")
    rules_show.add_argument("--ruleset", default="dialogue_policy")
    add_config_args(rules_show, flags=False)
    rules_show.set_defaults(func=run_rules)
    rules.set_defaults(func=lambda args: (rules.print_help(), 2)[1])


def _flow(bundle: ConfigBundle, name: str | None) -> Any:
    flows = bundle.section("flows") or {}
    chosen = name or bundle.settings.flow
    if chosen not in flows:
        err_console.print(f"unknown flow '{chosen}'. Known flows: {', '.join(flows) or '(none)'}")
        return None
    return flows[chosen]


def _moves(state: Any) -> str:
    parts = []
    for label, mapping in (("", state.transitions), ("@", state.category_transitions)):
        for trigger, move in mapping.items():
            target = move.to or ("next" if move.next else "back" if move.back else "stay")
            parts.append(f"{label}{trigger}→{target}")
    return ", ".join(parts)


def run_show(args: argparse.Namespace) -> int:
    bundle = ConfigBundle(args.config_dir)
    flow = _flow(bundle, args.flow)
    if flow is None:
        return 2
    if args.mermaid:
        lines = ["stateDiagram-v2", f"    [*] --> {flow.initial}"]
        for source, targets in flow.edges().items():
            lines.extend(f"    {source} --> {target}" for target in sorted(targets))
        lines.extend(f"    {name} --> [*]" for name, state in flow.states.items() if state.final)
        print("\n".join(lines))
        return 0
    table = Table(title=f"flow {flow.name} ({flow.file}); initial {flow.initial}; phases {', '.join(flow.phases)}")
    for column in ("state", "phase", "on_enter", "next", "max", "required", "moves (@ = category)", "inherits (strongest first)"):
        table.add_column(column, overflow="fold")
    for name, state in flow.states.items():
        flags = " [final]" if state.final else " [detour]" if state.detour else ""
        table.add_row(name + flags, state.phase or "", state.on_enter or "", state.next or "", str(state.max_turns or ""),
                      ", ".join(state.required_data), _moves(state), " < ".join(reversed(state.lineage)))
    console.print(table)
    console.print("priorities: " + " → ".join(f"{priority.name}({priority.priority})" for priority in flow.priorities))
    return 0


def run_explain(args: argparse.Namespace) -> int:
    from engine.cli.common import parse_flag_args
    from nodes.context.facts import FLOW_FACTS, with_defaults
    from nodes.fsm.decide import DecisionInput, decide

    bundle = ConfigBundle(args.config_dir)
    flow = _flow(bundle, args.flow)
    if flow is None:
        return 2
    if args.state not in flow.states:
        err_console.print(f"unknown state '{args.state}' in flow '{flow.name}'. States: {', '.join(flow.states)}")
        return 2
    facts: dict[str, Any] = {"state": args.state, "intent": args.intent, "turn": 2}
    for item in args.fact:
        name, _, raw = item.partition("=")
        if name not in FLOW_FACTS:
            err_console.print(f"unknown fact '{name}'. Known facts: {', '.join(sorted(FLOW_FACTS))}")
            return 2
        try:
            facts[name] = json.loads(raw)
        except json.JSONDecodeError:
            facts[name] = raw
    taxonomy = bundle.section("intents")
    in_category = taxonomy.in_category if taxonomy is not None else (lambda intent, category: False)
    flags = bundle.flags()
    for name, value in parse_flag_args(args.flag).items():
        flags.set_override(name, value)
    decision = decide(DecisionInput(flow, args.state, args.intent, with_defaults(facts, FLOW_FACTS), {}, flags.snapshot(), in_category))
    console.print(f"[bold]{args.state}[/bold] + [bold]{args.intent}[/bold] → [bold]{decision.target}[/bold] with action [bold]{decision.action}[/bold]")
    console.print(f"decided by priority step '{decision.rule}' (trigger {decision.trigger}; from {decision.origin or '-'})")
    console.print(f"why: {decision.why}")
    if decision.gate:
        console.print(f"gate on '{decision.gate}' was closed")
    console.print("steps tried: " + " → ".join(decision.checked))
    return 0


def run_rules(args: argparse.Namespace) -> int:
    bundle = ConfigBundle(args.config_dir)
    rules = bundle.section("policy_rules")
    ruleset = rules.rulesets.get(args.ruleset) if rules is not None else None
    if ruleset is None:
        err_console.print(f"unknown ruleset '{args.ruleset}'")
        return 2
    table = Table(title=f"ruleset {ruleset.name}: {len(ruleset.rules)} rules, firing order")
    for column in ("salience", "rule", "when (facts)", "then", "guards", "where"):
        table.add_column(column, overflow="fold")
    from engine.conditions import derived_names, referenced_facts

    for rule in sorted(ruleset.rules, key=lambda item: -item.salience):
        then = [f"action={rule.set_action}"] if rule.set_action else []
        then += [f"state={rule.set_state}"] if rule.set_state else []
        then += [f"directive {item['kind']}" for item in rule.directives] + [f"assert {name}" for name in rule.asserts]
        guards = (["once"] if rule.once else []) + ([f"flag {rule.flag}"] if rule.flag else []) + ([f"flows {', '.join(rule.flows)}"] if rule.flows else [])
        when = ", ".join(referenced_facts(rule.condition) + [f"derived {name}" for name in derived_names(rule.condition)])
        table.add_row(str(rule.salience), rule.rule_id, when, "; ".join(then), ", ".join(guards), f"{rule.file}:{rule.line}")
    console.print(table)
    return 0
