"""``refine.composite_message`` (HIGH): in data context, data wins over meta-signals.

«5 человек, быстрее давайте» after «Сколько у вас человек?» is an answer with urgency, not
an objection. When the intent is a meta/objection intent (``refinable_intents``) and the bot
was collecting data (``action_expects_data`` / ``data_expecting_states`` /
``data_expecting_phases``):

1. the expected field (by last action) — else any of ``fallback_fields`` — is looked up in
   ``extracted`` (the extractor), then in this layer's own ``data_fields`` patterns (with
   bounds for numbers);
2. found → the phase's data intent (``phase_intents``; ``default_intent`` outside phases),
   with ``secondary_signals`` (urgency, impatience, brevity) in meta;
   a question the data came with («У нас ресторан, 20 столов. Какие возможности есть?»,
   ``question_intents``/``question_categories``) is not lost: it leads
   ``secondary_intents``;
3. outside data context only ``content_free_intents`` (brevity, impatience: no content of
   their own) yield, and only to ``content_free_fields``;
4. not found → ``ambiguous_patterns`` («больше не нужно») resolve by action: a data-asking
   action makes it ``ambiguity_intent``; a rejection-context action keeps it.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from engine.registry import register
from nodes.refine._layer import Outcome, RefineLayer, Turn
from nodes.refine._text import MarkerSet
from nodes.refine.settings import CategoryName, IntentName, LayerModel, Regex, layer_model

__all__ = ["CompositeMessage", "CompositeFile"]


class DataField(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    extract_patterns: list[Regex] = Field(default_factory=list, description="first group (or the match) is the value")
    type: Literal["int", "str"] = "str"
    min: int = 1
    max: int = 100_000


class AmbiguousPattern(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    patterns: list[Regex] = Field(min_length=1)
    data_resolving_actions: list[str] = Field(default_factory=list)
    rejection_resolving_actions: list[str] = Field(default_factory=list)


@layer_model("composite_message")
class CompositeFile(LayerModel):
    refinable_intents: list[IntentName] = Field(default_factory=list)
    question_intents: list[IntentName] = Field(default_factory=list, description="questions a data answer may carry; they move to secondary_intents")
    question_categories: list[CategoryName] = Field(default_factory=list)
    action_expects_data: dict[str, str] = Field(default_factory=dict, description="last action → the field it asked for")
    data_expecting_states: list[str] = Field(default_factory=list)
    data_expecting_phases: list[str] = Field(default_factory=list)
    fallback_fields: list[str] = Field(default_factory=list, description="fields that count as an answer when no field is expected")
    data_fields: dict[str, DataField] = Field(default_factory=dict)
    phase_intents: dict[str, IntentName] = Field(default_factory=dict, description="SPIN phase (context or state) → data intent")
    default_intent: IntentName = "info_provided"
    confidence: float = Field(0.75, gt=0, le=1)
    meta_signals: dict[str, list[Regex]] = Field(default_factory=dict)
    ambiguous_patterns: dict[str, AmbiguousPattern] = Field(default_factory=dict)
    ambiguity_intent: IntentName = "info_provided"
    ambiguity_confidence: float = Field(0.7, gt=0, le=1)
    state_phases: dict[str, str] = Field(default_factory=dict, description="state → phase when the context names none")
    content_free_intents: list[IntentName] = Field(default_factory=list, description="meta intents with no content of their own: with data they yield to it in any context")
    content_free_fields: list[str] = Field(default_factory=list, description="fields that count as data for content_free_intents outside data context")


@register("refine.composite_message")
class CompositeMessage(RefineLayer):
    """Meta/objection intent + extracted data in data context → data intent (+ secondary signals)."""

    layer = "composite_message"
    extra_reads = frozenset({"extracted", "secondary_intents", "secondary_intent_confidence"})
    extra_writes = frozenset({"secondary_intents", "secondary_intent_confidence"})

    def setup(self, settings: Any, resources: Any) -> None:
        self.settings: CompositeFile = settings
        self.refinable = frozenset(settings.refinable_intents)
        self.question_intents = frozenset(settings.question_intents)
        self.question_categories = tuple(settings.question_categories)
        self.states = frozenset(settings.data_expecting_states)
        self.phases = frozenset(settings.data_expecting_phases)
        self.content_free = frozenset(settings.content_free_intents)
        self.patterns = {name: [re.compile(p) for p in field.extract_patterns] for name, field in settings.data_fields.items()}
        self.signals = {name: MarkerSet(markers) for name, markers in settings.meta_signals.items()}
        self.ambiguous = [(name, MarkerSet(item.patterns), item) for name, item in settings.ambiguous_patterns.items()]

    def _phase(self, turn: Turn) -> str:
        return turn.phase or self.settings.state_phases.get(turn.state, "")

    def _value(self, name: str, text: str, extracted: Mapping[str, Any]) -> Any:
        value = extracted.get(name)
        if value not in (None, "", [], {}):
            return value
        field = self.settings.data_fields.get(name)
        for pattern in self.patterns.get(name, ()):
            match = pattern.search(text)
            if match is None:
                continue
            raw = match.group(1) if match.groups() else match.group(0)
            if field is not None and field.type == "int":
                try:
                    number = int(raw)
                except ValueError:
                    continue
                if field.min <= number <= field.max:
                    return number
                continue
            return raw
        return None

    def _is_question(self, intent: str) -> bool:
        return intent in self.question_intents or any(self.in_category(intent, category) for category in self.question_categories)

    def _found(self, fields: Any, text: str, extracted: Mapping[str, Any]) -> dict[str, Any]:
        return {name: value for name in fields if (value := self._value(name, text, extracted)) is not None}

    def refine(self, turn: Turn, state: Mapping[str, Any]) -> Outcome:
        settings = self.settings
        question = turn.intent not in self.refinable and self._is_question(turn.intent)
        if turn.intent not in self.refinable and not question:
            return Outcome.skip("intent_not_refinable")
        expected = settings.action_expects_data.get(turn.last_action)
        phase = self._phase(turn)
        extracted = state.get("extracted") or {}
        if expected is None and turn.state not in self.states and phase not in self.phases:
            # «если в двух словах — мебельный магазин, один продавец»: a brevity or impatience
            # marker wrapped around business data is an answer wherever the dialogue is.
            if turn.intent not in self.content_free or not (found := self._found(settings.content_free_fields, turn.text, extracted)):
                return Outcome.skip("no_data_context")
        else:
            found = self._found([expected] if expected else [], turn.text, extracted) or self._found(settings.fallback_fields, turn.text, extracted)
        if found:
            signals = [name for name, markers in self.signals.items() if markers.search(turn.text)]
            target = settings.phase_intents.get(phase, settings.default_intent)
            field = next(iter(found))
            meta = {"data": found, "secondary_signals": signals, "expected": expected, "phase": phase or None}
            extra = None
            if question:
                # The question is not lost: it leads the secondary intents.
                secondary = [turn.intent] + [name for name in state.get("secondary_intents") or () if name not in (turn.intent, target)]
                confidences = {**dict(state.get("secondary_intent_confidence") or {}), turn.intent: turn.confidence}
                extra = {"secondary_intents": secondary, "secondary_intent_confidence": {name: confidences.get(name, 0.0) for name in secondary}}
            reason = f"data_with_question:{field}" if question else f"data_extracted:{field}"
            return Outcome.refine(reason, target, settings.confidence, meta, extra=extra)
        if question:
            return Outcome.keep("question_without_data")
        for name, markers, item in self.ambiguous:
            if markers.search(turn.text):
                if turn.last_action in item.data_resolving_actions:
                    return Outcome.refine(f"ambiguity_resolved:{name}:data_context", settings.ambiguity_intent, settings.ambiguity_confidence, {"pattern": name})
                if turn.last_action in item.rejection_resolving_actions:
                    return Outcome.keep(f"ambiguity_kept:{name}:rejection_context", {"pattern": name})
        return Outcome.keep("no_data_found", {"expected": expected})
