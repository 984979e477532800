"""``context.envelope``: one flat mapping of facts about the dialogue, for the FSM and the policy.

Combines the context window (histories, detectors), persistent counters (objections,
positives, questions, unclear; streaks), the flow (phase, required data, essentials,
phases done), lead temperature, guard intervention, frustration and tone. Every fact of
``ENVELOPE_FACTS`` is always present, so conditions never meet a missing value.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.errors import ConfigError, ConfigIssue
from engine.node import NodeConfig, NodeContext
from engine.registry import register
from nodes.context import detectors
from nodes.context.config import FILE, ContextSettings
from nodes.context.facts import ENVELOPE_FACTS, with_defaults
from nodes.context.window import known_fields

__all__ = ["ContextEnvelope", "ContextEnvelopeConfig", "COUNTERS"]

#: conv.counters keys this node owns.
COUNTERS = ("objections", "positives", "questions", "unclear", "objection_streak", "unclear_streak")


class ContextEnvelopeConfig(NodeConfig):
    tone_key: str | None = None  # state key of a tone node's output ({"label": ...}); None: no tone node


@register("context.envelope")
class ContextEnvelope:
    """Builds the envelope and updates the conversation counters."""

    Config = ContextEnvelopeConfig
    reads = frozenset(
        {"intent", "intent_confidence", "turn_index", "dialogue_context", "lead", "guard", "conv.context_window", "conv.collected_data", "conv.state", "conv.flow",
         "conv.frustration", "conv.counters", "conv.extra", "conv.last_action", "conv.lead_score"}
    )
    writes = frozenset({"envelope", "conv.counters"})

    def __init__(self, config: ContextEnvelopeConfig, resources: Any) -> None:
        settings: ContextSettings | None = resources.bundle.section("context")
        if settings is None:
            raise ConfigError([ConfigIssue(FILE, 0, "", "context.envelope cannot start: the file is missing or invalid", "Fix the problems listed for it")])
        self.spec = settings.spec
        self.flows = resources.bundle.section("flows") or {}
        self.default_flow = resources.settings.flow
        self.scoring = resources.bundle.section("lead_scoring")
        taxonomy = resources.bundle.section("intents")
        self._in_category = taxonomy.in_category if taxonomy is not None else (lambda intent, category: False)
        self.tone_key = config.tone_key
        self.reads = type(self).reads | ({config.tone_key} if config.tone_key else frozenset())

    def _kind(self, intent: str) -> str:
        counters = self.spec.counters
        if counters.objection.contains(intent, self._in_category):
            return "O"
        if self.spec.interest.contains(intent, self._in_category):
            return "I"
        return ""

    def run(self, state: Mapping[str, Any], ctx: NodeContext) -> dict[str, Any]:
        spec = self.spec
        intent = state.get("intent") or "unclear"
        turn = int(state.get("turn_index") or ctx.turn_index)
        window = [entry for entry in (state.get("conv.context_window") or []) if isinstance(entry, Mapping)]
        counters = dict(state.get("conv.counters") or {})
        in_category = self._in_category
        is_objection = spec.counters.objection.contains(intent, in_category)
        is_unclear = spec.counters.unclear.contains(intent, in_category)
        counters["objections"] = int(counters.get("objections", 0)) + is_objection
        counters["objection_streak"] = int(counters.get("objection_streak", 0)) + 1 if is_objection else 0
        counters["unclear"] = int(counters.get("unclear", 0)) + is_unclear
        counters["unclear_streak"] = int(counters.get("unclear_streak", 0)) + 1 if is_unclear else 0
        counters["positives"] = int(counters.get("positives", 0)) + spec.counters.positive.contains(intent, in_category)
        counters["questions"] = int(counters.get("questions", 0)) + spec.counters.question.contains(intent, in_category)

        context = state.get("dialogue_context") or {}
        flow = self.flows.get(state.get("conv.flow") or context.get("flow") or self.default_flow) or self.flows.get(self.default_flow)
        current = state.get("conv.state") or context.get("state") or (flow.initial if flow else "")
        state_spec = flow.states.get(current) if flow else None
        extra: Mapping[str, Any] = state.get("conv.extra") or {}
        memory: Mapping[str, Any] = extra["fsm"] if isinstance(extra.get("fsm"), Mapping) else {}
        collected = known_fields(state.get("conv.collected_data"))
        required = list(state_spec.required_data) if state_spec else []
        essentials = list(flow.essentials) if flow else []
        missing_essentials = [name for name in essentials if name not in collected]
        lead: Mapping[str, Any] = state.get("lead") or {}
        lead_score = float(lead.get("score", state.get("conv.lead_score") or 0.0))
        temperature = lead.get("temperature") or (self.scoring.temperature(lead_score) if self.scoring is not None else "cold")
        guard: Mapping[str, Any] = state.get("guard") or {}
        tone_output = state.get(self.tone_key) if self.tone_key else None
        intents = [str(entry.get("intent") or "") for entry in window]
        facts = {
            "turn": turn,
            "state": current,
            "flow": flow.name if flow else "",
            "phase": (state_spec.phase or "") if state_spec else "",
            "is_final": bool(state_spec and state_spec.final),
            "turns_in_state": max(0, turn - int(memory.get("entered_turn") or 0)),
            "intent": intent,
            "intent_confidence": float(state.get("intent_confidence") or 0.0),
            "previous_intent": intents[-2] if len(intents) >= 2 else "",
            "last_action": state.get("conv.last_action") or "",
            "intent_history": intents,
            "action_history": [str(entry.get("action")) for entry in window if entry.get("action")],
            "state_history": [str(entry.get("state") or "") for entry in window],
            "objection_count": counters["objections"],
            "objection_streak": counters["objection_streak"],
            "positive_count": counters["positives"],
            "question_count": counters["questions"],
            "unclear_count": counters["unclear"],
            "unclear_streak": counters["unclear_streak"],
            "has_oscillation": detectors.oscillation([self._kind(name) for name in intents], spec.oscillation.window, spec.oscillation.min_switches),
            "is_stuck": detectors.stuck(window, spec.stuck.same_state_turns),
            "repeated_question": detectors.repeated_question(window, lambda name: spec.counters.question.contains(name, in_category), spec.repeated_question.window),
            "confidence_trend": detectors.confidence_trend([float(entry.get("confidence") or 0.0) for entry in window], spec.confidence_trend.window, spec.confidence_trend.delta),
            "collected_fields": collected,
            "missing_data": [name for name in required if name not in collected],
            "essentials_known": bool(essentials) and not missing_essentials,
            "missing_essentials": missing_essentials,
            "phases_done": list(memory.get("phases_done") or []),
            "engagement": detectors.engagement([str(entry.get("text") or "") for entry in window], spec.engagement.window, spec.engagement.high_words, spec.engagement.low_words),
            "frustration": float(state.get("conv.frustration") or 0.0),
            "tone": str(tone_output.get("label") or tone_output.get("tone") or "") if isinstance(tone_output, Mapping) else str(tone_output or ""),
            "lead_score": lead_score,
            "lead_temperature": temperature,
            "guard_intervention": guard.get("intervention") or "",
            "guard_reasons": list(guard.get("reasons") or []),
        }
        return {"envelope": with_defaults(facts, ENVELOPE_FACTS), "conv.counters": counters}
