"""Cross-file check ``answer_states``: dialogue states named by the answer-side YAML exist.

``composition.yaml`` (follow-ups), ``cta.yaml`` (early states, state and dynamic CTAs) and the
prompt files (per-state instructions) name dialogue states; a misspelt one would silently
never match. Every such name must be a state of some flow in ``yaml_config/flows/``.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from engine.config import ConfigBundle, check
from engine.errors import ConfigIssue
from engine.registry import suggest

__all__ = ["check_answer_states"]


def _known_states(bundle: ConfigBundle) -> set[str]:
    flows: Any = bundle.section("flows")
    if not flows:
        return set()
    items = flows.items() if hasattr(flows, "items") else []
    return {name for _flow_name, flow in items for name in getattr(flow, "states", {})}


@check("answer_states")
def check_answer_states(bundle: ConfigBundle) -> Iterator[ConfigIssue]:
    known = _known_states(bundle)
    if not known:
        return
    named: list[tuple[str, tuple[str | int, ...], str, bool]] = []  # file, loc, state, is_key
    composition = bundle.section("composition")
    if composition is not None:
        named += [("yaml_config/templates/composition.yaml", ("followups", state), state, True) for state in composition.followups]
    catalogue = bundle.section("cta")
    if catalogue is not None:
        named += [("yaml_config/cta.yaml", ("early_states", index), state, False) for index, state in enumerate(catalogue.early_states)]
        for number, item in enumerate(catalogue.state_ctas):
            named += [("yaml_config/cta.yaml", ("state_ctas", number, "states", index), state, False) for index, state in enumerate(item.states)]
        for number, item in enumerate(catalogue.dynamic):
            named += [("yaml_config/cta.yaml", ("dynamic", number, "states", index), state, False) for index, state in enumerate(item.states)]
    for flow, prompt in (bundle.section("reply_prompts") or {}).items():
        named += [(f"yaml_config/templates/prompts/{flow}.yaml", ("states", state), state, True) for state in prompt.states]
    for file, loc, state, is_key in named:
        if state in known:
            continue
        doc = bundle.file(file)
        if doc is None:
            continue
        yield doc.issue(loc, f"unknown dialogue state '{state}'", suggest(state, known) or "Use a state of yaml_config/flows/", key=is_key)
