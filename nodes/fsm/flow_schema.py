"""The YAML shape of flows (``yaml_config/flows/``): pydantic models for each file kind.

A flow is a folder ``yaml_config/flows/<name>/`` holding ``flow.yaml`` (flow-wide settings)
and ``states*.yaml`` (its states); ``yaml_config/flows/_base/`` holds what flows share:
abstract states (``states*.yaml``), mixins (``mixins*.yaml``) and the default priority
order (``priorities.yaml``). These models only check shape; ``flow_loader`` resolves
``extends``/``mixins`` and checks names.
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "MoveSpec",
    "OnEnterSpec",
    "StateBody",
    "MixinBody",
    "PrioritySpec",
    "PriorityOverride",
    "GateSpec",
    "SkipSpec",
    "FlowFile",
    "StatesFile",
    "MixinsFile",
    "PrioritiesFile",
    "INTERVENTIONS",
    "MERGED_MAPPINGS",
]

#: Guard interventions a flow maps onto moves (``interventions:`` in flow.yaml).
INTERVENTIONS = ("rephrase", "offer_options", "skip_phase", "soft_close")

#: State fields that merge key by key across extends → mixins → the state itself.
MERGED_MAPPINGS = ("rules", "category_rules", "transitions", "category_transitions")


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MoveSpec(_Frozen):
    """Where a trigger leads and what the bot answers.

    ``to: STATE`` moves; ``next: true`` moves to the state's ``next``; ``back: true`` returns
    to the state a detour (``detour: true``, e.g. handle_objection) was entered from; none of
    the three stays in the current state. ``resume: true`` (with ``back``) then decides the
    turn's intent in that state, as if the detour had not happened: data given right after an
    objection moves the conversation on from where it was. ``action`` overrides the target's on_enter action;
    ``action_from: objection`` takes the objection handler's strategy action when it has one.
    Shorthand: a bare string is ``{to: STATE}``.
    """

    to: str | None = None
    next: bool = False
    back: bool = False
    resume: bool = Field(False, description="with back: decide this turn's intent again in the state returned to")
    action: str | None = None
    action_from: Literal["objection"] | None = None
    why: str = Field("", description="a note for the trace")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return {"to": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _one_target(self) -> MoveSpec:
        targets = [name for name, on in (("to", self.to is not None), ("next", self.next), ("back", self.back)) if on]
        if len(targets) > 1:
            raise ValueError(f"a move has one target, found {', '.join(targets)}; keep one of to/next/back")
        if self.resume and not self.back:
            raise ValueError("resume: true needs back: true (it resumes in the state the detour returns to)")
        return self


class OnEnterSpec(_Frozen):
    """What happens when a state is entered (today: the action to answer with)."""

    action: str

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return {"action": value} if isinstance(value, str) else value


MoveMap = dict[str, MoveSpec | None]


class MixinBody(_Frozen):
    """A reusable bundle of moves (price handling, exit intents, …) a state lists in ``mixins``.

    A ``null`` value removes a move inherited from a lower layer.
    """

    description: str = ""
    rules: MoveMap = Field(default_factory=dict, description="intent → answer in place (no move)")
    category_rules: MoveMap = Field(default_factory=dict, description="intent category → answer in place")
    transitions: MoveMap = Field(default_factory=dict, description="intent → move")
    category_transitions: MoveMap = Field(default_factory=dict, description="intent category → move")


class StateBody(MixinBody):
    """One state as written. Precedence: the state's own keys > its mixins (later beat
    earlier) > the state it ``extends`` (recursively)."""

    extends: str | None = None
    mixins: list[str] = Field(default_factory=list)
    abstract: bool = False
    goal: str = ""
    phase: str | None = None
    on_enter: OnEnterSpec | None = None
    final: bool = False
    detour: bool = Field(False, description="entering it remembers where to come back to (move 'back: true')")
    required_data: list[str] | None = None
    max_turns: int | None = Field(None, ge=1, description="answers in this state before the flow moves on to 'next'")
    next: str | None = Field(None, description="the state that follows when this phase is done")
    default: MoveSpec | None = None


class PrioritySpec(_Frozen):
    """One step of the decision order. Lower ``priority`` is tried first.

    Either a ``handler`` (a named built-in: final_state, go_back, objection_limit, guard,
    state_rules, phase_progress, transitions, data_complete, any_state, default) or a
    match on ``intents``/``categories`` that either uses the state's transitions
    (``use_transitions``) or makes the given ``move``. ``when`` (a condition over envelope
    facts) and ``flag`` (a feature flag) further restrict it.
    """

    name: str
    priority: int
    description: str = ""
    handler: str | None = None
    intents: list[str] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list)
    when: Any = None
    flag: str | None = None
    use_transitions: bool = False
    move: MoveSpec | None = None
    enabled: bool = True


class GateSpec(_Frozen):
    """A condition on entering a state; when it does not hold, ``otherwise`` happens instead."""

    description: str = ""
    when: Any
    bypass_intents: list[str] = Field(default_factory=list, description="intents that enter the state regardless (a demo request)")
    otherwise: MoveSpec = Field(default_factory=lambda: MoveSpec.model_validate({}))


class SkipSpec(_Frozen):
    """Phase skipping: in one of ``from`` states, when the condition holds, jump to ``to``."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    description: str = ""
    when: Any
    from_states: list[str] = Field(alias="from")
    to: str
    action: str | None = None


class PriorityOverride(_Frozen):
    """Adjust one step of the default order without copying the whole list."""

    priority: int | None = None
    enabled: bool | None = None
    when: Any = None
    flag: str | None = None


class FlowFile(_Frozen):
    """``yaml_config/flows/<name>/flow.yaml``."""

    version: Literal[1] = 1
    name: str
    description: str = ""
    initial: str
    phases: list[str] = Field(default_factory=list, description="SPIN/BANT phase names in order")
    essentials: list[str] = Field(default_factory=list, description="collected-data fields that make the lead qualified")
    any_state: MoveMap = Field(default_factory=dict, description="intent → move, valid in every non-final state")
    any_state_categories: MoveMap = Field(default_factory=dict)
    gates: dict[str, GateSpec] = Field(default_factory=dict)
    skipping: list[SkipSpec] = Field(default_factory=list)
    interventions: dict[Literal["rephrase", "offer_options", "skip_phase", "soft_close"], MoveSpec] = Field(default_factory=dict)
    objection_limit: MoveSpec | None = None
    priorities: list[PrioritySpec] | None = Field(None, description="replaces _base/priorities.yaml for this flow")
    priority_overrides: dict[str, PriorityOverride] = Field(default_factory=dict, description="name → {priority, enabled, when, flag}")
    states: dict[str, Any] = Field(default_factory=dict, description="validated one by one as StateBody")


class StatesFile(_Frozen):
    """Shallow: each state is validated on its own so one bad state does not hide the others."""

    version: Literal[1] = 1
    states: dict[str, Any]


class MixinsFile(_Frozen):
    version: Literal[1] = 1
    mixins: dict[str, Any]


class PrioritiesFile(_Frozen):
    version: Literal[1] = 1
    priorities: list[PrioritySpec]
