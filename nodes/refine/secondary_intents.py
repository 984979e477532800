"""``refine.secondary_intents`` (HIGH): the questions and requests a message carries besides its intent.

«100 человек. Сколько стоит?» is classified as a data answer; the price question must not
be lost. The layer matches each configured intent's markers (one compiled alternation per
intent) and writes, without touching the primary intent:

* ``secondary_intents``: up to ``max_secondary`` intents, best first (priority, then
  confidence), the primary excluded;
* ``secondary_intent_confidence``: ``{intent: confidence}``.

One exception, by configuration: an explicit *request* (``promote``: demo, callback) that
arrives with a data statement («12 человек, хочу демо») outranks the statement — the
request becomes the intent (decision ``refined``) and the data intent moves to the
secondary list.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from engine.registry import register
from nodes.refine._layer import Outcome, RefineLayer, Turn
from nodes.refine._text import MarkerSet
from nodes.refine.settings import IntentName, LayerModel, Regex, layer_model

__all__ = ["SecondaryIntents", "SecondaryFile"]


class SecondaryPattern(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    markers: list[Regex] = Field(min_length=1)
    confidence: float = Field(0.9, gt=0, le=1)
    priority: int = Field(0, description="higher first when several are found")


class Promotion(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    intents: list[IntentName] = Field(default_factory=list, description="requests that take over ...")
    over: list[IntentName] = Field(default_factory=list, description="... from these data intents")
    confidence: float = Field(0.85, gt=0, le=1)


@layer_model("secondary_intents")
class SecondaryFile(LayerModel):
    max_secondary: int = Field(3, ge=1, le=10)
    patterns: dict[IntentName, SecondaryPattern] = Field(default_factory=dict)
    promote: Promotion = Promotion()


@register("refine.secondary_intents")
class SecondaryIntents(RefineLayer):
    """Adds secondary intents (non-destructive); promotes an explicit request over a data answer."""

    layer = "secondary_intents"
    respect_earlier = False  # detection is additive; only the promotion respects earlier layers
    extra_writes = frozenset({"secondary_intents", "secondary_intent_confidence"})

    def setup(self, settings: Any, resources: Any) -> None:
        self.settings: SecondaryFile = settings
        self.detectors = [(intent, MarkerSet(pattern.markers), pattern) for intent, pattern in settings.patterns.items()]
        self.promotable = set(settings.promote.intents)
        self.promotable_over = frozenset(settings.promote.over)

    def refine(self, turn: Turn, state: Mapping[str, Any]) -> Outcome:
        text = turn.text
        found: list[tuple[int, float, str, str]] = []
        for intent, markers, pattern in self.detectors:
            if intent == turn.intent:
                continue
            marker = markers.find(text)
            if marker is not None:
                found.append((pattern.priority, pattern.confidence, intent, marker))
        found.sort(key=lambda item: (-item[0], -item[1]))
        found = found[: self.settings.max_secondary]
        intents = [intent for _p, _c, intent, _m in found]
        confidences = {intent: confidence for _p, confidence, intent, _m in found}
        meta = {"markers": {intent: marker for _p, _c, intent, marker in found}} if found else None
        earlier = [layer for layer in turn.refined_by() if layer not in self.overridable]
        if turn.intent in self.promotable_over and not earlier:
            requests = [intent for intent in intents if intent in self.promotable]
            if requests:
                request = requests[0]
                rest = [turn.intent] + [intent for intent in intents if intent != request]
                extra = {"secondary_intents": rest, "secondary_intent_confidence": {turn.intent: turn.confidence, **{k: v for k, v in confidences.items() if k != request}}}
                return Outcome.refine("request_outranks_data", request, self.settings.promote.confidence, meta, extra=extra)
        extra = {"secondary_intents": intents, "secondary_intent_confidence": confidences}
        return Outcome.keep("secondary_detected" if intents else "no_secondary", meta, extra=extra)
