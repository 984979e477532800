"""``refine.short_answer`` (HIGH): «да», «1», «нет», «первое» answer the SPIN question just asked.

The State Loop fix: without context a classifier reads a bare «1» or «да» as a greeting or
plain agreement, and the dialogue never leaves the greeting. For a short message (at most
``max_words`` words or ``max_chars`` characters) the layer

1. finds the SPIN phase the bot is asking about: the last action's phase
   (``action_phases``); a last action that asks nothing phase-specific (close, presentation)
   means the short answer answers *that* and the layer passes; otherwise the context's
   ``spin_phase`` or the state's phase (``state_phases``);
2. reads the answer's polarity: ``bare_negative`` (the whole message is a negation),
   ``negative``, ``positive``, ``number`` (a digit or an ordinal), else ``neutral``;
3. refines the intent if ``refinable_intents[intent]`` accepts that polarity, to the phase's
   ``positive_intent`` / ``negative_intent`` (neutral answers take the positive intent at
   ``neutral_factor`` × its confidence).

A bare yes/no (the whole message is ``yes_words``/``bare_negative``) after a last action that
asks no SPIN question but makes an offer (``action_answers.actions``: close, presentation,
objection reply) answers that offer: agreement / rejection.

Messages matching ``skip_markers`` (a real greeting, thanks) pass through, and so does an
intent an earlier layer already resolved (an option selection, say).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from engine.registry import register
from nodes.refine._layer import Outcome, RefineLayer, Turn
from nodes.refine._text import MarkerSet, OptionReader, word_count, words
from nodes.refine.settings import IntentName, LayerModel, Regex, layer_model

__all__ = ["ShortAnswer", "ShortAnswerFile", "Polarity"]

Polarity = Literal["bare_negative", "negative", "positive", "number", "neutral"]


class ActionAnswers(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    actions: list[str] = Field(default_factory=list, description="bot actions a bare yes/no answers (close, presentation, …)")
    positive_intent: IntentName | None = "agreement"
    negative_intent: IntentName | None = "rejection"
    confidence: float = Field(0.75, gt=0, le=1)
    keep_intents: list[IntentName] = Field(default_factory=list, description="classifier intents a bare answer never replaces")


class PhaseIntents(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    positive_intent: IntentName | None = None
    positive_confidence: float = Field(0.7, gt=0, le=1)
    negative_intent: IntentName | None = None
    negative_confidence: float = Field(0.7, gt=0, le=1)


@layer_model("short_answer")
class ShortAnswerFile(LayerModel):
    max_words: int = Field(5, ge=1)
    max_chars: int = Field(25, ge=1)
    refinable_intents: dict[IntentName, list[Polarity]] = Field(default_factory=dict, description="intent → answer polarities that make it refinable")
    phases: dict[str, PhaseIntents] = Field(default_factory=dict)
    action_phases: dict[str, str] = Field(default_factory=dict, description="bot action → the SPIN phase it asks about")
    awaiting_data_actions: list[str] = Field(default_factory=list, description="actions that await data of the current phase")
    state_phases: dict[str, str] = Field(default_factory=dict, description="state → phase when the context names none")
    negative_markers: list[Regex] = Field(default_factory=list)
    positive_markers: list[Regex] = Field(default_factory=list)
    bare_negative: list[Regex] = Field(default_factory=list, description="whole-message negations («нет», «неа», «пока нет»)")
    skip_markers: list[Regex] = Field(default_factory=list, description="short messages that mean what they say (greetings, thanks)")
    neutral_factor: float = Field(0.85, gt=0, le=1)
    action_answers: ActionAnswers = ActionAnswers()
    yes_words: list[str] = Field(default_factory=list, description="a message of only these (and fillers) is a bare «yes»")
    answer_fillers: list[str] = Field(default_factory=list)


@register("refine.short_answer")
class ShortAnswer(RefineLayer):
    """Short answers in a SPIN phase → that phase's data intent (situation_provided, no_problem, …)."""

    layer = "short_answer"

    def setup(self, settings: Any, resources: Any) -> None:
        self.settings: ShortAnswerFile = settings
        self.negative = MarkerSet(settings.negative_markers)
        self.positive = MarkerSet(settings.positive_markers)
        self.bare = MarkerSet(f"^(?:{pattern})$" for pattern in settings.bare_negative)
        self.skip = MarkerSet(settings.skip_markers)
        self.reader = OptionReader(self.refinement.answers)
        self.refinable = {intent: frozenset(polarities) for intent, polarities in settings.refinable_intents.items()}
        self.awaiting = frozenset(settings.awaiting_data_actions)
        self.answer_actions = frozenset(settings.action_answers.actions)
        self.yes_words = frozenset(word.lower() for word in settings.yes_words)
        self.fillers = frozenset(word.lower() for word in settings.answer_fillers)

    def phase_of(self, turn: Turn) -> tuple[str | None, str]:
        """(phase, where it came from)."""
        settings = self.settings
        action = turn.last_action
        if action in settings.action_phases:
            return settings.action_phases[action], "last_action"
        if action and action not in self.awaiting:
            return None, "action_not_phase_specific"
        if turn.phase:
            return turn.phase, "spin_phase"
        if turn.state in settings.state_phases:
            return settings.state_phases[turn.state], "state"
        return None, "no_phase"

    def polarity(self, text: str) -> Polarity:
        stripped = text.strip(" \t.,!?…")
        if self.bare.search(stripped):
            return "bare_negative"
        if self.negative.search(text):
            return "negative"
        if self.positive.search(text):
            return "positive"
        if self.reader.read(text) is not None:
            return "number"
        return "neutral"

    def bare_answer(self, text: str) -> str | None:
        """``positive``/``negative`` when the whole message is yes/no words (and fillers)."""
        if self.bare.search(text.strip(" \t.,!?…")):
            return "negative"
        tokens = words(text)
        if tokens and all(token in self.yes_words or token in self.fillers for token in tokens) and any(token in self.yes_words for token in tokens):
            return "positive"
        return None

    def refine(self, turn: Turn, state: Mapping[str, Any]) -> Outcome:
        settings = self.settings
        text = turn.text.strip()
        if not text or (word_count(text) > settings.max_words and len(text) > settings.max_chars):
            return Outcome.skip("not_short")
        if self.skip.search(text):
            return Outcome.keep("explicit_meaning")
        phase, source = self.phase_of(turn)
        if phase is None and turn.last_action in self.answer_actions:
            return self._answer_to_action(turn, text)
        accepted = self.refinable.get(turn.intent)
        if accepted is None:
            return Outcome.skip("intent_not_refinable")
        if phase is None or phase not in settings.phases:
            return Outcome.keep(source if phase is None else "phase_not_configured", {"phase": phase})
        polarity = self.polarity(text)
        if polarity not in accepted:
            return Outcome.keep("polarity_not_accepted", {"polarity": polarity, "phase": phase})
        config = settings.phases[phase]
        meta = {"phase": phase, "phase_from": source, "polarity": polarity}
        if polarity in ("bare_negative", "negative"):
            if config.negative_intent is None:
                return Outcome.keep("no_negative_intent", meta)
            return Outcome.refine(f"short_answer_negative_in_{phase}", config.negative_intent, config.negative_confidence, meta)
        if config.positive_intent is None:
            return Outcome.keep("no_positive_intent", meta)
        confidence = config.positive_confidence * (settings.neutral_factor if polarity == "neutral" else 1.0)
        return Outcome.refine(f"short_answer_{polarity}_in_{phase}", config.positive_intent, confidence, meta)

    def _answer_to_action(self, turn: Turn, text: str) -> Outcome:
        answers = self.settings.action_answers
        polarity = self.bare_answer(text)
        meta = {"last_action": turn.last_action, "polarity": polarity}
        if polarity is None:
            return Outcome.keep("not_a_bare_answer", meta)
        target = answers.positive_intent if polarity == "positive" else answers.negative_intent
        if target is None or turn.intent in answers.keep_intents:
            return Outcome.keep("answer_kept", meta)
        if turn.intent == target:
            return Outcome.keep("already_answer", meta)
        return Outcome.refine(f"short_answer_{polarity}_to_{turn.last_action}", target, answers.confidence, meta)
