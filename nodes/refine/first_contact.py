"""``refine.first_contact`` (HIGH): cautious interest on the first turns is not an objection.

On turn ≤ ``max_turn`` in one of ``active_states`` (greeting), an objection-like intent
(``suspicious_intents`` / ``suspicious_categories``) whose message carries a referral
(«посоветовали», «порекомендовал») or a cautious-interest marker («не уверен», «хочу
понять», «интересно узнать») is a client opening the conversation carefully: it becomes
``target_intent`` (consultation_request). Later in the dialogue the same words are a real
objection and pass through.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from engine.registry import register
from nodes.refine._layer import Outcome, RefineLayer, Turn
from nodes.refine._text import MarkerSet
from nodes.refine.settings import CategoryName, IntentName, LayerModel, Regex, layer_model

__all__ = ["FirstContact", "FirstContactFile"]


@layer_model("first_contact")
class FirstContactFile(LayerModel):
    max_turn: int = Field(2, ge=1)
    active_states: list[str] = Field(default_factory=lambda: ["greeting"])
    suspicious_intents: list[IntentName] = Field(default_factory=list)
    suspicious_categories: list[CategoryName] = Field(default_factory=list)
    referral_markers: list[Regex] = Field(default_factory=list)
    cautious_markers: list[Regex] = Field(default_factory=list)
    target_intent: IntentName = "consultation_request"
    referral_confidence: float = Field(0.9, gt=0, le=1)
    cautious_confidence: float = Field(0.85, gt=0, le=1)


@register("refine.first_contact")
class FirstContact(RefineLayer):
    """Referral or cautious interest on turn ≤ 2 → consultation_request instead of an objection."""

    layer = "first_contact"

    def setup(self, settings: Any, resources: Any) -> None:
        self.settings: FirstContactFile = settings
        self.suspicious = frozenset(settings.suspicious_intents)
        self.categories = tuple(settings.suspicious_categories)
        self.referral = MarkerSet(settings.referral_markers)
        self.cautious = MarkerSet(settings.cautious_markers)
        self.states = frozenset(settings.active_states)

    def refine(self, turn: Turn, state: Mapping[str, Any]) -> Outcome:
        settings = self.settings
        if not turn.turn or turn.turn > settings.max_turn:
            return Outcome.skip("not_first_contact", {"turn": turn.turn})
        if turn.state not in self.states:
            return Outcome.skip("state_not_active", {"state": turn.state})
        if not (turn.intent in self.suspicious or any(self.in_category(turn.intent, category) for category in self.categories)):
            return Outcome.keep("intent_not_suspicious")
        marker = self.referral.find(turn.text)
        if marker is not None:
            return Outcome.refine("first_contact_referral", settings.target_intent, settings.referral_confidence, {"marker": marker, "turn": turn.turn})
        marker = self.cautious.find(turn.text)
        if marker is not None:
            return Outcome.refine("first_contact_cautious_interest", settings.target_intent, settings.cautious_confidence, {"marker": marker, "turn": turn.turn})
        return Outcome.keep("no_cautious_signal")
