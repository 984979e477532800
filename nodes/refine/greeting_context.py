"""``refine.greeting_context`` (HIGH): technical-problem intents in the greeting enter the sales flow.

In the greeting (``active_states``, turn ≤ ``max_turn_number``) a client who opens with a
technical complaint («синхронизация не работает») is describing a pain, not asking for
support: intents of ``suspicious_intent_categories`` (technical_problems — new intents of
that category join automatically) and ``additional_suspicious_intents`` become
``target_overrides[intent]`` or ``default_target`` (problem_revealed), so the flow starts
instead of escalating.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from engine.registry import register
from nodes.refine._layer import Outcome, RefineLayer, Turn
from nodes.refine.settings import CategoryName, IntentName, LayerModel, layer_model

__all__ = ["GreetingContext", "GreetingContextFile"]


@layer_model("greeting_context")
class GreetingContextFile(LayerModel):
    max_turn_number: int = Field(3, ge=1)
    active_states: list[str] = Field(default_factory=lambda: ["greeting"])
    suspicious_intent_categories: list[CategoryName] = Field(default_factory=list)
    additional_suspicious_intents: list[IntentName] = Field(default_factory=list)
    default_target: IntentName = "problem_revealed"
    target_overrides: dict[IntentName, IntentName] = Field(default_factory=dict)
    confidence: float = Field(0.75, gt=0, le=1)


@register("refine.greeting_context")
class GreetingContext(RefineLayer):
    """Technical intents in the greeting → problem_revealed / need_expressed."""

    layer = "greeting_context"

    def setup(self, settings: Any, resources: Any) -> None:
        self.settings: GreetingContextFile = settings
        self.states = frozenset(settings.active_states)
        self.extra_intents = frozenset(settings.additional_suspicious_intents) | frozenset(settings.target_overrides)

    def refine(self, turn: Turn, state: Mapping[str, Any]) -> Outcome:
        settings = self.settings
        if turn.state not in self.states:
            return Outcome.skip("state_not_active", {"state": turn.state})
        if turn.turn and turn.turn > settings.max_turn_number:
            return Outcome.skip("past_greeting_turns", {"turn": turn.turn})
        suspicious = turn.intent in self.extra_intents or any(self.in_category(turn.intent, category) for category in settings.suspicious_intent_categories)
        if not suspicious:
            return Outcome.keep("intent_not_suspicious")
        target = settings.target_overrides.get(turn.intent, settings.default_target)
        return Outcome.refine(f"greeting_redirect:{turn.intent}", target, settings.confidence, {"state": turn.state})
