"""``refine.option_selection`` (HIGH): «1», «второе», «первый вариант» after a bot question with options.

The last bot message (``dialogue_context.last_bot_message`` or ``conv.last_bot_message``)
offered a choice when it is

* a **numbered list** («1) Wipon Desktop 2) Wipon Pro»), or
* an **inline choice** — an «или» question («Скорость или функционал важнее?»,
  «скорость, контроль или снижение ошибок?»), or
* a **choice prompt** («выберите», «что интересует», «какой вариант») with at least two items.

A bare option answer (see ``_answers.yaml``) whose number fits the offered options is then an
answer, not a meta-comment: the intent becomes ``target_intent`` (info_provided) with the
confidence of the question kind; ``meta`` names the chosen option's text.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from engine.registry import register
from nodes.refine._layer import Outcome, RefineLayer, Turn
from nodes.refine._text import MarkerSet, OptionReader
from nodes.refine.settings import IntentName, LayerModel, Regex, layer_model

__all__ = ["OptionSelection", "OptionSelectionFile", "offered_options"]


class KindConfidence(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    inline_choice: float = Field(0.9, gt=0, le=1)
    numbered_list: float = Field(0.85, gt=0, le=1)
    choice_prompt: float = Field(0.8, gt=0, le=1)


@layer_model("option_selection")
class OptionSelectionFile(LayerModel):
    target_intent: IntentName = "info_provided"
    target_by_last_action: dict[str, IntentName] = Field(
        default_factory=dict, description="a pick answering this bot action carries this intent (a SPIN phase's data intent)")
    protected_intents: list[IntentName] = Field(default_factory=list, description="never turned into an option answer")
    confidence: KindConfidence = KindConfidence()
    choice_word: Regex = Field(r"\bили\b", description="joins the last two options of an inline choice")
    choice_prompts: list[Regex] = Field(default_factory=list, description="phrases that ask the client to pick")
    item_separators: Regex = Field(r",\s*|\s+или\s+|\s*/\s*", description="splits an inline choice into its options")
    lead_separators: Regex = Field(r"\s[—–-]\s|:\s", description="the options follow the last of these in the question")


_NUMBERED = re.compile(r"(?:^|[\s(])(\d{1,2})\s*[).:]\s*([^\n]+?)(?=\s*(?:\d{1,2}\s*[).:]|\n|$))")


def offered_options(message: str, settings: OptionSelectionFile, prompts: MarkerSet) -> tuple[str, list[str]] | None:
    """(kind, option texts) when ``message`` offers a choice, else None."""
    text = message.strip()
    if not text:
        return None
    numbered = [(int(number), label.strip(" ,;—-")) for number, label in _NUMBERED.findall(text)]
    if len(numbered) >= 2 and [number for number, _label in numbered[:2]] == [1, 2]:
        return "numbered_list", [label for _number, label in numbered]
    lowered = text.lower()
    question = lowered.rsplit("?", 1)[0] if "?" in lowered else ""
    if question and re.search(settings.choice_word, question):
        sentence = re.split(r"[.!]\s", question)[-1]
        leads = list(re.finditer(settings.lead_separators, sentence))
        if leads:
            sentence = sentence[leads[-1].end():]
        items = [item.strip(" ,.;—-") for item in re.split(settings.item_separators, sentence)]
        items = [item for item in items if item]
        if len(items) >= 2:
            return "inline_choice", items
    if prompts.search(lowered):
        items = [item.strip(" ,.;—-?") for item in re.split(settings.item_separators, lowered.split(":")[-1])]
        items = [item for item in items if item]
        if len(items) >= 2:
            return "choice_prompt", items
    return None


@register("refine.option_selection")
class OptionSelection(RefineLayer):
    """A bare number/ordinal after a question with options becomes ``info_provided``."""

    layer = "option_selection"

    def setup(self, settings: Any, resources: Any) -> None:
        self.settings: OptionSelectionFile = settings
        self.reader = OptionReader(self.refinement.answers)
        self.prompts = MarkerSet(settings.choice_prompts)
        self.protected = frozenset(settings.protected_intents)

    def refine(self, turn: Turn, state: Mapping[str, Any]) -> Outcome:
        number = self.reader.read(turn.text)
        if number is None:
            return Outcome.skip("not_an_option_answer")
        if turn.intent in self.protected:
            return Outcome.keep("protected_intent")
        offered = offered_options(turn.last_bot_message, self.settings, self.prompts)
        if offered is None:
            return Outcome.keep("no_options_offered")
        kind, options = offered
        chosen = OptionReader.pick(number, options)
        if chosen is None:
            return Outcome.keep("option_out_of_range", {"number": number, "options": len(options)})
        confidence = getattr(self.settings.confidence, kind)
        meta = {"kind": kind, "number": number, "option": chosen, "options": options}
        # A pick answers the question asked: in a SPIN phase that is the phase's data, so the
        # flow moves on instead of waiting for data it already got (the State Loop bug).
        target = self.settings.target_by_last_action.get(turn.last_action, self.settings.target_intent)
        if turn.intent == target and turn.confidence >= confidence:
            return Outcome.keep("already_answer", meta)
        return Outcome.refine(f"option_selected:{kind}", target, confidence, meta)
