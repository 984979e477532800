"""Cross-file checks of flows: names from other sections exist, every state is reachable and can be left."""
from __future__ import annotations

from collections import deque
from collections.abc import Iterator

from engine.config import ConfigBundle, check
from engine.errors import ConfigIssue
from nodes.context.references import check_references
from nodes.fsm.flow_loader import FlowSet

__all__ = ["check_flow_references", "check_flow_graph"]


@check("flow_references")
def check_flow_references(bundle: ConfigBundle) -> Iterator[ConfigIssue]:
    """Intents, categories, actions (→ templates) and flags named in flows exist."""
    flows: FlowSet | None = bundle.section("flows")
    if flows is None:
        return
    yield from check_references(bundle, flows.references)


@check("flow_graph")
def check_flow_graph(bundle: ConfigBundle) -> Iterator[ConfigIssue]:
    """Unreachable states, and non-final states with no way out, are errors."""
    flows: FlowSet | None = bundle.section("flows")
    if not flows:
        return
    for name, flow in flows.items():
        doc = flows.docs.get(name)
        if doc is None or flow.initial not in flow.states:
            continue
        edges = flow.edges()
        reached = {flow.initial}
        queue = deque([flow.initial])
        while queue:
            for target in edges.get(queue.popleft(), ()):
                if target not in reached:
                    reached.add(target)
                    queue.append(target)
        for state_name, state in flow.states.items():
            state_doc, loc = flows.state_locs.get((name, state_name), (doc, ("initial",)))
            if state_name not in reached:
                yield state_doc.issue(loc, f"flow '{name}': state '{state_name}' is unreachable from '{flow.initial}'", f"Add a transition into '{state_name}' or remove it")
            elif not state.final and not (edges.get(state_name, set()) - {state_name}):
                yield state_doc.issue(loc, f"flow '{name}': state '{state_name}' has no way out", "Add a transition, a default move or 'final: true'")
            moves = list(state.transitions.values()) + list(state.category_transitions.values()) + ([state.default] if state.default else [])
            if not state.detour and any(move.back for move in moves):
                yield state_doc.issue(loc, f"flow '{name}': state '{state_name}' uses 'back: true' but is not a detour", "Mark the state 'detour: true' or move with to: STATE")
