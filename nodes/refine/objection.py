"""``refine.objection`` (NORMAL): five rules against false objections in answer context.

Applies to objection intents (``objection_intents`` / ``objection_categories``). An objection
at or above ``min_confidence_to_accept`` with no question marker and no topic alignment is
accepted as it is. Otherwise, in order:

1. **topic alignment** — the objection's topic (``topics``: objection_price → budget) is the
   topic the bot just asked about (``topic_actions``: ask_about_budget → budget; else the SPIN
   phase, ``topic_phases``: need_payoff → need): the client answered the question →
   ``topic_intents[intent]`` (info_provided; «нам это не нужно» after a need question → no_need);
2. **question markers** — «?» or a question word opens a clause → ``question_intents[intent]``
   (objection_price → price_question), unless a ``statement_markers`` veto says the client
   states the objection («дорого. скидка есть?»);
3. **callback** — objection_no_time + «перезвоните», «позже созвонимся» → callback_request;
4. **interest** — objection_think + «интересно», «хочу понять», «расскажите» →
   question_features;
5. **uncertainty** — «не уверен, нужно ли», «сомневаюсь», «зачем это нужно» →
   question_features (the skeptic who wants to be convinced, not a refusal).

Each rule is data: its markers, the intents it applies to, its target and confidence. A
rule may also name dialogue ``states`` (handle_objection) where it reads any intent: there a
need-doubting question is the skeptic's question whatever the classifier made of it.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from engine.registry import register
from nodes.refine._layer import Outcome, RefineLayer, Turn
from nodes.refine._text import MarkerSet
from nodes.refine.settings import CategoryName, IntentName, LayerModel, Regex, layer_model

__all__ = ["ObjectionRefinement", "ObjectionFile"]


class MarkerRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    enabled: bool = True
    intents: list[IntentName] = Field(default_factory=list, description="objections the rule applies to (empty: every objection)")
    markers: list[Regex] = Field(default_factory=list)
    target_intent: IntentName
    confidence: float = Field(0.7, gt=0, le=1)
    states: list[str] = Field(default_factory=list, description="in these dialogue states the rule applies whatever the classifier said")
    exclude_intents: list[IntentName] = Field(default_factory=list, description="… except for these intents")


@layer_model("objection")
class ObjectionFile(LayerModel):
    objection_intents: list[IntentName] = Field(default_factory=list)
    objection_categories: list[CategoryName] = Field(default_factory=list)
    min_confidence_to_accept: float = Field(0.85, ge=0, le=1)
    # rule 1
    topics: dict[IntentName, str] = Field(default_factory=dict, description="objection → its topic")
    topic_actions: dict[str, list[str]] = Field(default_factory=dict, description="topic → bot actions that ask about it")
    topic_intents: dict[IntentName, IntentName] = Field(default_factory=dict, description="objection → intent when it answers its topic")
    topic_phases: dict[str, list[str]] = Field(default_factory=dict, description="topic → SPIN phases whose questions ask about it (when no last action names it)")
    topic_default_intent: IntentName = "info_provided"
    topic_confidence: float = Field(0.75, gt=0, le=1)
    # rule 2
    question_markers: list[Regex] = Field(default_factory=list)
    question_intents: dict[IntentName, IntentName] = Field(default_factory=dict, description="objection → intent when asked as a question")
    statement_markers: dict[IntentName, list[Regex]] = Field(default_factory=dict, description="objection → words that keep it an objection even as a question")
    question_confidence: float = Field(0.7, gt=0, le=1)
    # rules 3–5
    callback: MarkerRule | None = None
    interest: MarkerRule | None = None
    uncertainty: MarkerRule | None = None


@register("refine.objection")
class ObjectionRefinement(RefineLayer):
    """Topic alignment, question markers, callback, interest, uncertainty."""

    layer = "objection"

    def setup(self, settings: Any, resources: Any) -> None:
        self.settings: ObjectionFile = settings
        self.objections = frozenset(settings.objection_intents)
        self.categories = tuple(settings.objection_categories)
        self.questions = MarkerSet(settings.question_markers)
        self.vetoes = {intent: MarkerSet(markers) for intent, markers in settings.statement_markers.items()}
        self.action_topics = {action: topic for topic, actions in settings.topic_actions.items() for action in actions}
        self.phase_topics = {phase: topic for topic, phases in settings.topic_phases.items() for phase in phases}
        self.rules = [
            (name, rule, MarkerSet(rule.markers), frozenset(rule.intents))
            for name, rule in (("callback", settings.callback), ("interest", settings.interest), ("uncertainty", settings.uncertainty))
            if rule is not None and rule.enabled
        ]

    def _is_objection(self, intent: str) -> bool:
        return intent in self.objections or any(self.in_category(intent, category) for category in self.categories)

    def refine(self, turn: Turn, state: Mapping[str, Any]) -> Outcome:
        settings = self.settings
        intent, text = turn.intent, turn.text
        if not self._is_objection(intent):
            return self._by_state(turn)
        topic = settings.topics.get(intent)
        asked_topic = self.action_topics.get(turn.last_action) or self.phase_topics.get(turn.phase)
        aligned = topic is not None and asked_topic == topic
        question = self.questions.find(text)
        veto = self.vetoes.get(intent)
        stated = veto.find(text) if veto is not None else None
        asked = question is not None and stated is None and intent in settings.question_intents
        if turn.confidence >= settings.min_confidence_to_accept and not aligned and not asked:
            return Outcome.keep("confident_objection")
        # Rule 1: the client answers the topic the bot asked about.
        if aligned:
            target = settings.topic_intents.get(intent, settings.topic_default_intent)
            return Outcome.refine("topic_alignment", target, settings.topic_confidence, {"topic": topic, "last_action": turn.last_action, "phase": turn.phase or None})
        # Rule 2: a question about the topic, not a statement of the objection.
        if asked:
            return Outcome.refine("question_markers", settings.question_intents[intent], settings.question_confidence, {"marker": question})
        # Rules 3–5.
        for name, rule, markers, intents in self.rules:
            if intents and intent not in intents:
                continue
            marker = markers.find(text)
            if marker is not None:
                return Outcome.refine(f"{name}_pattern", rule.target_intent, rule.confidence, {"marker": marker})
        meta = {"statement_marker": stated} if stated else None
        return Outcome.keep("genuine_objection", meta)

    def _by_state(self, turn: Turn) -> Outcome:
        """Rules with ``states`` also read non-objection intents in those states (a skeptic's
        «а нужно ли это вообще?» in objection handling, whatever the classifier made of it)."""
        for name, rule, markers, _intents in self.rules:
            if turn.state in rule.states and turn.intent not in rule.exclude_intents and turn.intent != rule.target_intent:
                marker = markers.find(turn.text)
                if marker is not None:
                    return Outcome.refine(f"{name}_pattern_in_state", rule.target_intent, rule.confidence, {"marker": marker, "state": turn.state})
        return Outcome.skip("not_an_objection")
