"""The fact vocabulary of the dialogue: what flow conditions and policy rules may name.

The envelope node computes ``ENVELOPE_FACTS``; the objection handler adds
``OBJECTION_FACTS``; the policy sees both plus ``DECISION_FACTS`` (what the FSM decided this
turn). Every fact always has a value (its default when nothing produced it), so a condition
never meets a missing fact. ``rules/README.md`` lists them for designers.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.conditions import FactSpec

__all__ = ["fact_domains", "ENVELOPE_FACTS", "OBJECTION_FACTS", "DECISION_FACTS", "FLOW_FACTS", "POLICY_FACTS", "with_defaults", "objection_facts", "TRENDS", "ENGAGEMENT_LEVELS"]

TRENDS = ("rising", "falling", "stable")
ENGAGEMENT_LEVELS = ("high", "medium", "low")

ENVELOPE_FACTS: dict[str, FactSpec] = {
    "turn": FactSpec("number", "1-based turn index", default=0),
    "state": FactSpec("state", "FSM state at the start of the turn", default=""),
    "flow": FactSpec("text", "active flow name", default=""),
    "phase": FactSpec("text", "phase of the current state ('' outside phases)", domain="phase", default=""),
    "is_final": FactSpec("bool", "the current state is final", default=False),
    "turns_in_state": FactSpec("number", "client turns answered in the current state so far", default=0),
    "intent": FactSpec("intent", "this turn's intent", default="unclear"),
    "intent_confidence": FactSpec("number", "classifier confidence 0..1", default=0.0),
    "previous_intent": FactSpec("intent", "the previous turn's intent ('' on turn 1)", default=""),
    "last_action": FactSpec("action", "the bot's previous action", default=""),
    "intent_history": FactSpec("list", "intents of the last turns, oldest first", domain="intent", default=()),
    "action_history": FactSpec("list", "bot actions of the last turns, oldest first", domain="action", default=()),
    "state_history": FactSpec("list", "states of the last turns, oldest first", domain="state", default=()),
    "objection_count": FactSpec("number", "objections in the conversation so far (this turn included)", default=0),
    "objection_streak": FactSpec("number", "objections in a row ending with this turn", default=0),
    "positive_count": FactSpec("number", "positive signals in the conversation", default=0),
    "question_count": FactSpec("number", "questions in the conversation", default=0),
    "unclear_count": FactSpec("number", "unclear messages in the conversation", default=0),
    "unclear_streak": FactSpec("number", "unclear messages in a row ending with this turn", default=0),
    "has_oscillation": FactSpec("bool", "the client alternates interest and objection", default=False),
    "is_stuck": FactSpec("bool", "same state and no new data for several turns", default=False),
    "repeated_question": FactSpec("bool", "the client asks the same question again", default=False),
    "confidence_trend": FactSpec("text", "classifier confidence over the last turns", domain="trend", default="stable"),
    "collected_fields": FactSpec("list", "collected-data fields with a value", default=()),
    "missing_data": FactSpec("list", "required data of the current state still missing", default=()),
    "essentials_known": FactSpec("bool", "every field in the flow's essentials is collected", default=False),
    "missing_essentials": FactSpec("list", "essentials still missing", default=()),
    "phases_done": FactSpec("list", "phases the flow has completed", domain="phase", default=()),
    "engagement": FactSpec("text", "high / medium / low", domain="engagement", default="medium"),
    "frustration": FactSpec("number", "client frustration 0..10 (tone node)", default=0.0),
    "tone": FactSpec("text", "tone label when a tone node ran ('' otherwise)", default=""),
    "lead_score": FactSpec("number", "lead score 0..100", default=0.0),
    "lead_temperature": FactSpec("text", "lead temperature band", domain="temperature", default="cold"),
    "guard_intervention": FactSpec("text", "guard's intervention this turn ('' for none)", domain="intervention", default=""),
    "guard_reasons": FactSpec("list", "why the guard intervened", default=()),
}

OBJECTION_FACTS: dict[str, FactSpec] = {
    "objection_type": FactSpec("text", "type of this turn's objection ('' for none)", domain="objection_type", default=""),
    "objection_attempt": FactSpec("number", "how many times this objection type was handled, this one included", default=0),
    "objection_limit_reached": FactSpec("bool", "objections in a row or in total passed the limit", default=False),
}

DECISION_FACTS: dict[str, FactSpec] = {
    "next_state": FactSpec("state", "the state the FSM chose", default=""),
    "proposed_action": FactSpec("action", "the action the FSM chose", default=""),
    "transition_rule": FactSpec("text", "the priority step that decided", default=""),
    "moved": FactSpec("bool", "the FSM changed state this turn", default=False),
    "fired_rules": FactSpec("list", "policy rules applied earlier in this conversation", default=()),
}

#: What flow conditions (gates, skipping, priority ``when``) may name.
FLOW_FACTS: dict[str, FactSpec] = {**ENVELOPE_FACTS, **OBJECTION_FACTS}
#: What policy rules may name.
POLICY_FACTS: dict[str, FactSpec] = {**ENVELOPE_FACTS, **OBJECTION_FACTS, **DECISION_FACTS}


# (schema, its (name, default) pairs) per schema object: three nodes fill every fact each turn.
_DEFAULTS: dict[int, tuple[Mapping[str, FactSpec], tuple[tuple[str, Any], ...]]] = {}


def with_defaults(values: Mapping[str, Any] | None, schema: Mapping[str, FactSpec]) -> dict[str, Any]:
    """Every fact of ``schema``: the given value, else the default (lists as lists)."""
    values = values or {}
    known = _DEFAULTS.get(id(schema))
    if known is None or known[0] is not schema or len(known[1]) != len(schema):
        known = _DEFAULTS[id(schema)] = (schema, tuple((name, spec.default) for name, spec in schema.items()))
    get = values.get
    out: dict[str, Any] = {}
    for name, default in known[1]:
        value = get(name, default)
        if value is None:
            value = default
        out[name] = list(value) if isinstance(value, (list, tuple)) else value
    return out


def objection_facts(objection: Mapping[str, Any] | None) -> dict[str, Any]:
    """Map the objection handler's output onto its facts."""
    objection = objection or {}
    return {
        "objection_type": objection.get("type") or "",
        "objection_attempt": int(objection.get("attempt") or 0),
        "objection_limit_reached": bool(objection.get("should_soft_close")),
    }


def fact_domains(bundle: Any, *, states: Any = None, phases: Any = None) -> dict[str, Any]:
    """Vocabularies that condition values are checked against, from the loaded config.

    A vocabulary that cannot be built (no taxonomy yet, say) is left out, so that values of
    that kind are not checked rather than all reported as unknown.
    """
    domains: dict[str, Any] = {"trend": TRENDS, "engagement": ENGAGEMENT_LEVELS, "intervention": ("", "rephrase", "offer_options", "skip_phase", "soft_close")}
    taxonomy = bundle.section("intents")
    if taxonomy is not None and len(getattr(taxonomy, "intents", ())) > 1:
        domains["intent"] = set(taxonomy.intents) | {""}
        domains["category"] = set(taxonomy.categories)
    if states is not None:
        domains["state"] = set(states) | {""}
    if phases is not None:
        domains["phase"] = set(phases) | {""}
    scoring = bundle.section("lead_scoring")
    if scoring is not None:
        domains["temperature"] = {band.name for band in scoring.bands}
    objections = bundle.section("objections")
    if objections is not None:
        domains["objection_type"] = set(objections.types) | {""}
    return domains
