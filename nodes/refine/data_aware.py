"""``refine.data_aware`` (NORMAL): an unclear message that carries business data is an answer.

«не знаю точно, но около 15 человек» reads as unclear, and the dialogue guard then sees a
stall. When the intent is one of ``source_intents`` (unclear) and the extractor found any
of ``meaningful_fields`` (company size, pain point, business type, …; trivial fields such
as option_index or preferred_channel never count), the intent becomes ``target_intent``
(info_provided).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from engine.registry import register
from nodes.refine._layer import Outcome, RefineLayer, Turn
from nodes.refine.settings import IntentName, LayerModel, layer_model

__all__ = ["DataAware", "DataAwareFile"]


@layer_model("data_aware")
class DataAwareFile(LayerModel):
    source_intents: list[IntentName] = Field(default_factory=lambda: ["unclear"])
    meaningful_fields: list[str] = Field(default_factory=list)
    trivial_fields: list[str] = Field(default_factory=list, description="documented for designers; never counted")
    target_intent: IntentName = "info_provided"
    confidence: float = Field(0.7, gt=0, le=1)


@register("refine.data_aware")
class DataAware(RefineLayer):
    """unclear + meaningful extracted data → info_provided."""

    layer = "data_aware"
    extra_reads = frozenset({"extracted"})

    def setup(self, settings: Any, resources: Any) -> None:
        self.settings: DataAwareFile = settings
        self.sources = frozenset(settings.source_intents)
        self.meaningful = [name for name in settings.meaningful_fields if name not in set(settings.trivial_fields)]

    def refine(self, turn: Turn, state: Mapping[str, Any]) -> Outcome:
        if turn.intent not in self.sources:
            return Outcome.skip("intent_not_source")
        extracted = state.get("extracted") or {}
        fields = [name for name in self.meaningful if extracted.get(name) not in (None, "", [], {}, False)]
        if not fields:
            return Outcome.keep("no_meaningful_data")
        return Outcome.refine("meaningful_data:" + "+".join(fields), self.settings.target_intent, self.settings.confidence, {"fields": fields})
