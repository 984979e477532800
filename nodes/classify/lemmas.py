"""Lemma stage (section ``lemmas``, ``yaml_config/nlu/lemmas.yaml``): dictionary forms → intents.

Each word is reduced to its normal form by pymorphy3 (resource ``morph``), so irregular
forms that no stem covers still match («людей» → «человек», «лучше» → «хороший»). An entry
is a single lemma or a *set* of lemmas that must all occur (any order). Negated words are
``не_<lemma>`` (see ``keywords``). The stage also compares the message with every taxonomy
example by lemmas (``example_match``; settings under ``examples:``), so an intent with good
examples is found even before anyone writes lemma sets for it.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field, field_validator

from engine.config import ConfigBundle, section
from nodes.classify.example_match import ExampleHit, ExampleMatcher, ExampleMatchSettings
from nodes.classify.keywords import NEGATED, Negation, Scoring, mark_negations, rank, tokenize
from nodes.classify.roots import weighted
from nodes.classify.taxonomy import IntentReference, intent_keys_of, intent_reference_source

__all__ = ["LemmaEntry", "LemmasFile", "LemmaScorer", "load_lemmas", "example_normalizer"]


class LemmaEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    lemmas: list[str] | dict[str, float] = Field(default_factory=list)
    sets: list[list[str]] = Field(default_factory=list, description="lemmas that must all occur (weight set_weight)")

    @field_validator("lemmas")
    @classmethod
    def _lowercase(cls, value: list[str] | dict[str, float]) -> list[str] | dict[str, float]:
        for item in value:
            if item != item.lower().replace("ё", "е") or " " in item:
                raise ValueError(f"'{item}' must be one lowercase word with е instead of ё; put several words in sets")
        return value


class LemmasFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    version: int = 1
    lemma_weight: float = Field(1.0, gt=0)
    set_weight: float = Field(1.8, gt=0)
    negation: Negation = Negation()
    scoring: Scoring = Scoring()
    examples: ExampleMatchSettings = ExampleMatchSettings()
    intents: dict[str, LemmaEntry]


def _identity(text: str) -> str:
    return text


@dataclass
class LemmaScorer:
    negation: Negation = field(default_factory=Negation)
    scoring: Scoring = field(default_factory=Scoring)
    matcher: ExampleMatcher | None = None
    prepare: Callable[[str], str] = _identity  # normalises taxonomy examples like messages
    single: dict[str, list[tuple[str, float]]] = field(default_factory=dict)  # lemma → [(intent, weight)]
    sets: list[tuple[frozenset[str], str, float]] = field(default_factory=list)
    _set_keys: dict[str, list[int]] = field(default_factory=dict)  # one lemma of each set → set positions

    def add(self, intent: str, entry: LemmaEntry, lemma_weight: float, set_weight: float) -> None:
        for lemma, weight in weighted(entry.lemmas, lemma_weight).items():
            self.single.setdefault(lemma, []).append((intent, weight))
        for group in entry.sets:
            members = frozenset(word.strip().lower().replace("ё", "е") for word in group if word.strip())
            if members:
                self._set_keys.setdefault(min(members), []).append(len(self.sets))
                self.sets.append((members, intent, set_weight))

    def lemmatize(self, text: str, lemma: Callable[[str], str]) -> list[str]:
        out = []
        for token in mark_negations(tokenize(text), self.negation):
            if token.startswith(NEGATED):
                out.append(NEGATED + lemma(token[len(NEGATED):]))
            else:
                out.append(lemma(token))
        return out

    def matches(self, lemmas: list[str]) -> tuple[dict[str, float], list[str]]:
        present = set(lemmas)
        scores: dict[str, float] = {}
        hits: list[str] = []
        for lemma in present:
            for intent, weight in self.single.get(lemma, ()):
                scores[intent] = scores.get(intent, 0.0) + weight
                hits.append(f"{lemma}→{intent}")
            for position in self._set_keys.get(lemma, ()):
                members, intent, weight = self.sets[position]
                if members <= present:
                    scores[intent] = scores.get(intent, 0.0) + weight
                    hits.append(f"{{{' '.join(sorted(members))}}}→{intent}")
        return scores, hits

    def classify(self, text: str, lemma: Callable[[str], str], top: int = 5) -> tuple[list[tuple[str, float]], list[str], list[str], list[ExampleHit]]:
        """Ranked (intent, confidence) merging lemma sets and nearest examples (max per intent)."""
        lemmas = self.lemmatize(text, lemma)
        scores, hits = self.matches(lemmas)
        ranked = dict(rank(scores, self.scoring, top))
        examples: list[ExampleHit] = []
        if self.matcher is not None:
            examples = self.matcher.match(lemmas, lambda example: self.lemmatize(self.prepare(example), lemma), top)
            for hit in examples:
                if hit.confidence > ranked.get(hit.intent, 0.0):
                    ranked[hit.intent] = hit.confidence
        ordered = sorted(ranked.items(), key=lambda item: -item[1])[:top]
        return ordered, hits, lemmas, examples


def example_normalizer(bundle: ConfigBundle) -> Callable[[str], str]:
    """Taxonomy examples go through the same normaliser as messages (case, ё, typos, splits)."""
    from nodes.normalize.lexicon import Lexicon
    from nodes.normalize.text import Normalizer

    normalizer = Normalizer(bundle.section("normalization") or Lexicon(), None)
    return lambda text: normalizer(text)[0]


@section("lemmas")
def load_lemmas(bundle: ConfigBundle) -> LemmaScorer:
    loaded = bundle.optional_model("yaml_config/nlu/lemmas.yaml", LemmasFile)
    if loaded is None:
        return LemmaScorer()
    doc, parsed = loaded
    taxonomy = bundle.section("intents")
    matcher = ExampleMatcher(parsed.examples, taxonomy.examples()) if taxonomy is not None and parsed.examples.enabled else None
    scorer = LemmaScorer(parsed.negation, parsed.scoring, matcher, example_normalizer(bundle))
    for intent, entry in parsed.intents.items():
        for index, group in enumerate(entry.sets):
            if len(group) < 2:
                bundle.add([doc.issue(("intents", intent, "sets", index), "a set needs at least two lemmas", "Move a single lemma to lemmas")])
        scorer.add(intent, entry, parsed.lemma_weight, parsed.set_weight)
    return scorer


@intent_reference_source("lemmas")
def _lemma_references(bundle: ConfigBundle) -> Iterator[IntentReference]:
    return intent_keys_of(bundle, "yaml_config/nlu/lemmas.yaml")
