"""``refine.comparison`` (NORMAL, off by default): a comparison with competitive signals is an objection.

«У Битрикс дешевле», «Конкурент лучше по функционалу», «Зачем вы, если есть AmoCRM?» are
competitive objections, not neutral comparison questions. A comparison intent
(``comparison_intents``) with a competitive marker or a competitor's name, or a feature
question (``question_intents``) that compares («чем … лучше») with a competitor's name,
becomes ``target_intent`` (objection_competitor).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from engine.registry import register
from nodes.refine._layer import Outcome, RefineLayer, Turn
from nodes.refine._text import MarkerSet
from nodes.refine.settings import IntentName, LayerModel, Regex, layer_model

__all__ = ["Comparison", "ComparisonFile"]


@layer_model("comparison")
class ComparisonFile(LayerModel):
    comparison_intents: list[IntentName] = Field(default_factory=list)
    question_intents: list[IntentName] = Field(default_factory=list, description="refined only with a comparison marker and a competitor's name")
    comparison_markers: list[Regex] = Field(default_factory=list)
    competitive_markers: list[Regex] = Field(default_factory=list)
    competitor_names: list[Regex] = Field(default_factory=list)
    target_intent: IntentName = "objection_competitor"
    confidence: float = Field(0.8, gt=0, le=1)


@register("refine.comparison")
class Comparison(RefineLayer):
    """comparison / question_features + competitive signals → objection_competitor."""

    layer = "comparison"

    def setup(self, settings: Any, resources: Any) -> None:
        self.settings: ComparisonFile = settings
        self.comparisons = frozenset(settings.comparison_intents)
        self.questions = frozenset(settings.question_intents)
        self.comparing = MarkerSet(settings.comparison_markers)
        self.competitive = MarkerSet(settings.competitive_markers)
        self.names = MarkerSet(settings.competitor_names)

    def refine(self, turn: Turn, state: Mapping[str, Any]) -> Outcome:
        settings = self.settings
        if turn.intent not in self.comparisons and turn.intent not in self.questions:
            return Outcome.skip("intent_not_comparison")
        name = self.names.find(turn.text)
        if turn.intent in self.comparisons:
            marker = self.competitive.find(turn.text)
            if marker is not None or name is not None:
                return Outcome.refine("competitive_signal", settings.target_intent, settings.confidence, {"marker": marker, "competitor": name})
            return Outcome.keep("neutral_comparison")
        comparing = self.comparing.find(turn.text)
        if comparing is not None and name is not None:
            return Outcome.refine("competitor_comparison_question", settings.target_intent, settings.confidence, {"marker": comparing, "competitor": name})
        return Outcome.keep("no_competitor_comparison")
