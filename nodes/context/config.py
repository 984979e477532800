"""Section ``context``: window size, counter definitions and pattern detectors (YAML thresholds)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from engine.config import ConfigBundle, check, section
from nodes.context.references import Reference, check_references

__all__ = ["ContextSettings", "IntentSet", "load_context_settings"]

FILE = "yaml_config/dialogue/context.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IntentSet(_Strict):
    """A set of intents given by name and/or by category."""

    intents: list[str] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list)

    def contains(self, intent: str, in_category: Any) -> bool:
        return intent in self.intents or any(in_category(intent, category) for category in self.categories)


class _Counters(_Strict):
    objection: IntentSet
    positive: IntentSet
    question: IntentSet
    unclear: IntentSet


class _Oscillation(_Strict):
    window: int = Field(6, ge=2)
    min_switches: int = Field(2, ge=1, description="interest→objection or objection→interest changes")


class _Stuck(_Strict):
    same_state_turns: int = Field(4, ge=2, description="turns in one state with no new data")


class _Repeated(_Strict):
    window: int = Field(5, ge=1, description="earlier turns searched for the same question")


class _Trend(_Strict):
    window: int = Field(4, ge=2)
    delta: float = Field(0.1, gt=0, description="mean change that counts as rising/falling")


class _Engagement(_Strict):
    window: int = Field(3, ge=1)
    high_words: float = Field(8, gt=0, description="average words per message for 'high'")
    low_words: float = Field(2.5, gt=0, description="average words per message below which it is 'low'")


class _ContextFile(_Strict):
    version: int = 1
    window_size: int = Field(8, ge=2, le=50, description="turns kept in conv.context_window")
    message_chars: int = Field(200, ge=20, description="characters of a message kept in the window")
    counters: _Counters
    interest: IntentSet = Field(description="what counts as interest for oscillation detection")
    oscillation: _Oscillation = Field(default_factory=lambda: _Oscillation.model_validate({}))
    stuck: _Stuck = Field(default_factory=lambda: _Stuck.model_validate({}))
    repeated_question: _Repeated = Field(default_factory=lambda: _Repeated.model_validate({}))
    confidence_trend: _Trend = Field(default_factory=lambda: _Trend.model_validate({}))
    engagement: _Engagement = Field(default_factory=lambda: _Engagement.model_validate({}))


@dataclass(frozen=True)
class ContextSettings:
    spec: _ContextFile
    references: list[Reference] = field(default_factory=list, compare=False)


@section("context")
def load_context_settings(bundle: ConfigBundle) -> ContextSettings | None:
    loaded = bundle.required_model(FILE, _ContextFile, "window_size, counters, detectors")
    if loaded is None:
        return None
    doc, parsed = loaded
    references: list[Reference] = []
    sets = {f"counters.{name}": getattr(parsed.counters, name) for name in _Counters.model_fields}
    sets["interest"] = parsed.interest
    for dotted, intent_set in sets.items():
        loc = tuple(dotted.split("."))
        references += [Reference("intent", name, doc, loc + ("intents", index)) for index, name in enumerate(intent_set.intents)]
        references += [Reference("category", name, doc, loc + ("categories", index)) for index, name in enumerate(intent_set.categories)]
    return ContextSettings(parsed, references)


@check("context_references")
def check_context(bundle: ConfigBundle) -> Any:
    settings: ContextSettings | None = bundle.section("context")
    return check_references(bundle, settings.references) if settings is not None else ()
