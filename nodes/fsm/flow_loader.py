"""Section ``flows``: load ``yaml_config/flows/``, resolve extends/mixins, check structure.

Layout::

    yaml_config/flows/_base/states*.yaml    abstract states (names start with '_')
    yaml_config/flows/_base/mixins*.yaml    mixins: reusable moves
    yaml_config/flows/_base/priorities.yaml the default decision order
    yaml_config/flows/<flow>/flow.yaml      one flow: initial, phases, gates, skipping, …
    yaml_config/flows/<flow>/states*.yaml   its states (or inline under flow.yaml's states:)

Resolution of one state, lowest precedence first: the state it ``extends`` (itself
resolved the same way), then each of its ``mixins`` in the order listed, then the state's
own keys. Mappings (rules, category_rules, transitions, category_transitions) merge key by
key and a ``null`` value deletes an inherited key; every other key replaces.

Names that live in other sections (intents, categories, actions → templates, flags) are
collected as references and checked by ``flow_checks``.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.conditions import ConditionContext, parse_condition
from engine.config import ConfigBundle, section, validate_model
from engine.registry import suggest
from engine.yaml_loader import LoadedYaml
from nodes.context.facts import FLOW_FACTS, fact_domains
from nodes.context.references import Reference
from nodes.fsm.flow_model import HANDLERS, Flow, Gate, Move, Priority, Skip, State
from nodes.fsm.flow_schema import MERGED_MAPPINGS, FlowFile, MixinBody, MixinsFile, MoveSpec, PrioritiesFile, PrioritySpec, StateBody, StatesFile

__all__ = ["FlowSet", "load_flows"]

_BASE = "yaml_config/flows/_base"
_SCALARS = ("goal", "description", "phase", "on_enter", "final", "detour", "required_data", "max_turns", "next", "default")


class FlowSet(dict):  # type: ignore[type-arg]
    """``{flow name: Flow}`` plus the cross-section references found while loading."""

    def __init__(self) -> None:
        super().__init__()
        self.references: list[Reference] = []
        self.docs: dict[str, LoadedYaml] = {}
        self.state_locs: dict[tuple[str, str], tuple[LoadedYaml, tuple[str | int, ...]]] = {}


@dataclass
class _Layer:
    body: StateBody | MixinBody
    doc: LoadedYaml
    loc: tuple[str | int, ...]
    origin: str


@dataclass
class _Context:
    bundle: ConfigBundle
    flows: FlowSet
    abstract: dict[str, _Layer] = field(default_factory=dict)
    mixins: dict[str, _Layer] = field(default_factory=dict)
    priorities: list[tuple[PrioritySpec, LoadedYaml, tuple[str | int, ...]]] = field(default_factory=list)
    state_names: frozenset[str] = frozenset()  # of the flow being loaded (move targets)
    broken: set[str] = field(default_factory=set)  # states/mixins that failed validation (no follow-up errors)

    def issue(self, doc: LoadedYaml, loc: tuple[str | int, ...], problem: str, fix: str = "", key: bool = False) -> None:
        self.bundle.add([doc.issue(loc, problem, fix, key=key)])

    def refer(self, kind: str, name: str, doc: LoadedYaml, loc: tuple[str | int, ...], key: bool = False) -> None:
        self.flows.references.append(Reference(kind, name, doc, loc, key))


@section("flows")
def load_flows(bundle: ConfigBundle) -> FlowSet:
    """Every flow under ``yaml_config/flows/``, resolved; problems go to the bundle."""
    ctx = _Context(bundle, FlowSet())
    _load_base(ctx)
    docs = bundle.glob("yaml_config/flows/*/*.yaml")
    folders = sorted({doc.file.split("/")[2] for doc in docs} - {"_base"})
    for doc in docs:
        name = doc.file.rsplit("/", 1)[-1]
        expected = ("states", "mixins", "priorities") if doc.file.split("/")[2] == "_base" else ("flow.yaml", "states")
        if not name.startswith(expected):
            ctx.issue(doc, (), f"file '{name}' is not read here", f"Name it {' or '.join(item if item.endswith('.yaml') else item + '*.yaml' for item in expected)}")
    for folder in folders:
        flow_doc = bundle.file(f"yaml_config/flows/{folder}/flow.yaml")
        if flow_doc is None:
            for first in bundle.glob(f"yaml_config/flows/{folder}/*.yaml")[:1]:
                ctx.issue(first, (), f"flow folder '{folder}' has no flow.yaml", "Add flow.yaml with name and initial")
            continue
        extra = [doc for doc in bundle.glob(f"yaml_config/flows/{folder}/states*.yaml")]
        _load_flow(ctx, flow_doc, extra)
    for doc in bundle.glob("yaml_config/flows/*.yaml"):
        _load_flow(ctx, doc, [])
    settings_doc = bundle.file("yaml_config/settings.yaml")
    if ctx.flows and bundle.settings.flow not in ctx.flows and settings_doc is not None:
        ctx.issue(settings_doc, ("flow",), f"unknown flow '{bundle.settings.flow}'", suggest(bundle.settings.flow, ctx.flows) or f"Known flows: {', '.join(ctx.flows)}")
    return ctx.flows


def _load_base(ctx: _Context) -> None:
    for doc in ctx.bundle.glob(f"{_BASE}/states*.yaml"):
        parsed, issues = validate_model(doc, StatesFile)
        ctx.bundle.add(issues)
        for name, body in _bodies(ctx, doc, parsed.states if parsed else {}, "states", StateBody):
            if not name.startswith("_"):
                ctx.issue(doc, ("states", name), f"base state '{name}' must start with '_' (base states are abstract)", f"Rename it '_{name}'", key=True)
            if name in ctx.abstract:
                ctx.issue(doc, ("states", name), f"base state '{name}' is defined twice", "Keep one definition", key=True)
            ctx.abstract[name] = _Layer(body, doc, ("states", name), name)
    for doc in ctx.bundle.glob(f"{_BASE}/mixins*.yaml"):
        parsed_mixins, issues = validate_model(doc, MixinsFile)
        ctx.bundle.add(issues)
        for name, body in _bodies(ctx, doc, parsed_mixins.mixins if parsed_mixins else {}, "mixins", MixinBody):
            if name in ctx.mixins:
                ctx.issue(doc, ("mixins", name), f"mixin '{name}' is defined twice", "Keep one definition", key=True)
            ctx.mixins[name] = _Layer(body, doc, ("mixins", name), f"mixin {name}")
    priorities_doc = ctx.bundle.file(f"{_BASE}/priorities.yaml")
    if priorities_doc is not None:
        parsed_priorities, issues = validate_model(priorities_doc, PrioritiesFile)
        ctx.bundle.add(issues)
        if parsed_priorities is not None:
            ctx.priorities = [(spec, priorities_doc, ("priorities", index)) for index, spec in enumerate(parsed_priorities.priorities)]


def _load_flow(ctx: _Context, doc: LoadedYaml, state_docs: list[LoadedYaml]) -> None:
    spec, issues = validate_model(doc, FlowFile)
    ctx.bundle.add(issues)
    if spec is None:
        return
    layers: dict[str, _Layer] = {name: _Layer(body, doc, ("states", name), f"state {name}") for name, body in _bodies(ctx, doc, spec.states, "states", StateBody)}
    for state_doc in state_docs:
        parsed, more = validate_model(state_doc, StatesFile)
        ctx.bundle.add(more)
        for name, body in _bodies(ctx, state_doc, parsed.states if parsed else {}, "states", StateBody):
            if name in layers:
                first = layers[name]
                ctx.issue(state_doc, ("states", name), f"state '{name}' is already defined in {first.doc.file}:{first.doc.key_line(first.loc)}", "Keep one definition", key=True)
                continue
            layers[name] = _Layer(body, state_doc, ("states", name), f"state {name}")
    if spec.name in ctx.flows:
        ctx.issue(doc, ("name",), f"flow '{spec.name}' is defined twice", "Give each flow a unique name")
        return
    concrete = {name: layer for name, layer in layers.items() if not (getattr(layer.body, "abstract", False) or name.startswith("_"))}
    ctx.state_names = frozenset(concrete)
    states: dict[str, State] = {}
    for name, layer in concrete.items():
        state = _resolve_state(ctx, name, layer, layers, concrete)
        if state is not None:
            states[name] = state
    names = list(concrete)
    ctx.flows.docs[spec.name] = doc
    for name, layer in concrete.items():
        ctx.flows.state_locs[(spec.name, name)] = (layer.doc, layer.loc)
    flow = Flow(
        name=spec.name,
        description=spec.description,
        initial=spec.initial,
        states=states,
        priorities=_priorities(ctx, spec, doc, names),
        phases=tuple(spec.phases),
        essentials=tuple(spec.essentials),
        any_state=_moves(ctx, spec.any_state, doc, ("any_state",), "any_state", "intent"),
        any_state_categories=_moves(ctx, spec.any_state_categories, doc, ("any_state_categories",), "any_state", "category"),
        gates=_gates(ctx, spec, doc, names),
        skipping=_skipping(ctx, spec, doc, names),
        interventions={kind: _move(ctx, move, doc, ("interventions", kind), f"intervention {kind}") for kind, move in spec.interventions.items()},
        objection_limit=_move(ctx, spec.objection_limit, doc, ("objection_limit",), "objection_limit") if spec.objection_limit else None,
        file=doc.file,
    )
    _check_structure(ctx, flow, doc, layers)
    ctx.flows[spec.name] = flow


def _bodies(ctx: _Context, doc: LoadedYaml, raw: Mapping[str, Any], key: str, model: type[Any]) -> list[tuple[str, Any]]:
    """Validate each state (or mixin) on its own; the valid ones load, the others are reported."""
    out = []
    for name, data in raw.items():
        body, issues = validate_model(doc, model, data if data is not None else {}, prefix=(key, name))
        ctx.bundle.add(issues)
        if body is not None:
            out.append((name, body))
        else:
            ctx.broken.add(name)
    return out


def _resolve_state(ctx: _Context, name: str, layer: _Layer, layers: Mapping[str, _Layer], concrete: Mapping[str, _Layer]) -> State | None:
    chain: list[_Layer] = []
    seen: list[str] = [name]
    current: _Layer | None = layer
    while current is not None:
        chain.append(current)
        parent = getattr(current.body, "extends", None)
        if parent is None:
            break
        if parent in seen:
            ctx.issue(current.doc, current.loc + ("extends",), f"extends cycle: {' -> '.join(seen + [parent])}", "Remove one of these extends")
            return None
        seen.append(parent)
        current = layers.get(parent) or ctx.abstract.get(parent)
        if current is None and parent in ctx.broken:
            return None
        if current is None:
            known = list(ctx.abstract) + [other for other in layers if other != name]
            ctx.issue(chain[-1].doc, chain[-1].loc + ("extends",), f"unknown state '{parent}' to extend", suggest(parent, known) or f"Known: {', '.join(sorted(ctx.abstract))}")
            return None
    ordered: list[_Layer] = []
    for item in reversed(chain):  # the root ancestor first
        for index, mixin_name in enumerate(getattr(item.body, "mixins", [])):
            mixin = ctx.mixins.get(mixin_name)
            if mixin is None and mixin_name in ctx.broken:
                continue
            if mixin is None:
                ctx.issue(item.doc, item.loc + ("mixins", index), f"unknown mixin '{mixin_name}'", suggest(mixin_name, ctx.mixins) or f"Known mixins: {', '.join(sorted(ctx.mixins))}")
                continue
            ordered.append(mixin)
        ordered.append(item)
    # An item's mixins sit between its parent and itself: parent < mixins < own keys.
    values: dict[str, Any] = {}
    merged: dict[str, dict[str, Move]] = {key: {} for key in MERGED_MAPPINGS}
    for item in ordered:
        body = item.body
        for key in MERGED_MAPPINGS:
            kind = "category" if key.startswith("category") else "intent"
            for trigger, move in getattr(body, key).items():
                loc = item.loc + (key, trigger)
                ctx.refer(kind, trigger, item.doc, loc, key=True)
                if move is None:
                    merged[key].pop(trigger, None)
                    continue
                if key.endswith("rules") and not _stays(move):
                    ctx.issue(item.doc, loc, "a rule answers in place and cannot move", "Put moves under transitions (or category_transitions)")
                merged[key][trigger] = _move(ctx, move, item.doc, loc, item.origin)
        if isinstance(body, StateBody):
            for key in _SCALARS:
                if key in body.model_fields_set:
                    values[key] = getattr(body, key)
            if body.on_enter is not None:
                ctx.refer("action", body.on_enter.action, item.doc, item.loc + ("on_enter",))
    default = values.get("default")
    on_enter = values.get("on_enter")
    return State(
        name=name,
        goal=values.get("goal", ""),
        description=values.get("description", ""),
        phase=values.get("phase"),
        on_enter=on_enter.action if on_enter is not None else None,
        final=bool(values.get("final", False)),
        detour=bool(values.get("detour", False)),
        required_data=tuple(values.get("required_data") or ()),
        max_turns=values.get("max_turns"),
        next=values.get("next"),
        rules=merged["rules"],
        category_rules=merged["category_rules"],
        transitions=merged["transitions"],
        category_transitions=merged["category_transitions"],
        default=_move(ctx, default, layer.doc, layer.loc + ("default",), f"state {name}") if default is not None else None,
        lineage=tuple(item.origin for item in ordered[:-1]),
    )


def _stays(move: MoveSpec) -> bool:
    return move.to is None and not move.next and not move.back


def _move(ctx: _Context, spec: MoveSpec | None, doc: LoadedYaml, loc: tuple[str | int, ...], origin: str) -> Move:
    if spec is None:
        return Move(origin=origin)
    if spec.action:
        ctx.refer("action", spec.action, doc, loc + ("action",))
    if spec.to is not None and spec.to not in ctx.state_names:
        names = sorted(ctx.state_names)
        ctx.issue(doc, loc, f"unknown state '{spec.to}'", suggest(spec.to, names) or f"Known states: {', '.join(names)}")
    return Move(spec.to, spec.next, spec.back, spec.action, spec.action_from, spec.why, origin, spec.resume)


def _moves(ctx: _Context, mapping: Mapping[str, MoveSpec | None], doc: LoadedYaml, loc: tuple[str | int, ...], origin: str, kind: str) -> dict[str, Move]:
    out: dict[str, Move] = {}
    for trigger, spec in mapping.items():
        ctx.refer(kind, trigger, doc, loc + (trigger,), key=True)
        if spec is not None:
            out[trigger] = _move(ctx, spec, doc, loc + (trigger,), origin)
    return out


def _condition(ctx: _Context, raw: Any, doc: LoadedYaml, loc: tuple[str | int, ...], names: list[str], phases: list[str]) -> Any:
    if raw is None:
        return None
    context = ConditionContext(FLOW_FACTS, fact_domains(ctx.bundle, states=names, phases=phases))
    condition, issues = parse_condition(raw, doc, loc, context)
    ctx.bundle.add(issues)
    return condition


def _priorities(ctx: _Context, spec: FlowFile, doc: LoadedYaml, names: list[str]) -> tuple[Priority, ...]:
    entries = [(item, doc, ("priorities", index)) for index, item in enumerate(spec.priorities)] if spec.priorities is not None else list(ctx.priorities)
    if not entries:
        ctx.issue(doc, ("priorities",), "no decision order: neither this flow nor _base/priorities.yaml lists priorities", "Create yaml_config/flows/_base/priorities.yaml")
    by_name = {item.name: (item, item_doc, loc) for item, item_doc, loc in entries}
    for name, override in spec.priority_overrides.items():
        if name not in by_name:
            ctx.issue(doc, ("priority_overrides", name), f"unknown priority '{name}'", suggest(name, by_name) or f"Known: {', '.join(by_name)}", key=True)
            continue
        item, _item_doc, _loc = by_name[name]
        changes = {key: getattr(override, key) for key in override.model_fields_set}
        by_name[name] = (item.model_copy(update=changes), doc, ("priority_overrides", name))
    out: list[Priority] = []
    phases = list(spec.phases)
    for item, item_doc, loc in by_name.values():
        if not item.enabled:
            continue
        if item.handler is not None and item.handler not in HANDLERS:
            ctx.issue(item_doc, loc + ("handler",), f"unknown handler '{item.handler}'", suggest(item.handler, HANDLERS) or f"Known handlers: {', '.join(HANDLERS)}")
        if item.handler is None and not (item.use_transitions or item.move):
            ctx.issue(item_doc, loc, f"priority '{item.name}' does nothing", "Give it a handler, use_transitions: true or a move")
        for index, intent in enumerate(item.intents):
            ctx.refer("intent", intent, item_doc, loc + ("intents", index))
        for index, category in enumerate(item.categories):
            ctx.refer("category", category, item_doc, loc + ("categories", index))
        if item.flag:
            ctx.refer("flag", item.flag, item_doc, loc + ("flag",))
        move = _move(ctx, item.move, item_doc, loc + ("move",), f"priority {item.name}") if item.move else None
        out.append(Priority(item.name, item.priority, item.handler, frozenset(item.intents), tuple(item.categories), _condition(ctx, item.when, item_doc, loc + ("when",), names, phases), item.flag, item.use_transitions, move))
    return tuple(sorted(out, key=lambda priority: priority.priority))


def _gates(ctx: _Context, spec: FlowFile, doc: LoadedYaml, names: list[str]) -> dict[str, Gate]:
    out: dict[str, Gate] = {}
    for state, gate in spec.gates.items():
        loc = ("gates", state)
        if state not in names:
            ctx.issue(doc, loc, f"gate on unknown state '{state}'", suggest(state, names) or "Use a state of this flow", key=True)
        for index, intent in enumerate(gate.bypass_intents):
            ctx.refer("intent", intent, doc, loc + ("bypass_intents", index))
        condition = _condition(ctx, gate.when, doc, loc + ("when",), names, list(spec.phases))
        out[state] = Gate(state, condition, frozenset(gate.bypass_intents), _move(ctx, gate.otherwise, doc, loc + ("otherwise",), f"gate {state}"), gate.description)
    return out


def _skipping(ctx: _Context, spec: FlowFile, doc: LoadedYaml, names: list[str]) -> tuple[Skip, ...]:
    out: list[Skip] = []
    for index, skip in enumerate(spec.skipping):
        loc: tuple[str | int, ...] = ("skipping", index)
        for position, state in enumerate(skip.from_states):
            if state not in names:
                ctx.issue(doc, loc + ("from", position), f"unknown state '{state}'", suggest(state, names) or "Use a state of this flow")
        if skip.to not in names:
            ctx.issue(doc, loc + ("to",), f"unknown state '{skip.to}'", suggest(skip.to, names) or "Use a state of this flow")
        if skip.action:
            ctx.refer("action", skip.action, doc, loc + ("action",))
        out.append(Skip(_condition(ctx, skip.when, doc, loc + ("when",), names, list(spec.phases)), frozenset(skip.from_states), skip.to, skip.action, skip.description))
    return tuple(out)


def _check_structure(ctx: _Context, flow: Flow, doc: LoadedYaml, layers: Mapping[str, _Layer]) -> None:
    names = list(flow.states)
    if flow.initial not in flow.states:
        ctx.issue(doc, ("initial",), f"unknown state '{flow.initial}'", suggest(flow.initial, names) or f"Known states: {', '.join(names)}")
    for name, state in flow.states.items():
        layer = layers[name]
        if state.on_enter is None and not state.final:
            ctx.issue(layer.doc, layer.loc, f"state '{name}' has no on_enter action", "Add on_enter: ACTION (or inherit one with extends)")
        if state.phase is not None and flow.phases and state.phase not in flow.phases:
            ctx.issue(layer.doc, layer.loc + ("phase",), f"unknown phase '{state.phase}'", suggest(state.phase, flow.phases) or f"Phases: {', '.join(flow.phases)}")
        if state.next is not None and state.next not in flow.states:
            ctx.issue(layer.doc, layer.loc + ("next",), f"unknown state '{state.next}'", suggest(state.next, names) or "Use a state of this flow")
        moves = [state.default] if state.default is not None else []
        for mapping in (state.rules, state.category_rules, state.transitions, state.category_transitions):
            moves.extend(mapping.values())
        if state.next is None and any(move.next for move in moves):
            ctx.issue(layer.doc, layer.loc, f"state '{name}' has a move with 'next: true' but no next", "Give the state a next: STATE")
