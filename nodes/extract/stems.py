"""Prefix index over stems and stem phrases: which ids a token stream mentions, and where."""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Protocol

__all__ = ["StemIndex"]

_WORD_CACHE = 50_000  # distinct words remembered per index before the memo starts over


class _Token(Protocol):
    text: str


class StemIndex:
    """Stems (word beginnings) and phrases (consecutive word beginnings) per id.

    A lookup costs one dict probe per token prefix instead of one ``startswith`` per stem,
    which matters with hundreds of stems (the extractor runs on every turn).
    """

    def __init__(self, mapping: Mapping[str, Iterable[str]]) -> None:
        self.order = {key: position for position, key in enumerate(mapping)}
        self._first: dict[str, list[tuple[tuple[str, ...], str]]] = {}
        self._longest = 0
        # token text → the entries whose first word is a prefix of it (shortest prefix first);
        # words repeat across turns, so each distinct word is probed once (bounded cache).
        self._by_word: dict[str, tuple[tuple[tuple[str, ...], str], ...]] = {}
        for key, stems in mapping.items():
            for stem in stems:
                words = tuple(stem.split())
                if words:
                    self._first.setdefault(words[0], []).append((words, key))
                    self._longest = max(self._longest, len(words[0]))

    @classmethod
    def of(cls, stems: Iterable[str], key: str = "hit") -> StemIndex:
        return cls({key: list(stems)})

    def _matches(self, tokens: Sequence[_Token], start: int) -> Iterator[tuple[int, str, tuple[str, ...]]]:
        """(token index, id, stem words) of every match at or after ``start``, in text order."""
        by_word = self._by_word
        for index in range(start, len(tokens)):
            text = tokens[index].text
            entries = by_word.get(text)
            if entries is None:
                entries = self._entries(text)
            for words, key in entries:
                if len(words) == 1 or (
                    index + len(words) <= len(tokens)
                    and all(tokens[index + offset].text.startswith(word) for offset, word in enumerate(words[1:], 1))
                ):
                    yield index, key, words

    def hits(self, tokens: Sequence[_Token], start: int = 0) -> list[tuple[int, str, str]]:
        """(token index, id, stem) of every match at or after ``start``, in text order."""
        return [(index, key, " ".join(words)) for index, key, words in self._matches(tokens, start)]

    def _entries(self, text: str) -> tuple[tuple[tuple[str, ...], str], ...]:
        """Every (stem words, id) whose first word begins ``text``, shortest prefix first."""
        first = self._first
        found: list[tuple[tuple[str, ...], str]] = []
        for end in range(1, min(len(text), self._longest) + 1):
            entries = first.get(text[:end])
            if entries is not None:
                found.extend(entries)
        if len(self._by_word) >= _WORD_CACHE:
            self._by_word.clear()
        memo = self._by_word[text] = tuple(found)
        return memo

    def first(self, tokens: Sequence[_Token], start: int = 0) -> int | None:
        """Index of the first token where any stem matches (None: no match)."""
        # Matches come in token order, so the first one found is the earliest: stop there.
        for index, _key, _words in self._matches(tokens, start):
            return index
        return None

    def earliest_id(self, tokens: Sequence[_Token]) -> str | None:
        """The id mentioned first in the text (ties: the id listed first)."""
        found = self.hits(tokens)
        if not found:
            return None
        return min(found, key=lambda hit: (hit[0], self.order[hit[1]]))[1]

    def ids(self, tokens: Sequence[_Token]) -> list[str]:
        """Every id mentioned, in the order the ids are listed."""
        seen = {key for _index, key, _stem in self.hits(tokens)}
        return sorted(seen, key=self.order.__getitem__)
