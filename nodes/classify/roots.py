"""Root stage (section ``roots``, ``yaml_config/nlu/roots.yaml``): word stems and phrases → intents.

No morphology: a root matches any word that starts with it («стоим» → «стоимость»,
«стоимости»); a root ending in ``$`` matches only that exact word («пример$» is not
«примерно»); a phrase matches consecutive words that start with its words («сколько
стоит»). Roots see negated words as ``не_<word>`` (see ``keywords``), so write
``не_нужн`` for «не нужно». Each root or phrase counts once per message.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field, field_validator

from engine.config import ConfigBundle, section
from nodes.classify.keywords import Negation, Scoring, mark_negations, rank, tokenize
from nodes.classify.taxonomy import IntentReference, intent_keys_of, intent_reference_source

__all__ = ["RootEntry", "RootsFile", "RootScorer", "load_roots", "weighted"]


def weighted(items: list[str] | dict[str, float], default: float) -> dict[str, float]:
    """``[a, b]`` or ``{a: 1.5, b: 1}`` → ``{a: weight}``."""
    if isinstance(items, dict):
        return {str(key).strip(): float(value) for key, value in items.items()}
    return {str(item).strip(): default for item in items}


class RootEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    roots: list[str] | dict[str, float] = Field(default_factory=list, description="stems (weight root_weight) or stem → weight")
    phrases: list[str] | dict[str, float] = Field(default_factory=list, description="word-prefix sequences (weight phrase_weight)")

    @field_validator("roots", "phrases", mode="before")
    @classmethod
    def _as_text(cls, value: object) -> object:
        # YAML reads «910» or «2026» as numbers; a stem is always text.
        if isinstance(value, dict):
            return {str(key): weight for key, weight in value.items()}
        if isinstance(value, list):
            return [str(item) if isinstance(item, (int, float)) else item for item in value]
        return value

    @field_validator("roots", "phrases")
    @classmethod
    def _lowercase(cls, value: list[str] | dict[str, float]) -> list[str] | dict[str, float]:
        for item in value:
            if item != item.lower().replace("ё", "е"):
                raise ValueError(f"'{item}' must be lowercase with е instead of ё (the text is normalised so)")
        return value


class RootsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    version: int = 1
    root_weight: float = Field(1.0, gt=0)
    phrase_weight: float = Field(2.0, gt=0)
    min_root_length: int = Field(2, ge=1)
    negation: Negation = Negation()
    scoring: Scoring = Scoring()
    intents: dict[str, RootEntry]


@dataclass
class RootScorer:
    """Scores a normalised text against every intent's roots and phrases."""

    negation: Negation = field(default_factory=Negation)
    scoring: Scoring = field(default_factory=Scoring)
    min_root_length: int = 2
    roots: dict[str, list[tuple[str, float]]] = field(default_factory=dict)  # root → [(intent, weight)]
    exact: dict[str, list[tuple[str, float]]] = field(default_factory=dict)  # whole word → [(intent, weight)]
    phrases: dict[str, list[tuple[tuple[str, ...], str, float]]] = field(default_factory=dict)  # first word → [(words, intent, weight)]

    def add(self, intent: str, entry: RootEntry, root_weight: float, phrase_weight: float) -> None:
        for root, weight in weighted(entry.roots, root_weight).items():
            if root.endswith("$"):
                self.exact.setdefault(root[:-1], []).append((intent, weight))
            else:
                self.roots.setdefault(root, []).append((intent, weight))
        for phrase, weight in weighted(entry.phrases, phrase_weight).items():
            words = tuple(phrase.split())
            if words:
                self.phrases.setdefault(words[0], []).append((words, intent, weight))

    def matches(self, text: str) -> tuple[dict[str, float], list[str]]:
        """Scores per intent and the roots/phrases that matched (for the trace)."""
        tokens = tokenize(text)
        scores: dict[str, float] = {}
        hits: list[str] = []
        seen: set[tuple[str, str]] = set()
        shortest = self.min_root_length
        for token in mark_negations(tokens, self.negation):
            for intent, weight in self.exact.get(token, ()):
                if (intent, token + "$") not in seen:
                    seen.add((intent, token + "$"))
                    scores[intent] = scores.get(intent, 0.0) + weight
                    hits.append(f"{token}$→{intent}")
            for end in range(shortest, len(token) + 1):
                entries = self.roots.get(token[:end])
                if entries is None:
                    continue
                root = token[:end]
                for intent, weight in entries:
                    if (intent, root) not in seen:
                        seen.add((intent, root))
                        scores[intent] = scores.get(intent, 0.0) + weight
                        hits.append(f"{root}→{intent}")
        if self.phrases:
            for position, token in enumerate(tokens):
                for end in range(1, len(token) + 1):
                    phrase_entries = self.phrases.get(token[:end])
                    if phrase_entries is None:
                        continue
                    for words, intent, weight in phrase_entries:
                        key = (intent, " ".join(words))
                        if key in seen or len(words) > len(tokens) - position:
                            continue
                        if all(tokens[position + offset].startswith(word) for offset, word in enumerate(words[1:], 1)):
                            seen.add(key)
                            scores[intent] = scores.get(intent, 0.0) + weight
                            hits.append(f"«{key[1]}»→{intent}")
        return scores, hits

    def classify(self, text: str, top: int = 5) -> tuple[list[tuple[str, float]], list[str]]:
        scores, hits = self.matches(text)
        return rank(scores, self.scoring, top), hits


@section("roots")
def load_roots(bundle: ConfigBundle) -> RootScorer:
    loaded = bundle.optional_model("yaml_config/nlu/roots.yaml", RootsFile)
    if loaded is None:
        return RootScorer()
    doc, parsed = loaded
    scorer = RootScorer(parsed.negation, parsed.scoring, parsed.min_root_length)
    for intent, entry in parsed.intents.items():
        for root in weighted(entry.roots, 1.0):
            if len(root.rstrip("$")) < parsed.min_root_length:
                bundle.add([doc.issue(("intents", intent, "roots"), f"root '{root}' is shorter than min_root_length {parsed.min_root_length}", "Use a longer stem or a phrase")])
        scorer.add(intent, entry, parsed.root_weight, parsed.phrase_weight)
    return scorer


@intent_reference_source("roots")
def _root_references(bundle: ConfigBundle) -> Iterator[IntentReference]:
    return intent_keys_of(bundle, "yaml_config/nlu/roots.yaml")
