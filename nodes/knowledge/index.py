"""The retrieval cascade over the knowledge base: exact → lemma → semantic.

Every stage scores sections in [0, 1] by *weighted coverage*: how much of the question's
content (idf-weighted words, stopwords removed) a section explains, the weight being the
best field the word occurs in (keywords > title > questions > answer), blended with the
*agreement* between the question and the section's title (an F1 of the two coverages), so
«тариф Mini» goes to the Mini section rather than to an overview listing every tariff.
Stages:

1. **exact**: surface word forms; only whole keyword phrases and whole example questions
   count, so it decides only when the client used the catalogue's own words.
2. **lemma**: pymorphy3 normal forms over every field, with synonyms (каспи → kaspi) and
   stem matches at a reduced weight (доставлять ~ доставка).
3. **semantic**: sentence-transformers cosine between the question and each section's
   title/questions, fused with the lemma score (the offline model is weak on Russian, so the
   lexical evidence keeps it honest).

In a longer message the words around a question clause count less (``context_weight``). A
kind of question (``question_focus``: price, time, place) scales down the sections whose
answer cannot satisfy it. A stage decides when its best score reaches its threshold and
leads the runner-up by its margin; otherwise the next stage runs. When none decides, the
best candidate of the last stage that ran is returned if it reaches ``min_score`` (stage
``best``), else nothing. All numbers live in ``yaml_config/knowledge/_retrieval.yaml``.
"""
from __future__ import annotations

import hashlib
import math
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nodes.knowledge.base import KnowledgeBase, KnowledgeSection
from nodes.knowledge.settings import RetrievalSettings, StageSettings

__all__ = ["KnowledgeRetriever", "Retrieval", "Candidate", "retrieval_tokens"]

_LEMMA_MEMO = 20_000  # query lemmas whose section hits are remembered before the memo starts over
_TOKEN = re.compile(r"[0-9a-zа-яё]+(?:\.[0-9]+)*")
# Clause boundaries: sentence ends, and «, а …» / «, но …» / «, кстати …» inside a sentence.
_CLAUSE = re.compile(r"(?<=[.!?])\s+|,\s*(?=(?:а|но|кстати|и ещё|и еще|ещё|еще|также)\s)")


def retrieval_tokens(text: str) -> list[str]:
    """Lowercase word tokens with ё→е; hyphenated words split (онлайн-касса → онлайн, касса)."""
    return _TOKEN.findall(text.lower().replace("ё", "е"))


def _contains(tokens: Sequence[str], phrase: tuple[str, ...]) -> bool:
    first = phrase[0]
    if first not in tokens:  # the usual case, answered by one scan in C
        return False
    width = len(phrase)
    return any(tokens[start] == first and tuple(tokens[start:start + width]) == phrase for start in range(len(tokens) - width + 1))


@dataclass(frozen=True, slots=True)
class Candidate:
    section_id: str
    score: float

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.section_id, "score": round(self.score, 4)}


@dataclass(slots=True)
class Retrieval:
    """What the cascade found for one message.

    ``as_dict`` is what the trace records; it leaves out the per-stage timings so that a
    replayed turn compares equal (the node's own duration is traced anyway).
    """

    section_id: str | None
    score: float
    stage: str  # exact | lemma | semantic | best | none
    candidates: list[Candidate]
    is_question: bool
    stage_scores: dict[str, float] = field(default_factory=dict)
    timings_us: dict[str, float] = field(default_factory=dict)
    title: str = ""
    scope: str = "message"  # message | question (a question clause of a longer message)
    unmet_focus: list[str] = field(default_factory=list)  # kinds of question (price, …) the top section cannot answer
    semantic_skipped: str | None = None  # why the semantic stage did not embed the message (not_a_question)

    def as_dict(self) -> dict[str, Any]:
        return {
            "section_id": self.section_id,
            "title": self.title,
            "score": round(self.score, 4),
            "stage": self.stage,
            "is_question": self.is_question,
            "scope": self.scope,
            "unmet_focus": self.unmet_focus,
            "candidates": [candidate.as_dict() for candidate in self.candidates],
            "stage_scores": {name: round(value, 4) for name, value in self.stage_scores.items()},
            **({"semantic_skipped": self.semantic_skipped} if self.semantic_skipped else {}),
        }


