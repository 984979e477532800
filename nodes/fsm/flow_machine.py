"""``fsm.flow``: moves the conversation through its flow with one shared ``transitions`` Machine.

The decision (which move) is made by ``decide`` from the flow's priorities; the Machine
then executes it, so only moves declared in the YAML can ever happen (``auto_transitions``
is off). The flow's single Machine drives one model, set to the conversation's state before
each trigger (NOTES.md: a Machine per conversation costs 0.5–1.6 ms, add/remove ~0.1 ms). Every turn records ``transition`` = {from, to, trigger, rule, why, …}; a failure
leaves the state and the FSM memory unchanged and is recorded as ``transition.error``.
"""
from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from transitions import Machine

from engine.errors import EngineError
from engine.node import NodeConfig, NodeContext
from engine.registry import register
from nodes.context.facts import FLOW_FACTS, objection_facts, with_defaults
from nodes.fsm.decide import Decision, DecisionInput, decide, forward_states
from nodes.fsm.flow_model import Flow

__all__ = ["FlowMachine", "FlowRunner", "FlowMachineConfig"]


class _Model:
    """The object ``transitions`` drives: one per runner, set to the conversation's state per trigger."""

    def __init__(self) -> None:
        self.state = ""


class FlowRunner:
    """One Machine per flow; ``apply`` executes a decided move as a declared trigger."""

    def __init__(self, flow: Flow) -> None:
        self.flow = flow
        by_target: dict[str, list[str]] = {}
        for source, targets in flow.edges().items():
            for target in sorted(targets):
                by_target.setdefault(target, []).append(source)
        transitions: list[dict[str, Any]] = [{"trigger": f"go:{target}", "source": sources, "dest": target} for target, sources in sorted(by_target.items())]
        transitions.append({"trigger": "stay", "source": list(flow.states), "dest": None})
        self.triggers = {item["trigger"] for item in transitions}
        self.machine = Machine(model=None, states=list(flow.states), transitions=transitions, initial=flow.initial, auto_transitions=False, send_event=False)
        self._lock = threading.Lock()
        self._forward = {name: forward_states(flow, name) for name in flow.states}
        # One model joins the Machine once (add_model per turn cost ~0.1 ms); each trigger
        # starts it from the conversation's state and the lock keeps triggers one at a time.
        self._model = _Model()
        self.machine.add_model(self._model, initial=flow.initial)

    def apply(self, current: str, target: str) -> tuple[str, str]:
        """Run the trigger for ``current → target``; return (new state, trigger name)."""
        trigger = "stay" if target == current else f"go:{target}"
        model = self._model
        with self._lock:
            self.machine.set_state(current, model)
            model.trigger(trigger)  # type: ignore[attr-defined]  # added by add_model
            reached = model.state
        if reached != target:
            raise EngineError(f"flow '{self.flow.name}': trigger {trigger!r} from '{current}' ended in '{reached}', expected '{target}'")
        return reached, trigger

    def remember(self, memory: Mapping[str, Any], current: str, target: str, turn: int) -> dict[str, Any]:
        """The FSM memory after a move (detour return point, phase history, phases done)."""
        return_to: str | None = memory.get("return_to")
        history: list[str] = list(memory.get("phase_history") or [])
        done: list[str] = list(memory.get("phases_done") or [])
        entered = int(memory.get("entered_turn") or 0)
        states = self.flow.states
        if target != current:
            entered = turn
            if states[target].detour and not states[current].detour:
                return_to = current
            elif not states[target].detour:
                return_to = None
            if states[target].phase and (not history or history[-1] != target):
                history = (history + [target])[-20:]
            if target in self._forward.get(current, ()):
                passed = [current] + self._forward[current][: self._forward[current].index(target)]
                done += [phase for phase in dict.fromkeys(states[name].phase for name in passed) if phase and phase not in done]
        return {"return_to": return_to, "phase_history": history, "phases_done": done, "entered_turn": entered}


class FlowMachineConfig(NodeConfig):
    flow: str | None = None  # None: the flow named in settings.yaml


