"""``refine.confidence_calibration`` (CRITICAL): post-hoc calibration of the classifier's confidence.

Three strategies, each a penalty computed on the original confidence (so they do not
cascade into each other), summed, then bounded by the floor and the ceiling:

* **entropy** — normalised Shannon entropy of the candidates' scores (primary +
  alternatives, as a distribution); above ``threshold`` the penalty is
  ``penalty_factor × excess``, capped at ``max_penalty``;
* **gap** — primary minus the best alternative; below ``threshold`` the penalty is the larger
  of the linear deficit (``penalty_factor × (threshold − gap) / threshold``) and, for a high
  confidence with a gap at most ``min_gap_for_high_confidence``, the fixed
  ``high_confidence_small_gap_penalty``; a high confidence with no alternatives at all pays
  ``no_alternatives_penalty``;
* **heuristic** — known failure modes: a short message with a high confidence, an
  overconfident intent, a non-data intent after a data-asking action, a confident objection,
  and an objection with no alternatives (rule 5).

The intent never changes; the decision is ``refined`` when the confidence moved, with the
penalties in ``meta`` (reason ``calibration:<strategy>+<strategy>``).
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from engine.registry import register
from nodes.refine._layer import Outcome, RefineLayer, Turn
from nodes.refine._text import word_count
from nodes.refine.settings import CategoryName, IntentName, LayerModel, layer_model

__all__ = ["ConfidenceCalibration", "CalibrationFile", "calibrate"]


class _Strategy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    enabled: bool = True


class EntropySettings(_Strategy):
    threshold: float = Field(0.5, ge=0, le=1, description="normalised entropy above which confidence is lowered")
    penalty_factor: float = Field(0.15, ge=0, le=1)
    max_penalty: float = Field(0.05, ge=0, le=1, description="entropy of a few candidates is a coarse signal; the gap strategy does the rest")


class GapSettings(_Strategy):
    threshold: float = Field(0.2, ge=0, le=1)
    penalty_factor: float = Field(0.2, ge=0, le=1)
    high_confidence: float = Field(0.85, ge=0, le=1)
    min_gap_for_high_confidence: float = Field(0.15, ge=0, le=1)
    high_confidence_small_gap_penalty: float = Field(0.1, ge=0, le=1)
    no_alternatives_penalty: float = Field(0.1, ge=0, le=1)
    no_alternatives_above: float = Field(0.8, ge=0, le=1, description="the no-alternatives penalty applies above this confidence")


class HeuristicSettings(_Strategy):
    short_message_words: int = Field(3, ge=0)
    short_message_min_confidence: float = Field(0.8, ge=0, le=1)
    short_message_penalty: float = Field(0.15, ge=0, le=1)
    overconfident_intents: list[IntentName] = Field(default_factory=list)
    overconfident_min_confidence: float = Field(0.85, ge=0, le=1)
    overconfident_intent_penalty: float = Field(0.1, ge=0, le=1)
    data_expecting_actions: list[str] = Field(default_factory=list)
    data_intents: list[IntentName] = Field(default_factory=list)
    context_mismatch_min_confidence: float = Field(0.8, ge=0, le=1)
    context_mismatch_penalty: float = Field(0.1, ge=0, le=1)
    objection_intents: list[IntentName] = Field(default_factory=list)
    objection_categories: list[CategoryName] = Field(default_factory=list, description="every intent of these categories counts as an objection")
    objection_min_confidence: float = Field(0.8, ge=0, le=1)
    objection_overconfidence_penalty: float = Field(0.1, ge=0, le=1)
    objection_no_alternatives_threshold: float = Field(0.75, ge=0, le=1)
    objection_no_alternatives_penalty: float = Field(0.15, ge=0, le=1)


@layer_model("confidence_calibration")
class CalibrationFile(LayerModel):
    min_confidence_floor: float = Field(0.1, ge=0, le=1)
    max_confidence_ceiling: float = Field(0.95, ge=0, le=1)
    stages: list[str] | None = Field(None, description="calibrate only answers of these classification stages (null: all)")
    entropy: EntropySettings = EntropySettings()
    gap: GapSettings = GapSettings()
    heuristic: HeuristicSettings = HeuristicSettings()


def _entropy(scores: list[float]) -> float:
    total = sum(scores)
    if total <= 0 or len(scores) < 2:
        return 0.0
    value = -sum((s / total) * math.log(s / total) for s in scores if s > 0)
    return value / math.log(len(scores))


def calibrate(
    settings: CalibrationFile,
    confidence: float,
    alternatives: list[tuple[str, float]],
    *,
    intent: str,
    words: int,
    last_action: str,
    is_objection: bool,
) -> tuple[float, dict[str, float], dict[str, float]]:
    """Return (calibrated confidence, penalties by name, measures {entropy, gap})."""
    penalties: dict[str, float] = {}
    measures: dict[str, float] = {}
    entropy, gap, heuristic = settings.entropy, settings.gap, settings.heuristic
    if entropy.enabled and alternatives:
        value = _entropy([confidence] + [score for _name, score in alternatives])
        measures["entropy"] = round(value, 4)
        if value > entropy.threshold:
            penalties["entropy"] = min(entropy.max_penalty, entropy.penalty_factor * (value - entropy.threshold))
    if gap.enabled:
        if alternatives:
            difference = round(confidence - alternatives[0][1], 6)
            measures["gap"] = difference
            if difference < gap.threshold:
                penalty = gap.penalty_factor * (gap.threshold - difference) / gap.threshold if gap.threshold else 0.0
                if confidence >= gap.high_confidence and difference <= gap.min_gap_for_high_confidence:
                    penalty = max(penalty, gap.high_confidence_small_gap_penalty)
                penalties["gap"] = penalty
        elif confidence > gap.no_alternatives_above:
            penalties["no_alternatives"] = gap.no_alternatives_penalty
    if heuristic.enabled:
        if words <= heuristic.short_message_words and confidence >= heuristic.short_message_min_confidence:
            penalties["short_message"] = heuristic.short_message_penalty
        if intent in heuristic.overconfident_intents and confidence >= heuristic.overconfident_min_confidence:
            penalties["overconfident_intent"] = heuristic.overconfident_intent_penalty
        if last_action in heuristic.data_expecting_actions and intent not in heuristic.data_intents and confidence >= heuristic.context_mismatch_min_confidence:
            penalties["context_mismatch"] = heuristic.context_mismatch_penalty
        if is_objection and confidence >= heuristic.objection_min_confidence:
            penalties["objection_overconfidence"] = heuristic.objection_overconfidence_penalty
        if is_objection and not alternatives and confidence >= heuristic.objection_no_alternatives_threshold:
            penalties["objection_no_alternatives"] = heuristic.objection_no_alternatives_penalty
    penalties = {name: round(value, 4) for name, value in penalties.items() if value > 0}
    calibrated = confidence
    total = sum(penalties.values())
    if total > 0:
        calibrated = max(settings.min_confidence_floor, confidence - total)
    calibrated = min(settings.max_confidence_ceiling, calibrated)
    return round(calibrated, 4), penalties, measures


_STRATEGY_OF = {
    "entropy": "entropy",
    "gap": "gap",
    "no_alternatives": "gap",
    "short_message": "heuristic",
    "overconfident_intent": "heuristic",
    "context_mismatch": "heuristic",
    "objection_overconfidence": "heuristic",
    "objection_no_alternatives": "heuristic",
}


@register("refine.confidence_calibration")
class ConfidenceCalibration(RefineLayer):
    """Lowers overconfident classifications (entropy, gap, heuristics; floor and ceiling)."""

    layer = "confidence_calibration"

    def setup(self, settings: Any, resources: Any) -> None:
        self.settings: CalibrationFile = settings
        self.objections = frozenset(settings.heuristic.objection_intents)
        self.objection_categories = tuple(settings.heuristic.objection_categories)

    def _is_objection(self, intent: str) -> bool:
        return intent in self.objections or any(self.in_category(intent, category) for category in self.objection_categories)

    def refine(self, turn: Turn, state: Mapping[str, Any]) -> Outcome:
        stage = turn.classification.get("stage")
        if self.settings.stages is not None and stage not in self.settings.stages:
            return Outcome.skip("stage_not_calibrated", {"stage": stage})
        alternatives = turn.alternatives()
        calibrated, penalties, measures = calibrate(
            self.settings,
            turn.confidence,
            alternatives,
            intent=turn.intent,
            words=word_count(turn.text),
            last_action=turn.last_action,
            is_objection=self._is_objection(turn.intent),
        )
        meta: dict[str, Any] = {"penalties": penalties, **measures}
        if calibrated == round(turn.confidence, 4):
            return Outcome.keep("calibration:none", meta)
        strategies = sorted({_STRATEGY_OF[name] for name in penalties})
        if turn.confidence - sum(penalties.values()) > self.settings.max_confidence_ceiling:
            strategies.append("ceiling")
        return Outcome.refine("calibration:" + "+".join(strategies), turn.intent, calibrated, meta)
