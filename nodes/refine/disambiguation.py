"""``refine.disambiguation`` (runs last): close candidates → a numbered clarifying question.

After every other layer, if the intent is still uncertain — confidence below
``max_confidence``, the best two candidates within ``max_gap`` of each other, each scoring at
least ``min_score`` and each offered in ``options`` — the turn asks instead of guessing:

* ``disambiguation``: ``{status: asked, options: [intents], labels, question, scores}``;
* ``clarification``: ``{question, options: [{number, intent, label}]}`` for the responder/FSM;
* ``action: ask_clarification`` when the node's config says so (graphs without an FSM);
* ``conv.extra['disambiguation']``: the pending question, read next turn by
  ``refine.disambiguation_resolution``.

It never asks when a layer already resolved the intent from context, right after a
clarification was answered, within ``cooldown_turns`` of the last one, or for a critical
intent. The classified intent is left as it is (the best guess stays visible).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.node import NodeConfig
from engine.registry import register
from nodes.refine._layer import Outcome, RefineLayer, Turn
from nodes.refine.disambiguation_settings import EXTRA_KEY, DisambiguationFile, with_pending

__all__ = ["Disambiguation", "DisambiguationConfig"]


class DisambiguationConfig(NodeConfig):
    write_action: bool = False  # set action: ask_clarification itself (understanding-only graphs)
    action: str = "ask_clarification"


@register("refine.disambiguation")
class Disambiguation(RefineLayer):
    """Asks a numbered clarifying question when the best candidates are too close to call."""

    layer = "disambiguation"
    respect_earlier = False  # its own rules: skip_when_refined, just_resolved
    Config = DisambiguationConfig
    extra_reads = frozenset({"conv.extra"})
    extra_writes = frozenset({"conv.extra", "disambiguation", "clarification"})

    def __init__(self, config: DisambiguationConfig, resources: Any) -> None:
        super().__init__(config, resources)
        if config.write_action:
            self.writes = self.writes | {"action"}

    def setup(self, settings: Any, resources: Any) -> None:
        self.settings: DisambiguationFile = settings
        self.critical = frozenset(settings.critical_intents)
        self.critical_categories = tuple(settings.critical_categories)

    def _is_critical(self, intent: str) -> bool:
        return intent in self.critical or any(self.in_category(intent, category) for category in self.critical_categories)

    def _candidates(self, turn: Turn) -> list[tuple[str, float]]:
        """The classifier's own scores (before calibration), primary included, best first."""
        raw = turn.confidence
        for entry in turn.chain:
            if entry.get("from"):
                if entry["from"][0] == turn.intent:
                    raw = float(entry["from"][1])
                break
        scores = dict(turn.alternatives())
        scores[turn.intent] = max(raw, scores.get(turn.intent, 0.0))
        return sorted(scores.items(), key=lambda pair: -pair[1])

    def refine(self, turn: Turn, state: Mapping[str, Any]) -> Outcome:
        settings = self.settings
        for entry in turn.chain:
            if entry.get("layer") == "disambiguation_resolution" and entry.get("decision") in ("pass_through", "refined"):
                return Outcome.skip("just_resolved")
        if settings.skip_when_refined:
            refined = [layer for layer in turn.refined_by() if layer != "confidence_calibration"]
            if refined:
                return Outcome.skip("context_refined", {"by": refined})
        if self._is_critical(turn.intent):
            return Outcome.skip("critical_intent")
        extra = state.get("conv.extra")
        record = extra.get(EXTRA_KEY) if isinstance(extra, Mapping) else None
        last = int(record.get("last_asked_turn") or 0) if isinstance(record, Mapping) else 0
        if last and turn.turn and turn.turn - last <= settings.cooldown_turns:
            return Outcome.skip("cooldown", {"last_asked_turn": last})
        if turn.confidence >= settings.max_confidence:
            return Outcome.keep("confident")
        candidates = self._candidates(turn)
        if len(candidates) < 2:
            return Outcome.keep("single_candidate")
        top = candidates[0][1]
        close = [(intent, score) for intent, score in candidates if top - score <= settings.max_gap and score >= settings.min_score]
        offered = [(intent, score) for intent, score in close if intent in settings.options and not self._is_critical(intent)][: settings.max_options]
        if len(close) < 2 or len(offered) < 2 or offered[0][0] != candidates[0][0]:
            return Outcome.keep("clear_winner", {"gap": round(top - candidates[1][1], 4)})
        return self._ask(turn, extra, offered)

    def _ask(self, turn: Turn, extra: Any, offered: list[tuple[str, float]]) -> Outcome:
        settings = self.settings
        intents = [intent for intent, _score in offered]
        labels = [settings.options[intent].label for intent in intents]
        numbered = [{"number": index + 1, "intent": intent, "label": label} for index, (intent, label) in enumerate(zip(intents, labels, strict=True))]
        lines = [f"{item['number']}. {item['label']}" for item in numbered]
        if settings.custom_option.enabled:
            lines.append(f"{len(numbered) + 1}. {settings.custom_option.label}")
        question = "\n".join([settings.question, *lines, settings.footer]).strip()
        config: DisambiguationConfig = self.config  # type: ignore[assignment]
        pending = {"options": intents, "labels": labels, "asked_turn": turn.turn, "intent": turn.intent, "action": config.action}
        extra_keys: dict[str, Any] = {
            "disambiguation": {"status": "asked", "options": intents, "labels": labels, "question": question, "scores": {intent: score for intent, score in offered}},
            "clarification": {"question": question, "options": numbered, "custom_option": settings.custom_option.enabled},
            "conv.extra": with_pending(extra, pending, asked_turn=turn.turn),
        }
        if config.write_action:
            extra_keys["action"] = config.action
        return Outcome.keep("clarification_asked", {"options": intents}, extra=extra_keys)
