"""Response directives: how policy rules and tone guidance shape the wording of a reply.

Inputs (both optional):
- ``response_directives`` from the policy node: ``[{"kind": "brevity", "max_words": 40},
  {"kind": "apologize"}, {"kind": "offer_exit"}, {"kind": "max_words", "max_words": 30}]``;
- ``tone_guidance`` from the tone node: ``{"instruction": …, "apologize": bool,
  "offer_exit": bool, "max_words": int}`` (the brief's ``tone_instruction`` /
  ``should_apologize`` / ``should_offer_exit`` spellings are accepted too).

They merge into one ``DirectivePlan``; unknown kinds are kept aside for the trace rather than
failing the turn. ``shape`` applies the plan to the parts of a reply: an apology in front, an
exit offer at the end, and whole sentences dropped from the longest parts until the word
limit holds (the closing question that keeps the dialogue going is kept).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from nodes.respond.variations import ReplyMemory, choose_variant, split_sentences, word_count

__all__ = ["DirectivePlan", "ReplyPart", "collect_directives", "shape"]

KNOWN_KINDS = frozenset({"brevity", "max_words", "apologize", "offer_exit", "tone"})


@dataclass
class DirectivePlan:
    max_words: int | None = None
    apologize: bool = False
    offer_exit: bool = False
    tone_instruction: str = ""
    applied: list[dict[str, Any]] = field(default_factory=list)
    ignored: list[Any] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return self.max_words is None and not self.apologize and not self.offer_exit

    def as_dict(self) -> dict[str, Any]:
        return {"max_words": self.max_words, "apologize": self.apologize, "offer_exit": self.offer_exit,
                "tone_instruction": self.tone_instruction, "applied": self.applied, "ignored": self.ignored}


@dataclass
class ReplyPart:
    """One piece of a reply: ``kind`` is prefix | answer | body | question | suffix.

    ``ranks`` (optional, one per sentence) say which sentences matter most to the client's
    question; trimming drops the lowest-ranked first instead of the last.
    """

    kind: str
    text: str
    source: str  # template id or kb:<section>
    ranks: list[float] | None = None


def _limit(plan: DirectivePlan, value: Any) -> None:
    try:
        words = int(value)
    except (TypeError, ValueError):
        return
    if words > 0:
        plan.max_words = words if plan.max_words is None else min(plan.max_words, words)


def collect_directives(policy: Any, tone: Any, *, default_brevity_words: int = 40) -> DirectivePlan:
    """Merge policy directives and tone guidance; the strictest word limit wins."""
    plan = DirectivePlan()
    for item in policy or []:
        if not isinstance(item, Mapping):
            plan.ignored.append(item)
            continue
        kind = str(item.get("kind") or item.get("type") or item.get("name") or "")
        if kind not in KNOWN_KINDS:
            plan.ignored.append(dict(item))
            continue
        if kind in ("brevity", "max_words"):
            _limit(plan, item.get("max_words", default_brevity_words if kind == "brevity" else None))
        elif kind == "apologize":
            plan.apologize = True
        elif kind == "offer_exit":
            plan.offer_exit = True
        elif kind == "tone":
            plan.tone_instruction = str(item.get("instruction") or item.get("text") or "")
        plan.applied.append({"source": "policy", **dict(item)})
    if isinstance(tone, Mapping) and tone:
        if tone.get("should_apologize") or tone.get("apologize"):
            plan.apologize = True
            plan.applied.append({"source": "tone", "kind": "apologize"})
        if tone.get("should_offer_exit") or tone.get("offer_exit"):
            plan.offer_exit = True
            plan.applied.append({"source": "tone", "kind": "offer_exit"})
        if tone.get("max_words"):
            _limit(plan, tone.get("max_words"))
            plan.applied.append({"source": "tone", "kind": "max_words", "max_words": tone.get("max_words")})
        instruction = tone.get("tone_instruction") or tone.get("instruction")
        if instruction:
            plan.tone_instruction = str(instruction)
    return plan


def shape(parts: list[ReplyPart], plan: DirectivePlan, phrases: Mapping[str, Sequence[str]], *, seed: int, memory: ReplyMemory | None) -> list[ReplyPart]:
    """A new list of parts with the plan applied (inputs are not changed)."""
    shaped = [ReplyPart(part.kind, part.text, part.source, part.ranks) for part in parts]
    if plan.max_words is not None:
        shaped = _trim(shaped, plan.max_words)
    if plan.apologize and phrases.get("apologize"):
        choice = choose_variant("directive_apologize", phrases["apologize"], seed=seed, memory=memory)
        if choice is not None:
            shaped.insert(0, ReplyPart("prefix", choice.text, "directive:apologize"))
    if plan.offer_exit and phrases.get("offer_exit"):
        choice = choose_variant("directive_offer_exit", phrases["offer_exit"], seed=seed, memory=memory)
        if choice is not None:
            shaped.append(ReplyPart("suffix", choice.text, "directive:offer_exit"))
    return shaped


def _trim(parts: list[ReplyPart], max_words: int) -> list[ReplyPart]:
    """Drop sentences of the longest non-question parts until ``max_words`` holds.

    A part keeps at least one sentence; a ranked part (a knowledge-base answer) loses its
    least relevant sentence first, others their last. Sentence order is preserved.
    """
    groups: list[list[tuple[str, float]]] = []
    for part in parts:
        sentences = split_sentences(part.text)
        ranks = part.ranks if part.ranks is not None and len(part.ranks) == len(sentences) else None
        groups.append([(sentence, ranks[index] if ranks else -float(index)) for index, sentence in enumerate(sentences)])
    closing = len(parts) - 1 if parts and parts[-1].kind == "question" and len(parts) > 1 else None

    def words(group: list[tuple[str, float]]) -> int:
        return sum(word_count(sentence) for sentence, _rank in group)

    def total() -> int:
        return sum(words(group) for group in groups)

    while total() > max_words:
        candidates = [index for index, group in enumerate(groups) if len(group) > 1 and index != closing]
        if not candidates:
            break
        longest = max(candidates, key=lambda index: words(groups[index]))
        weakest = min(range(len(groups[longest])), key=lambda position: (groups[longest][position][1], -position))
        groups[longest] = groups[longest][:weakest] + groups[longest][weakest + 1:]
    if total() > max_words and closing is not None:
        # Still too long: the informative part stays, the follow-up question waits a turn.
        groups[closing] = []
    return [ReplyPart(part.kind, " ".join(sentence for sentence, _rank in group), part.source) for part, group in zip(parts, groups, strict=True) if group]
