"""``fsm.flow``: moves the conversation through its flow with a shared ``transitions`` Machine."""
from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from transitions import Machine, MachineError

from engine.errors import EngineError
from engine.node import NodeConfig, NodeContext
from engine.registry import register
from nodes.fsm.flows import FlowSpec, Move

__all__ = ["FlowMachine", "FlowRunner"]


class _Conversation:
    """The model object ``transitions`` drives; one per turn, removed afterwards."""

    def __init__(self) -> None:
        self.state = ""


class FlowRunner:
    """One ``Machine`` per flow (``auto_transitions=False``); conversations join as models.

    Each intent becomes a trigger. A move with a target is a real transition; a move that
    only names an action is an internal transition (the state stays, the action answers).
    """

    def __init__(self, flow: FlowSpec) -> None:
        self.flow = flow
        self._actions: dict[tuple[str, str], Move] = {}
        transitions: list[dict[str, Any]] = []
        for state_name, state in flow.states.items():
            moves = {} if state.final else dict(flow.any_state)
            moves.update(state.transitions)
            for intent, move in moves.items():
                self._actions[(state_name, intent)] = move
                transitions.append({"trigger": intent, "source": state_name, "dest": move.to})
        self.machine = Machine(model=None, states=list(flow.states), transitions=transitions, initial=flow.initial, auto_transitions=False, send_event=False)
        self._lock = threading.Lock()

    def step(self, current: str, intent: str) -> tuple[str, str, str, str]:
        """Return (new_state, action, trigger, reason) for ``intent`` in ``current``."""
        if current not in self.flow.states:
            current = self.flow.initial
        state = self.flow.states[current]
        move = self._actions.get((current, intent))
        trigger = intent
        reason = f"intent '{intent}' in state '{current}'"
        if move is None:
            if state.default is None:
                return current, state.on_enter, "none", f"no move for '{intent}' in '{current}'; stay"
            move = state.default
            trigger = "default"
            reason = f"no move for '{intent}' in '{current}'; state default"
        model = _Conversation()
        with self._lock:
            self.machine.add_model(model, initial=current)
            try:
                if trigger != "default":
                    model.trigger(trigger)
                elif move.to is not None:
                    model.state = move.to
            except MachineError as exc:
                raise EngineError(f"flow '{self.flow.name}': {exc.value}") from exc
            finally:
                self.machine.remove_model(model)
        new_state = model.state
        action = move.action or (self.flow.states[new_state].on_enter if new_state != current or move.to else state.on_enter)
        return new_state, action, trigger, reason


class FlowMachineConfig(NodeConfig):
    flow: str | None = None  # None: the flow named in settings.yaml


@register("fsm.flow")
class FlowMachine:
    """Takes the turn's intent and returns the next state and the action to answer with."""

    Config = FlowMachineConfig
    reads = frozenset({"intent", "conv.state", "conv.flow"})
    writes = frozenset({"conv.state", "conv.flow", "action", "transition"})

    def __init__(self, config: FlowMachineConfig, resources: Any) -> None:
        flows: dict[str, FlowSpec] = resources.bundle.section("flows") or {}
        self._runners = {name: FlowRunner(flow) for name, flow in flows.items()}
        self._default = config.flow or resources.settings.flow
        if self._default not in self._runners:
            raise EngineError(f"flow '{self._default}' is not defined in yaml_config/flows/")

    def run(self, state: Mapping[str, Any], ctx: NodeContext) -> dict[str, Any]:
        flow_name = state.get("conv.flow") or self._default
        runner = self._runners.get(flow_name) or self._runners[self._default]
        current = state.get("conv.state") or ""
        if not current:
            current = runner.flow.initial
        intent = state.get("intent") or "unclear"
        new_state, action, trigger, reason = runner.step(current, intent)
        return {
            "conv.state": new_state,
            "conv.flow": runner.flow.name,
            "action": action,
            "transition": {"from": current, "to": new_state, "trigger": trigger, "why": reason},
        }
