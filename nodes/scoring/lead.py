"""``scoring.lead``: a lead score from intent signals, decaying every turn, read as a temperature.

``yaml_config/dialogue/lead_scoring.yaml`` holds the signals (per intent, else per intent
category), the decay and the temperature bands; the FSM's phase skipping reads the band
(``lead_temperature`` fact). score(t) = clamp(score(t-1) × (1 − decay) + signal).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from engine.config import ConfigBundle, check, section
from engine.errors import ConfigError, ConfigIssue
from engine.node import NodeConfig, NodeContext
from engine.registry import register
from nodes.context.references import Reference, check_references

__all__ = ["LeadScorer", "LeadScoring", "Band", "load_lead_scoring"]

FILE = "yaml_config/dialogue/lead_scoring.yaml"


class Band(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    min: float = Field(ge=0)


class _Signals(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    intents: dict[str, float] = Field(default_factory=dict)
    categories: dict[str, float] = Field(default_factory=dict, description="used when the intent has no signal of its own; first matching category wins")


class _LeadScoringFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    version: int = 1
    decay_per_turn: float = Field(0.1, ge=0, le=1)
    max_score: float = Field(100, gt=0)
    signals: _Signals = _Signals()
    bands: list[Band] = Field(min_length=1)


@dataclass(frozen=True)
class LeadScoring:
    decay_per_turn: float
    max_score: float
    intents: dict[str, float]
    categories: dict[str, float]
    bands: tuple[Band, ...]
    references: list[Reference] = field(default_factory=list, compare=False)

    def temperature(self, score: float) -> str:
        name = self.bands[0].name
        for band in self.bands:
            if score >= band.min:
                name = band.name
        return name


@section("lead_scoring")
def load_lead_scoring(bundle: ConfigBundle) -> LeadScoring | None:
    loaded = bundle.required_model(FILE, _LeadScoringFile, "signals, decay_per_turn, bands")
    if loaded is None:
        return None
    doc, parsed = loaded
    bands = parsed.bands
    if bands[0].min != 0:
        bundle.add([doc.issue(("bands", 0, "min"), "the first band must start at 0", "Set min: 0")])
    for index in range(1, len(bands)):
        if bands[index].min <= bands[index - 1].min:
            bundle.add([doc.issue(("bands", index, "min"), "bands must be in ascending order of min", "Sort them by min")])
    references = [Reference("intent", name, doc, ("signals", "intents", name), True) for name in parsed.signals.intents]
    references += [Reference("category", name, doc, ("signals", "categories", name), True) for name in parsed.signals.categories]
    return LeadScoring(parsed.decay_per_turn, parsed.max_score, dict(parsed.signals.intents), dict(parsed.signals.categories), tuple(bands), references)


@check("lead_scoring_references")
def check_lead_scoring(bundle: ConfigBundle) -> Any:
    scoring: LeadScoring | None = bundle.section("lead_scoring")
    return check_references(bundle, scoring.references) if scoring is not None else ()


class LeadScorerConfig(NodeConfig):
    pass


@register("scoring.lead")
class LeadScorer:
    """Adds this turn's signal to the decayed score; writes the score and its temperature."""

    Config = LeadScorerConfig
    reads = frozenset({"intent", "conv.lead_score"})
    writes = frozenset({"conv.lead_score", "lead"})

    def __init__(self, config: LeadScorerConfig, resources: Any) -> None:
        self.scoring: LeadScoring | None = resources.bundle.section("lead_scoring")
        if self.scoring is None:
            raise ConfigError([ConfigIssue(FILE, 0, "", "scoring.lead cannot start: the file is missing or invalid", "Fix the problems listed for it")])
        taxonomy = resources.bundle.section("intents")
        self._in_category = taxonomy.in_category if taxonomy is not None else (lambda intent, category: False)

    def signal(self, intent: str) -> tuple[float, str]:
        assert self.scoring is not None
        if intent in self.scoring.intents:
            return self.scoring.intents[intent], f"intent:{intent}"
        for category, weight in self.scoring.categories.items():
            if self._in_category(intent, category):
                return weight, f"category:{category}"
        return 0.0, ""

    def run(self, state: Mapping[str, Any], ctx: NodeContext) -> dict[str, Any]:
        assert self.scoring is not None
        previous = float(state.get("conv.lead_score") or 0.0)
        weight, source = self.signal(state.get("intent") or "unclear")
        decayed = previous * (1.0 - self.scoring.decay_per_turn)
        score = round(min(self.scoring.max_score, max(0.0, decayed + weight)), 2)
        return {
            "conv.lead_score": score,
            "lead": {"score": score, "previous": previous, "delta": round(score - previous, 2), "signal": weight, "source": source, "temperature": self.scoring.temperature(score)},
        }
