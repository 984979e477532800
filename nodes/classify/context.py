"""Dialogue context for understanding nodes: from evaluation input, or derived from the conversation.

Keys: ``state``, ``spin_phase``, ``last_action``, ``last_bot_message``, ``turn``,
``last_intent``. Evaluation supplies them as ``dialogue_context``; in a chat they come
from ``conv.state``/``conv.last_action``/``conv.last_bot_message``/``conv.last_intent``.
YAML conditions (``context:``/``unless_context:`` on a pattern) match them with
shell-style globs (``ask_*``). When the context names no SPIN phase, section
``dialogue_context`` (``yaml_config/nlu/context.yaml``) says how to derive one from the
state name or from the bot's last action («ask_problem» → problem).
"""
from __future__ import annotations

from collections.abc import Mapping
from fnmatch import fnmatchcase
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from engine.config import ConfigBundle, section, validate_model

__all__ = ["CONTEXT_KEYS", "CONTEXT_READS", "PhaseRules", "derive_context", "context_matches", "load_phase_rules"]

CONTEXT_KEYS = ("state", "spin_phase", "last_action", "last_bot_message", "turn", "last_intent")
CONTEXT_READS = frozenset({"dialogue_context", "turn_index", "conv.state", "conv.last_action", "conv.last_bot_message", "conv.last_intent"})


class PhaseRules(BaseModel):
    """How to name the SPIN phase when the context does not."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    version: int = 1
    state_prefix: str = Field("spin_", description="a state named <prefix><phase> is in that phase")
    from_last_action: dict[str, str] = Field(default_factory=dict, description="bot action glob → phase it asked about")


_DEFAULT_RULES = PhaseRules()


@section("dialogue_context")
def load_phase_rules(bundle: ConfigBundle) -> PhaseRules:
    doc = bundle.file("yaml_config/nlu/context.yaml")
    if doc is None:
        return _DEFAULT_RULES
    rules, issues = validate_model(doc, PhaseRules)
    bundle.add(issues)
    return rules or _DEFAULT_RULES


# Every understanding node of a turn (classifier, a dozen refinement layers) derives the same
# context from the same inputs: remember the last derivation per rules object and hand out copies.
_LAST: dict[int, tuple[PhaseRules, tuple[Any, ...], dict[str, Any]]] = {}


def derive_context(state: Mapping[str, Any], rules: PhaseRules | None = None) -> dict[str, Any]:
    """The context a stage may use; supplied ``dialogue_context`` wins over conversation fields."""
    rules = rules or _DEFAULT_RULES
    supplied = state.get("dialogue_context")
    key = (dict(supplied) if isinstance(supplied, Mapping) else supplied, state.get("conv.state"), state.get("conv.last_action"),
           state.get("conv.last_bot_message"), state.get("conv.last_intent"), state.get("turn_index"))
    last = _LAST.get(id(rules))
    if last is not None and last[0] is rules and last[1] == key:
        return dict(last[2])
    context = _derive(state, rules)
    _LAST[id(rules)] = (rules, key, context)
    return dict(context)


def _derive(state: Mapping[str, Any], rules: PhaseRules) -> dict[str, Any]:
    supplied = state.get("dialogue_context") or {}
    context: dict[str, Any] = {key: supplied[key] for key in CONTEXT_KEYS if supplied.get(key) not in (None, "")}
    if not supplied:
        for key in ("state", "last_action", "last_bot_message", "last_intent"):
            value = state.get("conv." + key)
            if value:
                context[key] = value
        if state.get("turn_index"):
            context.setdefault("turn", state.get("turn_index"))
    phase = context.get("state")
    if "spin_phase" not in context and isinstance(phase, str) and rules.state_prefix and phase.startswith(rules.state_prefix):
        context["spin_phase"] = phase[len(rules.state_prefix):]
    action = context.get("last_action")
    if "spin_phase" not in context and isinstance(action, str):
        for glob, name in rules.from_last_action.items():
            if fnmatchcase(action, glob):
                context["spin_phase"] = name
                break
    return context


def context_matches(context: Mapping[str, Any], required: Mapping[str, list[str]] | None, forbidden: Mapping[str, list[str]] | None = None) -> bool:
    """True if every ``required`` key matches one of its globs and no ``forbidden`` one does.

    A required key absent from the context fails; the special glob ``"-"`` means "absent".
    """
    if required:
        for key, globs in required.items():
            value = context.get(key)
            if value in (None, ""):
                if "-" not in globs:
                    return False
                continue
            text = str(value)
            if not any(fnmatchcase(text, glob) for glob in globs):
                return False
    if forbidden:
        for key, globs in forbidden.items():
            value = context.get(key)
            if value in (None, ""):
                if "-" in globs:
                    return False
                continue
            text = str(value)
            if any(fnmatchcase(text, glob) for glob in globs):
                return False
    return True
