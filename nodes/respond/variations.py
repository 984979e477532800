"""Reply variations: seeded choice without repeats, slot filling, sentence-level memory.

Everything here is a pure function of its inputs plus the turn's seed, so a replayed turn
picks exactly the same words. The conversation remembers which variant indices each action
used (``conv.used_variants``) and a short hash of every sentence the bot has said
(``conv.extra["respond"]["sentences"]``), so no sentence comes twice while alternatives
remain.
"""
from __future__ import annotations

import random
import re
import string
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

__all__ = [
    "ReplyMemory",
    "Choice",
    "choose_variant",
    "fill_slots",
    "slot_names",
    "split_sentences",
    "sentence_key",
    "part_seed",
    "word_count",
    "record_use",
]

_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+(?=[A-ZА-ЯЁ0-9«\"(])")
_NON_WORD = re.compile(r"[^0-9a-zа-яё]+")
_FORMATTER = string.Formatter()
_MEMORY_LIMIT = 400


# Replies are built from a bounded set of templates, so the same strings come back every
# turn: the pure text helpers below are memoised (bounded caches).
def split_sentences(text: str) -> list[str]:
    """Sentences of a reply (split after . ! ? … before a capital, digit or quote)."""
    return list(_sentences(text))


@lru_cache(maxsize=8192)
def _sentences(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in _SENTENCE_END.split(text.strip()) if part.strip())


@lru_cache(maxsize=16384)
def sentence_key(sentence: str) -> int:
    """A short stable hash of a sentence, insensitive to case, punctuation and spacing."""
    return zlib.crc32(_NON_WORD.sub(" ", sentence.lower().replace("ё", "е")).strip().encode())


@lru_cache(maxsize=8192)
def _sentence_keys(text: str) -> tuple[int, ...]:
    return tuple(sentence_key(sentence) for sentence in _sentences(text))


def word_count(text: str) -> int:
    return len(text.split())


def part_seed(seed: int, name: str) -> int:
    """A per-part seed so several parts of one reply choose independently but reproducibly."""
    return zlib.crc32(name.encode(), seed & 0xFFFFFFFF)


def slot_names(text: str) -> list[str]:
    """``{slot}`` names a template uses (format syntax)."""
    return list(_slot_names(text))


@lru_cache(maxsize=4096)
def _slot_names(text: str) -> tuple[str, ...]:
    return tuple(name for _literal, name, _spec, _conversion in _FORMATTER.parse(text) if name)


def fill_slots(text: str, slots: Mapping[str, Any], labels: Mapping[str, Mapping[str, str]] | None = None) -> str | None:
    """Fill ``{slots}``; None when one is missing or empty (the variant is then not eligible)."""
    values: dict[str, str] = {}
    for name in _slot_names(text):
        raw = slots.get(name)
        if raw is None or raw == "" or raw == [] or isinstance(raw, bool):
            return None
        mapping = (labels or {}).get(name) or {}
        if isinstance(raw, (list, tuple)):
            values[name] = ", ".join(str(mapping.get(str(item), item)) for item in raw)
        else:
            values[name] = str(mapping.get(str(raw), raw))
    try:
        return text.format_map(values) if values else text
    except (KeyError, ValueError, IndexError):
        return None


@dataclass
class ReplyMemory:
    """What the bot already said in this conversation (copied, never mutated in place)."""

    sentences: list[int] = field(default_factory=list)
    answered: list[str] = field(default_factory=list)
    facts: list[str] = field(default_factory=list)

    @classmethod
    def from_extra(cls, extra: Mapping[str, Any] | None) -> ReplyMemory:
        data = (extra or {}).get("respond") or {}
        return cls(list(data.get("sentences") or []), list(data.get("answered") or []), list(data.get("facts") or []))

    def to_extra(self, extra: Mapping[str, Any] | None) -> dict[str, Any]:
        """A new ``conv.extra`` with this memory under ``respond`` (other keys untouched)."""
        merged = dict(extra or {})
        merged["respond"] = {
            "sentences": self.sentences[-_MEMORY_LIMIT:],
            "answered": self.answered[-100:],
            "facts": self.facts[-100:],
        }
        return merged

    def said(self, sentence: str) -> bool:
        return sentence_key(sentence) in self._keys()

    def repeats(self, text: str, keys: set[int] | None = None) -> int:
        """How many sentences of ``text`` were already said (``keys``: ``_keys()`` if known)."""
        if keys is None:
            keys = self._keys()
        return sum(1 for key in _sentence_keys(text) if key in keys)

    def remember(self, text: str) -> None:
        self.sentences.extend(_sentence_keys(text))

    def _keys(self) -> set[int]:
        return set(self.sentences)


@dataclass(frozen=True)
class Choice:
    """One chosen variant: its index in the action's list and the filled text."""

    action: str
    index: int
    text: str

    @property
    def template_id(self) -> str:
        return f"{self.action}#{self.index}"


def choose_variant(
    action: str,
    variants: Sequence[str],
    *,
    seed: int,
    used: Iterable[int] = (),
    memory: ReplyMemory | None = None,
    slots: Mapping[str, Any] | None = None,
    labels: Mapping[str, Mapping[str, str]] | None = None,
    vary: bool = True,
) -> Choice | None:
    """Pick a variant of ``action``: eligible (slots filled), unused, fewest repeated sentences.

    Variants whose slots can be filled from ``slots`` are preferred over slot-free ones
    (they sound personal); among the rest the seed decides. When every variant was used
    the cycle starts again, still avoiding sentences already said. ``vary=False`` always
    takes the first eligible variant (the ``response_variations`` flag off).
    """
    filled: list[tuple[int, str, bool]] = []
    for index, variant in enumerate(variants):
        text = fill_slots(variant, slots or {}, labels)
        if text is not None:
            filled.append((index, text.strip(), bool(_slot_names(variant))))
    if not filled:
        return None
    if not vary:
        index, text, _personal = filled[0]
        return Choice(action, index, text)
    used_set = set(used)
    fresh = [item for item in filled if item[0] not in used_set] or filled
    if memory is not None:
        keys = memory._keys()
        repeated = [memory.repeats(text, keys) for _index, text, _personal in fresh]
        least = min(repeated)
        fresh = [item for item, count in zip(fresh, repeated, strict=True) if count == least]
    personal = [item for item in fresh if item[2]]
    pool = personal or fresh
    index, text, _personal = random.Random(part_seed(seed, action)).choice(pool)
    return Choice(action, index, text)


def record_use(used_variants: Mapping[str, list[int]], choice: Choice, total: int) -> dict[str, list[int]]:
    """A new ``used_variants`` with ``choice`` appended (the cycle restarts when all were used)."""
    updated = {key: list(value) for key, value in used_variants.items()}
    history = updated.get(choice.action, [])
    if len(set(history)) >= total:
        history = []
    updated[choice.action] = history + [choice.index]
    return updated
