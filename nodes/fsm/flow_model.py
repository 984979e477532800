"""A flow after loading: states with extends/mixins resolved, priorities sorted, conditions parsed.

These frozen objects are what the FSM node decides with and what ``spinflow validate``
inspects (``Flow.edges`` for reachability). ``origin`` strings say where a move came from
(``mixin price_handling``, ``_base_phase``, ``state spin_problem``) so that a trace can tell
a designer which YAML produced a transition.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from engine.conditions import Condition

__all__ = ["Move", "State", "Priority", "Gate", "Skip", "Flow", "HANDLERS"]

#: Built-in decision steps a priority entry may name as ``handler``.
HANDLERS = (
    "final_state",
    "go_back",
    "objection_limit",
    "guard",
    "state_rules",
    "phase_progress",
    "transitions",
    "data_complete",
    "any_state",
    "max_turns",
    "default",
)


@dataclass(frozen=True)
class Move:
    to: str | None = None
    next: bool = False
    back: bool = False
    action: str | None = None
    action_from: str | None = None
    why: str = ""
    origin: str = ""
    resume: bool = False  # with back: decide the turn again in the state returned to

    @property
    def stays(self) -> bool:
        return self.to is None and not self.next and not self.back


@dataclass(frozen=True)
class State:
    name: str
    goal: str = ""
    description: str = ""
    phase: str | None = None
    on_enter: str | None = None
    final: bool = False
    detour: bool = False
    required_data: tuple[str, ...] = ()
    max_turns: int | None = None
    next: str | None = None
    rules: dict[str, Move] = field(default_factory=dict)
    category_rules: dict[str, Move] = field(default_factory=dict)
    transitions: dict[str, Move] = field(default_factory=dict)
    category_transitions: dict[str, Move] = field(default_factory=dict)
    default: Move | None = None
    lineage: tuple[str, ...] = ()  # extends chain and mixins, lowest precedence first


@dataclass(frozen=True)
class Priority:
    name: str
    priority: int
    handler: str | None = None
    intents: frozenset[str] = frozenset()
    categories: tuple[str, ...] = ()
    when: Condition | None = None
    flag: str | None = None
    use_transitions: bool = False
    move: Move | None = None


@dataclass(frozen=True)
class Gate:
    state: str
    when: Condition | None
    bypass_intents: frozenset[str] = frozenset()
    otherwise: Move = Move()
    description: str = ""


@dataclass(frozen=True)
class Skip:
    when: Condition | None
    from_states: frozenset[str]
    to: str
    action: str | None = None
    description: str = ""


@dataclass(frozen=True)
class Flow:
    name: str
    description: str
    initial: str
    states: dict[str, State]
    priorities: tuple[Priority, ...]
    phases: tuple[str, ...] = ()
    essentials: tuple[str, ...] = ()
    any_state: dict[str, Move] = field(default_factory=dict)
    any_state_categories: dict[str, Move] = field(default_factory=dict)
    gates: dict[str, Gate] = field(default_factory=dict)
    skipping: tuple[Skip, ...] = ()
    interventions: dict[str, Move] = field(default_factory=dict)
    objection_limit: Move | None = None
    file: str = ""

    def phase_states(self) -> list[str]:
        """States that carry a phase, in the flow's phase order."""
        order = {phase: index for index, phase in enumerate(self.phases)}
        named = [(order.get(state.phase, len(order)), name) for name, state in self.states.items() if state.phase]
        return [name for _, name in sorted(named)]

    def target_of(self, source: str, move: Move) -> str | None:
        """Static target of a move from ``source`` (None for 'back', which is dynamic)."""
        if move.to is not None:
            return move.to
        if move.next:
            return self.states[source].next if source in self.states else None
        if move.back:
            return None
        return source

    def edges(self) -> dict[str, set[str]]:
        """Every state → the states a decision can move it to (for the Machine and checks)."""
        out: dict[str, set[str]] = {name: set() for name in self.states}
        entries_to: dict[str, set[str]] = {name: set() for name in self.states}
        phase_states = self.phase_states()
        resuming: set[str] = set()  # detours with a 'resume' move
        for name, state in self.states.items():
            if state.final:
                continue
            moves: list[Move] = []
            for mapping in (state.rules, state.category_rules, state.transitions, state.category_transitions, self.any_state, self.any_state_categories, self.interventions):
                moves.extend(mapping.values())
            if state.default is not None:
                moves.append(state.default)
            if self.objection_limit is not None:
                moves.append(self.objection_limit)
            moves.extend(priority.move for priority in self.priorities if priority.move is not None)
            if state.detour and any(move.resume for move in moves):
                resuming.add(name)
            for move in moves:
                target = self.target_of(name, move)
                if target is not None and target != name:
                    out[name].add(target)
            if state.next and (state.max_turns or state.required_data):
                out[name].add(state.next)
            for skip in self.skipping:
                if name in skip.from_states:
                    out[name].add(skip.to)
            if state.phase and name in phase_states:
                out[name].update(phase_states[: phase_states.index(name)])  # go_back
        for gate in self.gates.values():
            for name in list(out):
                if gate.state in out[name]:
                    target = self.target_of(name, gate.otherwise)
                    if target is not None and target != name:
                        out[name].add(target)
        for name, targets in out.items():
            for target in targets:
                if target in entries_to:
                    entries_to[target].add(name)
        sources_out = {name: set(targets) for name, targets in out.items()}
        for name, state in self.states.items():
            if state.detour:
                for source in entries_to[name]:
                    out[name].add(source)  # 'back' returns where the detour was entered from
                    if name in resuming:  # … and 'resume' goes on from there as that state would
                        out[name].update(sources_out[source])
        return out
