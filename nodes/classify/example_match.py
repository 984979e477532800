"""Nearest taxonomy example by lemmas: the part of the lemma stage every intent gets for free.

Each taxonomy example is reduced to a set of lemmas (negated words as ``не_<lemma>``,
stop words dropped). A message is compared with every example sharing a lemma through an
inverted index: IDF-weighted cosine of the two sets. An intent's score is its best
example's similarity, reported with that example so ``spinflow explain`` shows why.
Adding an intent with examples therefore makes it classifiable without any pattern.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ExampleMatchSettings", "ExampleMatcher", "ExampleHit"]


class ExampleMatchSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    enabled: bool = True
    floor: float = Field(0.35, ge=0, le=1, description="similarity mapped to confidence 0")
    ceiling: float = Field(0.9, ge=0, le=1, description="similarity mapped to max_confidence")
    max_confidence: float = Field(0.9, gt=0, le=1)
    min_shared: int = Field(1, ge=1, description="lemmas a message must share with an example")
    stopwords: list[str] = Field(default_factory=list, description="lemmas that never count (prepositions, particles, pronouns)")


@dataclass(frozen=True)
class ExampleHit:
    intent: str
    similarity: float
    confidence: float
    example: str


class ExampleMatcher:
    """Inverted index over lemmatised examples; built lazily on the first query."""

    def __init__(self, settings: ExampleMatchSettings, examples: Sequence[tuple[str, str]]) -> None:
        self.settings = settings
        self.examples = list(examples)
        self._stop = frozenset(settings.stopwords)
        self._built = False
        self._sets: list[frozenset[str]] = []
        self._norms: list[float] = []
        self._index: dict[str, list[int]] = {}
        self._idf: dict[str, float] = {}

    def _build(self, lemmatize: Callable[[str], list[str]]) -> None:
        sets = [self._keep(lemmatize(text)) for _intent, text in self.examples]
        frequency: dict[str, int] = {}
        for members in sets:
            for lemma in members:
                frequency[lemma] = frequency.get(lemma, 0) + 1
        total = max(len(sets), 1)
        self._idf = {lemma: math.log(1 + total / count) for lemma, count in frequency.items()}
        self._sets = sets
        self._norms = [math.sqrt(sum(self._idf[lemma] ** 2 for lemma in members)) or 1.0 for members in sets]
        index: dict[str, list[int]] = {}
        for position, members in enumerate(sets):
            for lemma in members:
                index.setdefault(lemma, []).append(position)
        self._index = index
        self._built = True

    def _keep(self, lemmas: list[str]) -> frozenset[str]:
        return frozenset(lemma for lemma in lemmas if lemma not in self._stop and not lemma.isdigit() and len(lemma) > 1)

    def match(self, lemmas: list[str], lemmatize: Callable[[str], list[str]], top: int = 5) -> list[ExampleHit]:
        """Best example per intent for a lemmatised message, highest confidence first."""
        if not self.settings.enabled or not self.examples:
            return []
        if not self._built:
            self._build(lemmatize)
        query = self._keep(lemmas)
        if not query:
            return []
        idf = self._idf
        default_idf = math.log(1 + len(self._sets))  # an unseen lemma is as rare as can be
        query_norm = math.sqrt(sum(idf.get(lemma, default_idf) ** 2 for lemma in query))
        overlap: dict[int, float] = {}
        shared: dict[int, int] = {}
        for lemma in query:
            weight = idf.get(lemma)
            if weight is None:
                continue
            for position in self._index.get(lemma, ()):
                overlap[position] = overlap.get(position, 0.0) + weight * weight
                shared[position] = shared.get(position, 0) + 1
        best: dict[str, tuple[float, int]] = {}
        minimum = self.settings.min_shared
        for position, dot in overlap.items():
            if shared[position] < minimum:
                continue
            similarity = dot / (query_norm * self._norms[position])
            intent = self.examples[position][0]
            if similarity > best.get(intent, (0.0, -1))[0]:
                best[intent] = (similarity, position)
        ranked = sorted(best.items(), key=lambda item: -item[1][0])[:top]
        settings = self.settings
        span = max(settings.ceiling - settings.floor, 1e-6)
        out = []
        for intent, (similarity, position) in ranked:
            confidence = settings.max_confidence * min(1.0, max(0.0, (similarity - settings.floor) / span))
            out.append(ExampleHit(intent, round(similarity, 4), round(confidence, 4), self.examples[position][1]))
        return out
