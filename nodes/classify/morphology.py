"""Resource ``morph``: pymorphy3 lemmatisation with a per-process cache (built lazily)."""
from __future__ import annotations

from functools import lru_cache
from typing import Any

from engine.resources import resource

__all__ = ["Morphology", "build_morphology"]


class Morphology:
    """Lemmas and dictionary checks for Russian words.

    ``MorphAnalyzer()`` costs ~50 ms and 39 MiB, so it is created on first use, once per
    process. A parse costs 38–140 µs; the LRU caches make repeated words nearly free.
    """

    def __init__(self, cache_size: int = 50_000) -> None:
        self._analyzer: Any = None
        self.lemma = lru_cache(maxsize=cache_size)(self._lemma)
        self.is_known = lru_cache(maxsize=cache_size)(self._is_known)

    @property
    def analyzer(self) -> Any:
        if self._analyzer is None:
            import pymorphy3

            self._analyzer = pymorphy3.MorphAnalyzer()
        return self._analyzer

    def _lemma(self, word: str) -> str:
        """Normal form of the most probable parse (the word itself if it has no letters)."""
        if not any(ch.isalpha() for ch in word):
            return word
        parses = self.analyzer.parse(word)
        return str(parses[0].normal_form) if parses else word

    def _is_known(self, word: str) -> bool:
        """True if the word is in the dictionary (not merely guessed by suffix)."""
        return bool(self.analyzer.word_is_known(word))

    def lemmas(self, words: list[str]) -> list[str]:
        return [self.lemma(word) for word in words]


@resource("morph", per_process=True)
def build_morphology(resources: Any) -> Morphology:
    return Morphology()