@register("fsm.flow")
class FlowMachine:
    """Intent + envelope facts + objection result → next state and action."""

    Config = FlowMachineConfig
    reads = frozenset({"intent", "envelope", "objection", "turn_index", "dialogue_context", "conv.state", "conv.flow", "conv.extra"})
    writes = frozenset({"conv.state", "conv.flow", "conv.extra", "conv.last_action", "conv.last_intent", "action", "transition", "response_directives"})

    def __init__(self, config: FlowMachineConfig, resources: Any) -> None:
        flows: Mapping[str, Flow] = resources.bundle.section("flows") or {}
        self._runners = {name: FlowRunner(flow) for name, flow in flows.items() if flow.initial in flow.states}
        self._default = config.flow or resources.settings.flow
        if self._default not in self._runners:
            raise EngineError(f"flow '{self._default}' is not defined in yaml_config/flows/")
        taxonomy = resources.bundle.section("intents")
        self._in_category = taxonomy.in_category if taxonomy is not None else (lambda intent, category: False)

    def run(self, state: Mapping[str, Any], ctx: NodeContext) -> dict[str, Any]:
        context = state.get("dialogue_context") or {}
        requested = state.get("conv.flow") or context.get("flow") or self._default
        runner = self._runners.get(requested) or self._runners[self._default]
        flow = runner.flow
        current = state.get("conv.state") or context.get("state") or flow.initial
        note = ""
        if current not in flow.states:
            note = f"state '{current}' is not in flow '{flow.name}'; restarted at '{flow.initial}'. "
            current = flow.initial
        intent = state.get("intent") or "unclear"
        turn = int(state.get("turn_index") or ctx.turn_index)
        extra = dict(state.get("conv.extra") or {})
        memory: Mapping[str, Any] = extra["fsm"] if isinstance(extra.get("fsm"), dict) else {}
        objection = state.get("objection") or {}
        facts = with_defaults(state.get("envelope"), FLOW_FACTS)
        facts.update(objection_facts(objection))
        if state.get("envelope") is None:  # envelope node switched off: the basics still hold
            facts.update(turn=turn, state=current, intent=intent, is_final=flow.states[current].final)
        record: dict[str, Any] = {"flow": flow.name, "from": current, "intent": intent}
        try:
            decision = decide(DecisionInput(flow, current, intent, facts, memory, ctx.flags, self._in_category, objection.get("action")))
            new_state, machine_trigger = runner.apply(current, decision.target)
            new_memory = runner.remember(memory, current, new_state, turn)
        except Exception as exc:  # noqa: BLE001 - atomic: keep the state, answer, and trace the error
            fallback = flow.states[current].on_enter or ""
            record.update({"to": current, "moved": False, "rule": "error", "trigger": "error", "why": note + "transition failed; state unchanged", "error": f"{type(exc).__name__}: {exc}"})
            return {"conv.state": current, "conv.flow": flow.name, "conv.last_action": fallback, "conv.last_intent": intent, "action": fallback, "transition": record, "response_directives": []}
        extra["fsm"] = new_memory
        record.update(_describe(decision, new_state, machine_trigger, note))
        return {
            "conv.state": new_state,
            "conv.flow": flow.name,
            "conv.extra": extra,
            "conv.last_action": decision.action,
            "conv.last_intent": intent,
            "action": decision.action,
            "transition": record,
            "response_directives": _directives(flow, current, new_state, decision),
        }


def _describe(decision: Decision, new_state: str, machine_trigger: str, note: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "to": new_state,
        "moved": machine_trigger != "stay",
        "rule": decision.rule,
        "trigger": decision.trigger,
        "machine_trigger": machine_trigger,
        "why": note + decision.why,
        "origin": decision.origin,
        "action": decision.action,
        "checked": list(decision.checked),
    }
    if decision.gate:
        out["gate"] = decision.gate
    return out


def _directives(flow: Flow, current: str, new_state: str, decision: Decision) -> list[dict[str, Any]]:
    """An in-place answer (a price question mid-phase) asks the responder to resume the phase."""
    out: list[dict[str, Any]] = []
    if decision.trigger.startswith("guard:"):
        out.append({"kind": decision.trigger.split(":", 1)[1], "source": "guard"})
    state = flow.states[new_state]
    if new_state == current and state.phase and state.on_enter and decision.action != state.on_enter:
        out.append({"kind": "continue_phase", "action": state.on_enter, "state": new_state})
    return out
