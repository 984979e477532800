"""``yaml_config/refinement/disambiguation.yaml``: when to ask a clarifying question, and how.

Shared by ``refine.disambiguation`` (asks) and ``refine.disambiguation_resolution`` (reads
the answer next turn). The pending question lives in ``conv.extra['disambiguation']``:
``{"pending": {options, labels, asked_turn, intent} | None, "last_asked_turn": int}``.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from nodes.refine.settings import CategoryName, IntentName, LayerModel, Regex, layer_model

__all__ = ["DisambiguationFile", "OptionLabel", "CustomOption", "EXTRA_KEY", "pending_of", "with_pending"]

EXTRA_KEY = "disambiguation"


class OptionLabel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    label: str = Field(description="how the option reads in the question (Russian)")
    keywords: list[Regex] = Field(default_factory=list, description="words that pick this option in a free answer")


class CustomOption(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    enabled: bool = True
    label: str = "Другое — напишу своими словами"
    intent: IntentName = Field("unclear", description="intent of a client who picks 'other' (the bot then asks for their words)")
    markers: list[Regex] = Field(default_factory=list, description="words that pick 'other' without its number")


@layer_model("disambiguation")
class DisambiguationFile(LayerModel):
    critical_intents: list[IntentName] = Field(default_factory=list, description="these leave a pending question at once and are never asked about")
    critical_categories: list[CategoryName] = Field(default_factory=list)
    max_confidence: float = Field(0.7, ge=0, le=1, description="ask only when the (calibrated) confidence is below this")
    max_gap: float = Field(0.05, ge=0, le=1, description="… and the best two candidates' scores are at most this far apart")
    min_score: float = Field(0.45, ge=0, le=1, description="… and every offered candidate scores at least this")
    max_options: int = Field(3, ge=2, le=5)
    cooldown_turns: int = Field(3, ge=0, description="turns after a clarification before the next one may be asked")
    pending_turns: int = Field(1, ge=1, description="how many turns the question stays answerable")
    skip_when_refined: bool = Field(True, description="never ask when a layer already resolved the intent from context")
    selection_confidence: float = Field(0.9, ge=0, le=1, description="confidence of an intent picked by number or ordinal")
    keyword_confidence: float = Field(0.85, ge=0, le=1, description="confidence of an intent picked by one of its keywords")
    question: str = "Уточните, пожалуйста, что вы имели в виду:"
    footer: str = "Ответьте номером или своими словами."
    custom_option: CustomOption = CustomOption()
    options: dict[IntentName, OptionLabel] = Field(default_factory=dict, description="intents the bot may offer, with their labels")

    @model_validator(mode="after")
    def _thresholds(self) -> DisambiguationFile:
        if self.min_score > self.max_confidence + self.max_gap:
            raise ValueError("min_score above max_confidence + max_gap: no clarification could ever be asked")
        return self


def pending_of(extra: Any) -> dict[str, Any] | None:
    """The pending clarification stored in ``conv.extra`` (None if none)."""
    if not isinstance(extra, Mapping):
        return None
    record = extra.get(EXTRA_KEY)
    if not isinstance(record, Mapping):
        return None
    pending = record.get("pending")
    return dict(pending) if isinstance(pending, Mapping) else None


def with_pending(extra: Any, pending: dict[str, Any] | None, asked_turn: int | None = None) -> dict[str, Any]:
    """A copy of ``conv.extra`` with the disambiguation record updated (input untouched)."""
    out = dict(extra) if isinstance(extra, Mapping) else {}
    record = dict(out.get(EXTRA_KEY) or {})
    record["pending"] = pending
    if asked_turn is not None:
        record["last_asked_turn"] = asked_turn
    out[EXTRA_KEY] = record
    return out
