"""The priority-driven decision: which move a turn makes, tried step by step in YAML order.

The order comes from ``yaml_config/flows/_base/priorities.yaml`` (or the flow's own
list): final state, rejection, go_back, objection limit, guard, state rules, questions,
phase progress (skipping), transitions, data complete, any state, max turns, default. Each step is either a
built-in handler named in YAML or a declarative match (intents/categories → the state's
transitions or a fixed move). The first step that yields a move wins; a gate on the
target state may then replace it. Pure functions: no I/O, no shared state.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from engine.conditions import evaluate
from nodes.fsm.flow_model import Flow, Move, Priority, State

__all__ = ["DecisionInput", "Decision", "decide", "forward_states"]

CategoryTest = Callable[[str, str], bool]


@dataclass(frozen=True)
class DecisionInput:
    flow: Flow
    state: str
    intent: str
    facts: Mapping[str, Any]
    memory: Mapping[str, Any]
    flags: Mapping[str, bool]
    in_category: CategoryTest
    objection_action: str | None = None


@dataclass(frozen=True)
class Decision:
    target: str
    action: str
    rule: str
    trigger: str
    why: str
    origin: str = ""
    gate: str | None = None
    checked: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class _Found:
    move: Move
    trigger: str
    why: str


def decide(inp: DecisionInput) -> Decision:
    """Walk the priorities; return the first move, with gates applied and the action resolved."""
    state = inp.flow.states[inp.state]
    checked: list[str] = []
    for priority in inp.flow.priorities:
        if not _applies(priority, inp):
            continue
        checked.append(priority.name)
        found = _run(priority, state, inp)
        if found is None:
            continue
        return _finish(found, priority.name, state, inp, tuple(checked))
    stay = _Found(Move(origin="engine"), "none", f"no priority step matched intent '{inp.intent}' in '{inp.state}'; stay")
    return _finish(stay, "none", state, inp, tuple(checked))


def _applies(priority: Priority, inp: DecisionInput) -> bool:
    if priority.flag is not None and not inp.flags.get(priority.flag, False):
        return False
    if priority.intents or priority.categories:
        if inp.intent not in priority.intents and not any(inp.in_category(inp.intent, category) for category in priority.categories):
            return False
    return priority.when is None or evaluate(priority.when, inp.facts, inp.in_category)


def _run(priority: Priority, state: State, inp: DecisionInput) -> _Found | None:
    if priority.handler is not None:
        return _HANDLERS[priority.handler](state, inp)
    if priority.use_transitions:
        return _lookup(state.transitions, state.category_transitions, inp, "transition")
    if priority.move is not None:
        return _Found(priority.move, f"intent:{inp.intent}", f"priority '{priority.name}' matched intent '{inp.intent}'")
    return None


def _lookup(by_intent: Mapping[str, Move], by_category: Mapping[str, Move], inp: DecisionInput, what: str) -> _Found | None:
    move = by_intent.get(inp.intent)
    if move is not None:
        return _Found(move, f"intent:{inp.intent}", f"{what} for intent '{inp.intent}' ({move.origin})")
    for category, move in by_category.items():
        if inp.in_category(inp.intent, category):
            return _Found(move, f"category:{category}", f"{what} for category '{category}' of intent '{inp.intent}' ({move.origin})")
    return None


# -- built-in handlers ------------------------------------------------------------------------

def _final_state(state: State, inp: DecisionInput) -> _Found | None:
    if not state.final:
        return None
    return _Found(state.default or Move(origin=f"state {state.name}"), "final", f"'{state.name}' is final")


def _go_back(state: State, inp: DecisionInput) -> _Found | None:
    history = [name for name in inp.memory.get("phase_history", []) if name in inp.flow.states]
    while history and history[-1] == state.name:
        history.pop()
    if history:
        return _Found(Move(to=history[-1], origin="go_back"), f"intent:{inp.intent}", f"client asked to go back; previous phase state visited '{history[-1]}'")
    order = inp.flow.phase_states()
    if state.name in order and order.index(state.name) > 0:
        previous = order[order.index(state.name) - 1]
        return _Found(Move(to=previous, origin="go_back"), f"intent:{inp.intent}", f"client asked to go back; previous phase in the flow '{previous}'")
    return None


def _objection_limit(state: State, inp: DecisionInput) -> _Found | None:
    if not inp.facts.get("objection_limit_reached") or inp.flow.objection_limit is None:
        return None
    streak, total = inp.facts.get("objection_streak"), inp.facts.get("objection_count")
    return _Found(inp.flow.objection_limit, "objection_limit", f"objection limit reached ({streak} in a row, {total} in total)")


def _guard(state: State, inp: DecisionInput) -> _Found | None:
    intervention = inp.facts.get("guard_intervention") or ""
    move = inp.flow.interventions.get(intervention)
    if move is None:
        return None
    if move.next and state.next is None:
        return None
    reasons = ", ".join(inp.facts.get("guard_reasons") or ()) or intervention
    return _Found(move, f"guard:{intervention}", f"guard intervention '{intervention}' ({reasons})")


def _state_rules(state: State, inp: DecisionInput) -> _Found | None:
    return _lookup(state.rules, state.category_rules, inp, "rule")


def _phase_progress(state: State, inp: DecisionInput) -> _Found | None:
    for skip in inp.flow.skipping:
        if state.name in skip.from_states and skip.to != state.name and evaluate(skip.when, inp.facts, inp.in_category):
            why = skip.description or f"phase skipping to '{skip.to}'"
            return _Found(Move(to=skip.to, action=skip.action, origin="skipping"), "skip", f"{why} (lead {inp.facts.get('lead_temperature')})")
    return None


def _max_turns(state: State, inp: DecisionInput) -> _Found | None:
    turns = int(inp.facts.get("turns_in_state") or 0)
    if state.max_turns is not None and state.next is not None and turns >= state.max_turns:
        return _Found(Move(next=True, origin=f"state {state.name}"), "max_turns", f"{turns} answers in '{state.name}' (max_turns {state.max_turns}); move on to '{state.next}'")
    return None


def _transitions(state: State, inp: DecisionInput) -> _Found | None:
    return _lookup(state.transitions, state.category_transitions, inp, "transition")


def _data_complete(state: State, inp: DecisionInput) -> _Found | None:
    if not state.required_data or state.next is None:
        return None
    collected = set(inp.facts.get("collected_fields") or ())
    if not set(state.required_data) <= collected:
        return None
    return _Found(Move(next=True, origin=f"state {state.name}"), "data_complete", f"required data of '{state.name}' collected ({', '.join(state.required_data)})")


def _any_state(state: State, inp: DecisionInput) -> _Found | None:
    if state.final:
        return None
    return _lookup(inp.flow.any_state, inp.flow.any_state_categories, inp, "any_state")


def _default(state: State, inp: DecisionInput) -> _Found | None:
    move = state.default or Move(origin=f"state {state.name}")
    return _Found(move, "default", f"no specific move for intent '{inp.intent}' in '{state.name}'; state default ({move.origin})")


_HANDLERS: dict[str, Callable[[State, DecisionInput], _Found | None]] = {
    "final_state": _final_state,
    "go_back": _go_back,
    "objection_limit": _objection_limit,
    "guard": _guard,
    "state_rules": _state_rules,
    "phase_progress": _phase_progress,
    "transitions": _transitions,
    "data_complete": _data_complete,
    "any_state": _any_state,
    "max_turns": _max_turns,
    "default": _default,
}


# -- resolution -------------------------------------------------------------------------------

def _target(found: _Found, state: State, inp: DecisionInput) -> str:
    move = found.move
    if move.to is not None:
        return move.to
    if move.next:
        return state.next or state.name
    if move.back:
        back = inp.memory.get("return_to")
        return back if back in inp.flow.states else state.name
    return state.name


def _action(move: Move, target: str, state: State, inp: DecisionInput) -> str:
    if move.action_from == "objection" and inp.objection_action:
        return inp.objection_action
    if move.action:
        return move.action
    entered = inp.flow.states[target]
    return entered.on_enter or state.on_enter or ""


def _finish(found: _Found, rule: str, state: State, inp: DecisionInput, checked: tuple[str, ...]) -> Decision:
    target = _target(found, state, inp)
    if found.move.resume and target != state.name and not inp.flow.states[target].detour:
        # Back where the detour began, the turn is decided there (one level: never into a detour).
        inner = decide(replace(inp, state=target))
        return replace(inner, rule=f"{rule} → {inner.rule}", why=f"{found.why}; resumed in '{target}': {inner.why}", checked=checked + inner.checked)
    gate = inp.flow.gates.get(target) if target != state.name else None
    if gate is not None and inp.intent not in gate.bypass_intents and not evaluate(gate.when, inp.facts, inp.in_category):
        blocked = _Found(gate.otherwise, found.trigger, f"{found.why}; gate on '{target}' closed ({gate.description or 'condition not met'})")
        new_target = _target(blocked, state, inp)
        return Decision(new_target, _action(gate.otherwise, new_target, state, inp), rule, found.trigger, blocked.why, gate.otherwise.origin, target, checked)
    return Decision(target, _action(found.move, target, state, inp), rule, found.trigger, found.why, found.move.origin, None, checked)


def forward_states(flow: Flow, name: str) -> list[str]:
    """States reached from ``name`` by following ``next`` links (phase progress order)."""
    out: list[str] = []
    current = flow.states.get(name)
    while current is not None and current.next and current.next not in out and current.next != name:
        out.append(current.next)
        current = flow.states.get(current.next)
    return out
