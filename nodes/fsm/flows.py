"""Flow definitions (``yaml_config/flows/*.yaml``): states, intents → moves, on_enter actions."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from engine.config import ConfigBundle, section, validate_model
from engine.registry import suggest

__all__ = ["Move", "StateSpec", "FlowSpec", "load_flows"]


class Move(BaseModel):
    """What an intent does in a state: go somewhere (``to``) and/or answer with ``action``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    to: str | None = None
    action: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: object) -> object:
        return {"to": value} if isinstance(value, str) else value


class StateSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    goal: str = ""
    on_enter: str
    final: bool = False
    transitions: dict[str, Move] = Field(default_factory=dict)
    default: Move | None = None


class FlowSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    version: int = 1
    name: str
    description: str = ""
    initial: str
    any_state: dict[str, Move] = Field(default_factory=dict, description="moves valid in every non-final state unless the state overrides them")
    states: dict[str, StateSpec]


@section("flows")
def load_flows(bundle: ConfigBundle) -> dict[str, FlowSpec]:
    flows: dict[str, FlowSpec] = {}
    for doc in bundle.glob("yaml_config/flows/*.yaml"):
        flow, issues = validate_model(doc, FlowSpec)
        bundle.add(issues)
        if flow is None:
            continue
        names = list(flow.states)
        if flow.initial not in flow.states:
            bundle.add([doc.issue(("initial",), f"unknown state '{flow.initial}'", suggest(flow.initial, names) or "Use one of the states below")])
        for state_name, state in flow.states.items():
            moves = [(("states", state_name, "transitions", intent), move) for intent, move in state.transitions.items()]
            if state.default is not None:
                moves.append((("states", state_name, "default"), state.default))
            for loc, move in moves:
                if move.to is not None and move.to not in flow.states:
                    bundle.add([doc.issue(loc, f"unknown state '{move.to}'", suggest(move.to, names) or f"Known states: {', '.join(names)}")])
        for intent, move in flow.any_state.items():
            if move.to is not None and move.to not in flow.states:
                bundle.add([doc.issue(("any_state", intent), f"unknown state '{move.to}'", suggest(move.to, names) or "Use a declared state")])
        if flow.name in flows:
            bundle.add([doc.issue(("name",), f"flow '{flow.name}' is defined twice", "Give each flow a unique name")])
        flows[flow.name] = flow
    if bundle.settings.flow not in flows and flows:
        doc = bundle.file("yaml_config/settings.yaml")
        if doc is not None:
            bundle.add([doc.issue(("flow",), f"unknown flow '{bundle.settings.flow}'", suggest(bundle.settings.flow, flows) or f"Known flows: {', '.join(flows)}")])
    return flows
