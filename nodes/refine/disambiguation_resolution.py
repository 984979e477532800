"""``refine.disambiguation_resolution`` (CRITICAL): reads the answer to a pending clarifying question.

Active only while ``conv.extra['disambiguation']['pending']`` holds a question asked on one of
the last ``pending_turns`` turns. Every path ends the clarification (clears ``pending``):

* **A — critical intent** (rejection, escalation, contact, demo …): the classification stands,
  reason ``critical_intent_exit``;
* **B — option**: «2», «второе», «последний» → the offered intent (``selection_confidence``);
  the number after the last option, or an "other" marker, → ``custom_option.intent``;
  a keyword of exactly one option («цена», «интеграции») → that intent
  (``keyword_confidence``);
* **C — free text**: the classification of the new message is the answer, reason
  ``custom_input``.

A pending question older than ``pending_turns`` is dropped (reason ``expired``), and so is one
the client never saw: the conversation's last action is not the clarification action
(reason ``question_not_shown`` — the dialogue chose another answer that turn).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.registry import register
from nodes.refine._layer import Outcome, RefineLayer, Turn
from nodes.refine._text import MarkerSet, OptionReader
from nodes.refine.disambiguation_settings import DisambiguationFile, pending_of, with_pending

__all__ = ["DisambiguationResolution"]


@register("refine.disambiguation_resolution")
class DisambiguationResolution(RefineLayer):
    """Resolves a clarification by critical intent, option number/ordinal, keyword or free text."""

    layer = "disambiguation_resolution"
    respect_earlier = False  # the client's explicit choice always counts
    extra_reads = frozenset({"conv.extra"})
    extra_writes = frozenset({"conv.extra", "disambiguation"})

    def setup(self, settings: Any, resources: Any) -> None:
        self.settings: DisambiguationFile = self.refinement.layer("disambiguation")  # type: ignore[assignment]
        self.reader = OptionReader(self.refinement.answers)
        self.critical = frozenset(self.settings.critical_intents)
        self.critical_categories = tuple(self.settings.critical_categories)
        self.custom_markers = MarkerSet(self.settings.custom_option.markers)
        self.keywords = {intent: MarkerSet(option.keywords) for intent, option in self.settings.options.items() if option.keywords}

    def _is_critical(self, intent: str) -> bool:
        return intent in self.critical or any(self.in_category(intent, category) for category in self.critical_categories)

    def refine(self, turn: Turn, state: Mapping[str, Any]) -> Outcome:
        extra = state.get("conv.extra")
        pending = pending_of(extra)
        if pending is None:
            return Outcome.skip("no_pending_clarification")
        cleared = {"conv.extra": with_pending(extra, None)}
        options: list[str] = [str(option) for option in pending.get("options") or []]
        asked = int(pending.get("asked_turn") or 0)
        if turn.turn and asked and turn.turn - asked > self.settings.pending_turns:
            return Outcome.skip("expired", {"asked_turn": asked}, extra={**cleared, "disambiguation": {"status": "expired"}})
        shown = pending.get("action")
        last_action = state.get("conv.last_action")
        if shown and last_action and last_action != shown:
            # The dialogue answered with something else: the client never saw the question.
            return Outcome.skip("question_not_shown", {"last_action": last_action}, extra={**cleared, "disambiguation": {"status": "dropped"}})
        base = {"options": options, "asked_turn": asked}

        def resolved(path: str, intent: str) -> dict[str, Any]:
            return {**cleared, "disambiguation": {"status": "resolved", "path": path, "intent": intent, "options": options}}

        # Path A: a critical intent leaves the clarification at once.
        if self._is_critical(turn.intent):
            return Outcome.keep("critical_intent_exit", base, extra=resolved("critical", turn.intent))
        custom = self.settings.custom_option
        # Path B: an option by number / ordinal.
        number = self.reader.read(turn.text)
        if number is not None:
            chosen = self.reader.pick(number, options)
            if chosen is not None:
                return Outcome.refine("option_selected", chosen, self.settings.selection_confidence, {**base, "number": number}, extra=resolved("option", chosen))
            if custom.enabled and number == len(options) + 1:
                return Outcome.refine("custom_option_selected", custom.intent, self.settings.selection_confidence, {**base, "number": number}, extra=resolved("custom", custom.intent))
        if custom.enabled and self.custom_markers.search(turn.text):
            return Outcome.refine("custom_option_selected", custom.intent, self.settings.selection_confidence, base, extra=resolved("custom", custom.intent))
        # Path B': a keyword naming exactly one option.
        named = [option for option in options if option in self.keywords and self.keywords[option].search(turn.text)]
        if len(named) == 1:
            return Outcome.refine("option_keyword", named[0], self.settings.keyword_confidence, {**base, "keyword_of": named[0]}, extra=resolved("keyword", named[0]))
        # Path C: free text — the new classification is the answer.
        return Outcome.keep("custom_input", base, extra=resolved("free_text", turn.intent))