class _Lexicon:
    """Terms per section with their best field weight, document frequencies and an inverted index."""

    def __init__(self, section_terms: list[dict[str, float]], name_terms: list[frozenset[str]]) -> None:
        self.section_terms = section_terms
        self.name_terms = name_terms
        count = len(section_terms)
        frequency: dict[str, int] = {}
        self.postings: dict[str, list[tuple[int, float]]] = {}
        for index, terms in enumerate(section_terms):
            for term, weight in terms.items():
                frequency[term] = frequency.get(term, 0) + 1
                self.postings.setdefault(term, []).append((index, weight))
        self.idf = {term: math.log(1.0 + count / df) for term, df in frequency.items()}
        self.unknown_idf = math.log(1.0 + count)
        self.name_mass = [sum(self.idf.get(term, 0.0) for term in names) or 1.0 for names in name_terms]

    def weight_of(self, term: str, unknown_share: float) -> float:
        return self.idf.get(term, self.unknown_idf * unknown_share)


class KnowledgeRetriever:
    """Built once per config (lazily); ``search`` is thread-safe and allocation-light."""

    def __init__(
        self,
        kb: KnowledgeBase,
        settings: RetrievalSettings,
        lemmatize: Callable[[str], str],
        embedder: Callable[[], Any] | None = None,
        cache_dir: str | Path | None = None,
    ) -> None:
        self.cache_dir = cache_dir
        self.kb = kb
        self.settings = settings
        self._lemma = lemmatize
        self._embedder_factory = embedder
        self._synonyms = {key.lower().replace("ё", "е"): value.lower().replace("ё", "е") for key, value in settings.synonyms.items()}
        self._stop = {word.lower().replace("ё", "е") for word in settings.stopwords}
        markers = [tuple(retrieval_tokens(word)) for word in settings.question_markers]
        self._markers = {marker[0] for marker in markers if len(marker) == 1}
        self._marker_phrases = [marker for marker in markers if len(marker) > 1]
        self._sections: tuple[KnowledgeSection, ...] = kb.sections
        self._priority = [section.priority for section in self._sections]
        self._exact_questions: dict[tuple[str, ...], int] = {}
        self._build_exact()
        self._build_lemma()
        self._semantic: tuple[np.ndarray, np.ndarray] | None = None
        self._groups_of: tuple[np.ndarray, tuple[np.ndarray, np.ndarray] | None] | None = None
        self.last_semantic_error: str | None = None
        # Which kinds of question (price, time, place) each section's answer can satisfy.
        self._focus = list(settings.question_focus)
        self._satisfies = [frozenset(rule.name for rule in self._focus if rule.answered_by(item.answer)) for item in self._sections]
        self._index = {item.id: index for index, item in enumerate(self._sections)}

    # -- normalisation -------------------------------------------------------------------
    def _canonical_surface(self, token: str) -> str:
        return self._synonyms.get(token, token)

    def _canonical_lemma(self, token: str) -> str:
        mapped = self._synonyms.get(token)
        if mapped is not None:
            return mapped
        lemma = self._lemma(token)
        return self._synonyms.get(lemma, lemma)

    def _is_stop(self, token: str, lemma: str) -> bool:
        return token in self._stop or lemma in self._stop

    # -- exact stage -----------------------------------------------------------------------
    def _build_exact(self) -> None:
        weights = self.settings.field_weights
        self._phrases: dict[str, list[tuple[tuple[str, ...], int, float]]] = {}
        section_terms: list[dict[str, float]] = []
        name_terms: list[frozenset[str]] = []
        for index, item in enumerate(self._sections):
            terms: dict[str, float] = {}
            names: set[str] = set()
            for kind, texts, weight in (("keywords", item.keywords, weights.keywords), ("title", [item.title], weights.title), ("questions", item.questions, weights.questions)):
                for text in texts:
                    tokens = tuple(self._canonical_surface(token) for token in retrieval_tokens(text))
                    if not tokens:
                        continue
                    if kind == "questions":
                        self._exact_questions.setdefault(tokens, index)
                    self._phrases.setdefault(tokens[0], []).append((tokens, index, weight))
                    for token in tokens:
                        if not self._is_stop(token, self._canonical_lemma(token)):
                            terms[token] = max(terms.get(token, 0.0), weight)
                            if kind == "title":
                                names.add(token)
            section_terms.append(terms)
            name_terms.append(frozenset(names))
        self._exact = _Lexicon(section_terms, name_terms)

    def _exact_scores(self, tokens: Sequence[str], content: Sequence[bool], weights: Sequence[float]) -> dict[int, float]:
        if tuple(tokens) in self._exact_questions:
            return {self._exact_questions[tuple(tokens)]: 1.0}
        matched: dict[int, dict[int, float]] = {}  # section → position → weight
        for start, token in enumerate(tokens):
            for phrase, index, weight in self._phrases.get(token, ()):
                end = start + len(phrase)
                if end <= len(tokens) and tuple(tokens[start:end]) == phrase:
                    positions = matched.setdefault(index, {})
                    for position in range(start, end):
                        if positions.get(position, 0.0) < weight:
                            positions[position] = weight
        lexicon = self._exact
        share = self.settings.unknown_word_weight
        query: dict[str, float] = {}
        for token, is_content, weight in zip(tokens, content, weights, strict=True):
            if is_content:
                query[token] = max(query.get(token, 0.0), lexicon.weight_of(token, share) * weight)
        total = sum(query.values())
        if not total:
            return {}
        scores: dict[int, float] = {}
        for index, positions in matched.items():
            covered: dict[str, float] = {}
            for position, weight in positions.items():
                token = tokens[position]
                if content[position]:
                    covered[token] = max(covered.get(token, 0.0), weight)
            mass = sum(query[token] * weight for token, weight in covered.items())
            title = {token: 1.0 for token in covered if token in lexicon.name_terms[index]}
            scores[index] = self._finish(mass / total, title, title, query, total, lexicon, index)
        return scores

    # -- lemma stage -----------------------------------------------------------------------
    def _build_lemma(self) -> None:
        weights = self.settings.field_weights
        section_terms: list[dict[str, float]] = []
        name_terms: list[frozenset[str]] = []
        for item in self._sections:
            terms: dict[str, float] = {}
            names: set[str] = set()
            fields = (("keywords", item.keywords, weights.keywords), ("title", [item.title], weights.title), ("questions", item.questions, weights.questions), ("answer", [item.answer], weights.answer))
            for kind, texts, weight in fields:
                for text in texts:
                    for token in retrieval_tokens(text):
                        lemma = self._canonical_lemma(token)
                        if self._is_stop(token, lemma):
                            continue
                        if terms.get(lemma, 0.0) < weight:
                            terms[lemma] = weight
                        if kind == "title":
                            names.add(lemma)
            section_terms.append(terms)
            name_terms.append(frozenset(names))
        self._lemmas = _Lexicon(section_terms, name_terms)
        self._lemma_hits: dict[str, tuple[tuple[int, float, str, float, bool], ...]] = {}
        length = self.settings.stem_length
        self._stems: dict[str, list[str]] = {}
        for term in self._lemmas.idf:
            if len(term) >= length + 1 and term.isalpha():
                self._stems.setdefault(term[:length], []).append(term)

    def _lemma_scores(self, lemmas: Mapping[str, float]) -> dict[int, float]:
        """Scores of the sections sharing a lemma with the query; ``lemmas`` maps lemma → weight."""
        lexicon = self._lemmas
        share = self.settings.unknown_word_weight
        query = {lemma: lexicon.weight_of(lemma, share) * weight for lemma, weight in lemmas.items()}
        total = sum(query.values())
        if not total:
            return {}
        gathered: dict[int, float] = {}
        query_hits: dict[int, dict[str, float]] = {}  # section → query lemma → factor (title hits only)
        title_hits: dict[int, dict[str, float]] = {}  # section → title word → factor
        lemma_hits = self._lemma_hits
        for lemma, idf in query.items():
            hits_of_lemma = lemma_hits.get(lemma)
            if hits_of_lemma is None:
                hits_of_lemma = self._hits_of(lemma)
            for index, value, term, factor, in_title in hits_of_lemma:
                gathered[index] = gathered.get(index, 0.0) + idf * value
                if in_title:
                    query_hits.setdefault(index, {})[lemma] = factor
                    hits = title_hits.setdefault(index, {})
                    hits[term] = max(hits.get(term, 0.0), factor)
        # Most candidates share no title word: their agreement is 0 and ``_finish`` reduces to
        # the same two operations, done inline here (same floats, bit for bit).
        keep = 1.0 - self.settings.focus_weight
        bonus = self.settings.priority_bonus
        priority = self._priority
        empty: dict[str, float] = {}
        scores: dict[int, float] = {}
        for index, mass in gathered.items():
            if index in query_hits or index in title_hits:
                scores[index] = self._finish(mass / total, query_hits.get(index, empty), title_hits.get(index, empty), query, total, lexicon, index)
            else:
                scores[index] = keep * (mass / total) + bonus * priority[index]
        return scores

    def _hits_of(self, lemma: str) -> tuple[tuple[int, float, str, float, bool], ...]:
        """Per section the best (weight × factor, term, factor, term is a title word) over the
        lemma and its stem expansions. It depends on the lemma only, so each is computed once
        (bounded memo: ``_lemma_hits``)."""
        lexicon = self._lemmas
        best: dict[int, tuple[float, str, float]] = {}  # section → (weight, term, factor)
        for term, factor in self._expansions(lemma, self.settings.stem_factor):
            for index, weight in lexicon.postings.get(term, ()):
                value = weight * factor
                if value > best.get(index, (0.0, "", 0.0))[0]:
                    best[index] = (value, term, factor)
        found = tuple((index, value, term, factor, term in lexicon.name_terms[index]) for index, (value, term, factor) in best.items())
        if len(self._lemma_hits) >= _LEMMA_MEMO:
            self._lemma_hits.clear()
        self._lemma_hits[lemma] = found
        return found

    def _expansions(self, lemma: str, factor: float) -> list[tuple[str, float]]:
        """The lemma itself plus vocabulary words sharing its stem (доставлять ~ доставка)."""
        found = [(lemma, 1.0)]
        if factor > 0 and len(lemma) >= self.settings.stem_length + 1 and lemma.isalpha():
            for other in self._stems.get(lemma[: self.settings.stem_length], ()):
                if other != lemma:
                    found.append((other, factor))
        return found

    def _finish(self, coverage: float, query_hits: dict[str, float], title_hits: dict[str, float], query: dict[str, float], total: float, lexicon: _Lexicon, index: int) -> float:
        """Blend coverage with how well the question and the section's title match each other.

        ``query_hits``: query terms that hit a title word (→ match factor); ``title_hits``:
        the title words that were hit. Their idf-weighted shares are combined as an F1, so a
        question naming exactly the section's title («тариф Mini») beats an overview that
        merely lists the same words among its keywords.
        """
        focus_weight = self.settings.focus_weight
        bonus = self.settings.priority_bonus * self._priority[index]
        if not query_hits and not title_hits:  # most candidates share no title word: agreement is 0 (same sum, bit for bit)
            return (1.0 - focus_weight) * coverage + bonus
        query_side = sum(query.get(term, 0.0) * factor for term, factor in query_hits.items()) / total
        title_side = min(1.0, sum(lexicon.idf.get(term, 0.0) * factor for term, factor in title_hits.items()) / lexicon.name_mass[index])
        agreement = 2 * query_side * title_side / (query_side + title_side) if query_side + title_side else 0.0
        return (1.0 - focus_weight) * coverage + focus_weight * agreement + bonus

    # -- semantic stage --------------------------------------------------------------------
    def _semantic_matrix(self) -> tuple[Any, np.ndarray, np.ndarray]:
        embedder = self._embedder_factory() if self._embedder_factory else None
        if embedder is None:
            raise RuntimeError("no embedder available")
        if self._semantic is None:
            texts: list[str] = []
            owners: list[int] = []
            for index, item in enumerate(self._sections):
                for name in self.settings.stages.semantic.fields:
                    if name == "title":
                        values = [item.title]
                    elif name == "questions":
                        values = list(item.questions)
                    elif name == "keywords":
                        values = [", ".join(item.keywords)] if item.keywords else []
                    else:
                        values = [item.answer]
                    for value in values:
                        texts.append(value)
                        owners.append(index)
            matrix = self._cached_encode(embedder, texts)
            self._semantic = (matrix, np.asarray(owners, dtype=np.int64))
        matrix, owner_index = self._semantic
        return embedder, matrix, owner_index

    def _cached_encode(self, embedder: Any, texts: list[str]) -> np.ndarray:
        """Section embeddings, cached on disk keyed by model name + content hash."""
        digest = hashlib.sha256(str(getattr(embedder, "name", "model")).encode())
        for value in texts:
            digest.update(b"\x1e" + value.encode())
        path = Path(self.cache_dir) / f"knowledge-{digest.hexdigest()[:20]}.npy" if self.cache_dir else None
        if path is not None and path.exists():
            try:
                cached = np.load(path, allow_pickle=False)
                if cached.ndim == 2 and cached.shape[0] == len(texts):
                    return cached.astype(np.float32, copy=False)
            except (OSError, ValueError):
                pass  # a torn or foreign file is simply rebuilt
        matrix = np.asarray(embedder.encode(texts), dtype=np.float32)
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                temporary = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npy")
                np.save(temporary, matrix)
                os.replace(temporary, path)
            except OSError:
                pass  # a read-only cache costs time, not correctness
        return matrix

    def _semantic_scores(self, text: str, lexical: dict[int, float]) -> dict[int, float]:
        embedder, matrix, owners = self._semantic_matrix()
        query = np.asarray(embedder.encode([text]), dtype=np.float32)[0]
        similarity = matrix @ query
        best = np.full(len(self._sections), -1.0, dtype=np.float32)
        groups = self._owner_groups(owners)
        if groups is None:
            np.maximum.at(best, owners, similarity)
        else:  # rows are grouped by section: one reduceat instead of the (slow) unbuffered ufunc.at
            sections, starts = groups
            best[sections] = np.maximum(best[sections], np.maximum.reduceat(similarity, starts))
        share = self.settings.stages.semantic.lexical_weight
        keep = 1.0 - share
        get = lexical.get
        return {index: share * get(index, 0.0) + keep * max(0.0, value) for index, value in enumerate(best.tolist())}

    def _owner_groups(self, owners: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """(section of each run, first row of each run) when the rows of every section are
        contiguous (they are, as built); None otherwise."""
        cached = self._groups_of
        if cached is not None and cached[0] is owners:
            return cached[1]
        groups: tuple[np.ndarray, np.ndarray] | None = None
        if len(owners):
            starts = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]])
            sections = owners[starts]
            if len(np.unique(sections)) == len(sections):
                groups = (sections, starts)
        self._groups_of = (owners, groups)
        return groups

    def warm(self, semantic: bool = True) -> None:
        """Build the lazy parts now (morphology cache, the embedding matrix) — for benchmarks."""
        self.search("прогрев")
        if semantic and self._embedder_factory is not None and self.settings.stages.semantic.enabled:
            embedder, _matrix, _owners = self._semantic_matrix()
            embedder.encode(["прогрев"])

    # -- cascade -----------------------------------------------------------------------------
    def is_question(self, text: str, lemmas: Iterable[str] | None = None) -> bool:
        """True for «?» or a question word (checked as written and as a normal form)."""
        if "?" in text:
            return True
        tokens = retrieval_tokens(text)
        if lemmas is None:
            lemmas = [self._canonical_lemma(token) for token in tokens]
        if any(word in self._markers for word in (*tokens, *lemmas)):
            return True
        return any(_contains(tokens, phrase) for phrase in self._marker_phrases)

    def search(self, text: str, *, semantic: bool = True, asked: bool = False) -> Retrieval:
        """Run the cascade on one (normalised) message.

        In a longer message with a question in it («у нас две точки, а рассрочка есть?») the
        words of the question clauses count fully and the surrounding words at
        ``context_weight``: the statement still gives context («у меня 5 магазинов. какой
        тариф подойдёт?») but no longer drowns the question (``scope`` = question).

        With ``stages.semantic.only_questions`` the message is embedded only when it asks
        something: «?» or a question word in it, or ``asked`` (the caller knows it is a question,
        e.g. from its intent). A statement the lexical stages could not place is no question for
        the knowledge base, and an embedding costs ~10 ms against ~0.3 ms for the rest.
        """
        clauses = [clause.strip() for clause in _CLAUSE.split(text) if clause and clause.strip()]
        weights: list[float] | None = None
        if len(clauses) > 1:
            asking = [self.is_question(clause) for clause in clauses]
            if any(asking) and not all(asking):
                weights = []
                for clause, asks in zip(clauses, asking, strict=True):
                    weights.extend([1.0 if asks else self.settings.context_weight] * len(retrieval_tokens(clause)))
        result = self._search(text, semantic=semantic, weights=weights, asked=asked or weights is not None)
        if weights is not None:
            result.scope = "question"
            result.is_question = True
        return result

    def _search(self, text: str, *, semantic: bool = True, weights: Sequence[float] | None = None, asked: bool = False) -> Retrieval:
        started = time.perf_counter()
        raw_tokens = retrieval_tokens(text)
        if weights is None or len(weights) != len(raw_tokens):
            weights = [1.0] * len(raw_tokens)
        tokens = [self._canonical_surface(token) for token in raw_tokens]
        lemmas = [self._canonical_lemma(token) for token in raw_tokens]
        content = [not self._is_stop(token, lemma) for token, lemma in zip(tokens, lemmas, strict=True)]
        question = self.is_question(text, lemmas)
        wanted = frozenset(rule.name for rule in self._focus if rule.asked(text))
        penalty = self.settings.focus_penalty
        timings: dict[str, float] = {"tokenize": (time.perf_counter() - started) * 1e6}
        stage_scores: dict[str, float] = {}
        stages = self.settings.stages
        last: list[Candidate] = []

        def run(name: str, compute: Callable[[], dict[int, float]]) -> list[Candidate]:
            begun = time.perf_counter()
            scores = compute()
            if wanted:
                # A price question wants a price: sections that cannot give one step back.
                scores = {index: score if wanted <= self._satisfies[index] else score * penalty for index, score in scores.items()}
            timings[name] = (time.perf_counter() - begun) * 1e6
            ranked = sorted(scores.items(), key=lambda item: (-item[1], -self._priority[item[0]], item[0]))
            result = [Candidate(self._sections[index].id, score) for index, score in ranked[: max(self.settings.top_k, 2)]]
            stage_scores[name] = result[0].score if result else 0.0
            return result

        def decided(candidates: list[Candidate], config: StageSettings) -> bool:
            if not candidates or candidates[0].score < config.threshold:
                return False
            runner_up = candidates[1].score if len(candidates) > 1 else 0.0
            return candidates[0].score - runner_up >= config.margin

        if stages.exact.enabled and any(content):
            last = run("exact", lambda: self._exact_scores(tokens, content, weights))
            if decided(last, stages.exact):
                return self._result(last, "exact", question, stage_scores, timings, started, wanted=wanted)
        lexical: dict[int, float] = {}
        if stages.lemma.enabled and any(content):
            content_lemmas: dict[str, float] = {}
            for lemma, keep, weight in zip(lemmas, content, weights, strict=True):
                if keep:
                    content_lemmas[lemma] = max(content_lemmas.get(lemma, 0.0), weight)

            def lemma_stage() -> dict[int, float]:
                lexical.update(self._lemma_scores(content_lemmas))
                return lexical

            last = run("lemma", lemma_stage)
            if decided(last, stages.lemma):
                return self._result(last, "lemma", question, stage_scores, timings, started, wanted=wanted)
        skipped: str | None = None
        if semantic and stages.semantic.enabled and stages.semantic.only_questions and not (question or asked):
            semantic, skipped = False, "not_a_question"
        if semantic and stages.semantic.enabled and self._embedder_factory is not None and any(content):
            try:
                last = run("semantic", lambda: self._semantic_scores(text, lexical))
            except Exception as exc:  # noqa: BLE001 - a missing model degrades to the lexical answer
                stage_scores["semantic_error"] = 0.0
                timings["semantic_error"] = 0.0
                self.last_semantic_error = f"{type(exc).__name__}: {exc}"
            else:
                if decided(last, stages.semantic):
                    return self._result(last, "semantic", question, stage_scores, timings, started, wanted=wanted)
        if last and last[0].score >= self.settings.min_score:
            result = self._result(last, "best", question, stage_scores, timings, started, wanted=wanted)
        else:
            result = self._result(last, "none", question, stage_scores, timings, started, found=False)
        result.semantic_skipped = skipped
        return result

    def _result(self, candidates: list[Candidate], stage: str, question: bool, stage_scores: dict[str, float], timings: dict[str, float], started: float,
                found: bool = True, wanted: frozenset[str] = frozenset()) -> Retrieval:
        timings["total"] = (time.perf_counter() - started) * 1e6
        top = candidates[: self.settings.top_k]
        if not found or not top:
            return Retrieval(None, top[0].score if top else 0.0, stage, top, question, stage_scores, timings)
        section = self.kb.get(top[0].section_id)
        unmet = sorted(wanted - self._satisfies[self._index[top[0].section_id]])
        return Retrieval(top[0].section_id, top[0].score, stage, top, question, stage_scores, timings, section.title if section else "", unmet_focus=unmet)
