"""``classify.cascade``: patterns → roots → lemmas → semantic → fallback, thresholds from config.

1. priority patterns: the best hit decides if its confidence ≥ ``high_threshold``;
2. roots: decides if ≥ ``high_threshold``;
3. lemmas: the best of everything so far decides if ≥ ``medium_threshold``;
4. semantic (flag ``semantic_stage``): nearest taxonomy examples under the ``intent_encoder``
   model (trained from our examples, ``trained_model``; else the pretrained embedder), similarity
   mapped to confidence by that model's calibration; decides if ≥ ``semantic_threshold`` and
   above the keyword result, else reranks the fallback's candidates. The calibration
   (``semantic_model.yaml``, chosen by ``evals/semantic_cv.py``) also says how an intent's
   similarity is scored (nearest examples, the learned intent vectors, or a mix), where the
   stage may speak at all (``acts_below``: only while the keyword stages' best is weaker) and
   whether it may overturn a roots/lemmas decision it confidently disagrees with (``overturn``);
5. fallback: the best result of any stage, or ``unclear`` below ``min_confidence``.

Each stage is data (YAML sections ``patterns``, ``roots``, ``lemmas``, ``intents``); heavy
resources (``morph``, ``embedder``) are built on first use, never at load. ``explain()``
runs every stage regardless of early exits (``spinflow explain``).
"""
from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from engine.node import NodeConfig, NodeContext
from engine.registry import register, suggest
from nodes.classify.context import CONTEXT_READS, derive_context
from nodes.classify.intent_encoder import IntentEncoder
from nodes.classify.keywords import tokenize
from nodes.classify.lemmas import LemmaScorer
from nodes.classify.patterns import PatternSet
from nodes.classify.roots import RootScorer
from nodes.classify.semantic import SemanticIndex
from nodes.classify.taxonomy import UNCLEAR, Taxonomy
from nodes.classify.trained_model import Calibration

__all__ = ["Cascade", "CascadeConfig", "CascadeClassifier", "STAGES"]

Stage = Literal["patterns", "roots", "lemmas", "semantic"]
STAGES: tuple[Stage, ...] = ("patterns", "roots", "lemmas", "semantic")


class CascadeConfig(NodeConfig):
    high_threshold: float = Field(0.85, ge=0, le=1, description="patterns and roots decide at or above this")
    medium_threshold: float = Field(0.65, ge=0, le=1, description="the lemma stage decides at or above this")
    semantic_threshold: float = Field(0.55, ge=0, le=1, description="the semantic stage decides at or above this")
    min_confidence: float = Field(0.3, ge=0, le=1, description="below this the answer is unclear_intent")
    unclear_intent: str = UNCLEAR
    stages: list[Stage] = Field(default_factory=lambda: list(STAGES))
    semantic_flag: str = Field("semantic_stage", description="feature flag switching stage 4")
    semantic_neighbours: int = Field(1, ge=1, le=20, description="examples per intent averaged into its similarity (1: nearest)")
    semantic_floor: float = Field(0.82, ge=-1, le=1, description="cosine similarity mapped to confidence 0 (transliterated MiniLM, 5-fold on the examples: nearest example right 44% at ≥0.85, 68% at ≥0.90, 83% at ≥0.93)")
    semantic_ceiling: float = Field(0.97, ge=-1, le=1, description="cosine similarity mapped to semantic_max_confidence (with semantic_threshold 0.55 the stage decides at similarity ≥ ~0.907)")
    semantic_max_confidence: float = Field(0.95, gt=0, le=1)
    semantic_rerank: float = Field(1.0, ge=0, le=10, description="fallback: weight of (candidate's similarity − mean over candidates) added to its score")
    semantic_rescue: float = Field(0.9, ge=-1, le=1, description="when nothing else reaches min_confidence, the nearest example at this similarity or more still beats 'unclear'")
    top_k: int = Field(5, ge=1, le=20)
    agreement_bonus: float = Field(0.3, ge=0, le=1, description="fallback: share of the other stages' confidence added when they agree on an intent")

    @model_validator(mode="after")
    def _ordered(self) -> CascadeConfig:
        if not self.min_confidence <= self.medium_threshold <= self.high_threshold:
            raise ValueError("thresholds must satisfy min_confidence ≤ medium_threshold ≤ high_threshold")
        if self.semantic_floor >= self.semantic_ceiling:
            raise ValueError("semantic_floor must be below semantic_ceiling")
        return self

    def semantic_confidence(self, similarity: float, calibration: Calibration | None = None) -> float:
        """Cosine similarity → confidence on the keyword stages' scale (calibrated on examples);
        a trained model brings its own ``calibration``, the pretrained one uses these settings."""
        floor, ceiling = (calibration.floor, calibration.ceiling) if calibration else (self.semantic_floor, self.semantic_ceiling)
        share = (similarity - floor) / (ceiling - floor)
        return round(self.semantic_max_confidence * min(1.0, max(0.0, share)), 4)


class Cascade:
    """The five-stage classifier over loaded sections; thread-safe, lazily heavy."""

    def __init__(self, config: CascadeConfig, resources: Any) -> None:
        bundle = resources.bundle
        self.config = config
        self.resources = resources
        self.taxonomy: Taxonomy | None = bundle.section("intents")
        self.patterns: PatternSet = bundle.section("patterns") or PatternSet([])
        self.roots: RootScorer = bundle.section("roots") or RootScorer()
        self.lemmas: LemmaScorer = bundle.section("lemmas") or LemmaScorer()
        self.phase_rules = bundle.section("dialogue_context")
        self.enabled = set(config.stages)
        self._morph: Any = None
        self._semantic: SemanticIndex | None = None
        self._semantic_error: str | None = None
        self._encoder: IntentEncoder | None = None
        self._known: tuple[frozenset[str], frozenset[str]] | None = None
        self._lock = threading.Lock()

    # -- lazily built resources --------------------------------------------------------------
    def _lemma(self, word: str) -> str:
        if self._morph is None:
            self._morph = self.resources.get("morph")
        return str(self._morph.lemma(word))

    def semantic_index(self) -> SemanticIndex | None:
        if self._semantic is None and self._semantic_error is None:
            with self._lock:
                if self._semantic is None and self._semantic_error is None:
                    try:
                        taxonomy = self.taxonomy
                        encoder: IntentEncoder = self.resources.get("intent_encoder")
                        examples = [(intent, encoder.prepare_example(text)) for intent, text in (taxonomy.examples() if taxonomy is not None else [])]
                        digest = hashlib.sha256("\x1e".join(f"{intent}\x1f{text}" for intent, text in examples).encode()).hexdigest()[:16]
                        cache_dir = Path(self.resources.settings.embeddings.cache_dir)
                        self._semantic = SemanticIndex(encoder, examples, digest, cache_dir)
                        self._encoder = encoder
                    except Exception as exc:  # noqa: BLE001 - no model: the cascade serves without stage 4
                        self._semantic_error = f"{type(exc).__name__}: {exc}"
        return self._semantic

    def _overturn_on(self) -> bool:
        """Whether the semantic stage may replace roots/lemmas decisions (the model's calibration)."""
        self.semantic_index()
        calibration = self._encoder.calibration if self._encoder is not None else None
        return calibration is not None and calibration.overturn < 1.0

    def _guard(self, text: str, calibration: Calibration | None, stages: Mapping[str, Any], top: str | None, lead: str | None) -> tuple[str | None, bool]:
        """(why the model may not act, overturn or rescue for this message or None, may it vote).

        The model reads a bag of lemmas and their letter n-grams. Of a message made of words
        no example uses it knows only n-grams, and it does not see mood: «сколько у вас
        кассиров?» and «у нас двенадцать кассиров» are nearly the same bag to it."""
        if calibration is None or (not calibration.min_known and calibration.question_category is None):
            return None, True
        lemmas = (stages.get("lemmas") or {}).get("lemmas")
        if lemmas is None:  # a roots decision skipped the lemma stage
            lemmas = self.lemmas.lemmatize(text, self._lemma)
        if calibration.min_known:
            vocabulary, stop = self._known_words()
            content = [lemma for lemma in lemmas if lemma not in stop and len(lemma) > 1 and not lemma.isdigit()]
            known = sum(lemma in vocabulary for lemma in content)
            if content and known / len(content) < calibration.min_known:
                return f"known words {known}/{len(content)} < {calibration.min_known}", True
        category = calibration.question_category
        taxonomy = self.taxonomy
        if (category is not None and top is not None and lead is not None and taxonomy is not None
                and taxonomy.in_category(top, category) and not taxonomy.in_category(lead, category)):
            markers = calibration.question_markers
            if "?" not in text and not any(word in markers for word in (*tokenize(text), *lemmas)):
                return f"the keyword stages read a statement ({lead}), the message asks nothing, and {top} is a question ({category})", False
        return None, True

    def _known_words(self) -> tuple[frozenset[str], frozenset[str]]:
        """(every lemma of the taxonomy examples, the lemma stage's stop words): built once."""
        if self._known is None:
            lemmas = self.lemmas
            examples = self.taxonomy.examples() if self.taxonomy is not None else []
            vocabulary = frozenset(lemma for _intent, text in examples for lemma in lemmas.lemmatize(lemmas.prepare(text), self._lemma))
            self._known = (vocabulary, frozenset(lemmas.matcher.settings.stopwords) if lemmas.matcher is not None else frozenset())
        return self._known

    @staticmethod
    def _semantic_scores(index: SemanticIndex, encoder: IntentEncoder, prepared: str, neighbours: int) -> dict[str, float]:
        """Per-intent similarity: nearest examples, learned intent vectors, or a mix (calibration.scoring)."""
        calibration = encoder.calibration
        scoring = calibration.scoring if calibration else "examples"
        if scoring == "examples":
            return index.scores(prepared, neighbours)
        vectors = encoder.intent_scores(encoder.encode([prepared])[0])
        if not vectors:  # no intent matrix saved with this model: examples only
            return index.scores(prepared, neighbours)
        if scoring == "intents":
            return vectors
        weight = calibration.mix if calibration else 0.5
        examples = index.scores(prepared, neighbours)
        return {intent: (1 - weight) * value + weight * vectors.get(intent, value) for intent, value in examples.items()}

    # -- classification -------------------------------------------------------------------------
    def classify(self, text: str, context: Mapping[str, Any] | None = None, *, semantic: bool = True, run_all: bool = False) -> dict[str, Any]:
        """Classify normalised ``text``; returns intent, confidence and the per-stage record."""
        config = self.config
        context = dict(context or {})
        started = time.perf_counter()
        stages: dict[str, dict[str, Any]] = {}
        timings: dict[str, float] = {}
        best: dict[str, tuple[float, str]] = {}  # intent → (confidence, stage)
        support: dict[str, float] = {}  # intent → sum over stages of each stage's best confidence (agreement)
        per_stage: dict[str, dict[str, float]] = {}  # stage → intent → its best confidence there
        decided: tuple[str, float, str] | None = None
        pattern_text: str | None = None
        matched: str | None = None

        def offer(stage: str, ranked: list[tuple[str, float]]) -> None:
            # A stage offered twice (the pattern hit, then its ranking) counts once per intent:
            # agreement means other stages, not the same evidence again.
            seen = per_stage.setdefault(stage, {})
            for intent, confidence in ranked:
                previous = seen.get(intent, 0.0)
                if confidence > previous:
                    seen[intent] = confidence
                    support[intent] = support.get(intent, 0.0) + confidence - previous
                if confidence > best.get(intent, (0.0, ""))[0]:
                    best[intent] = (confidence, stage)

        def leader() -> tuple[str, float, str] | None:
            if not best:
                return None
            intent, (confidence, stage) = max(best.items(), key=lambda item: item[1][0])
            return intent, confidence, stage

        if "patterns" in self.enabled and text:
            t0 = time.perf_counter()
            hit, per_intent = self.patterns.best(text, context)
            ranked = sorted(per_intent.items(), key=lambda item: -item[1])[: config.top_k]
            timings["patterns"] = (time.perf_counter() - t0) * 1e6
            stages["patterns"] = {"top": [list(item) for item in ranked], "pattern": hit.rule.pattern if hit else None, "matched": hit.matched if hit else None}
            if hit is not None:
                pattern_text, matched = hit.rule.pattern, hit.matched
                offer("patterns", [(hit.rule.intent, hit.rule.confidence)])
                offer("patterns", ranked)
                if hit.rule.confidence >= config.high_threshold:
                    decided = (hit.rule.intent, hit.rule.confidence, "patterns")

        if "roots" in self.enabled and text and (decided is None or run_all):
            t0 = time.perf_counter()
            ranked, hits = self.roots.classify(text, config.top_k)
            timings["roots"] = (time.perf_counter() - t0) * 1e6
            stages["roots"] = {"top": [list(item) for item in ranked], "hits": hits}
            offer("roots", ranked)
            if decided is None and ranked and ranked[0][1] >= config.high_threshold:
                decided = (ranked[0][0], ranked[0][1], "roots")

        if "lemmas" in self.enabled and text and (decided is None or run_all):
            t0 = time.perf_counter()
            ranked, hits, lemmas, examples = self.lemmas.classify(text, self._lemma, config.top_k)
            timings["lemmas"] = (time.perf_counter() - t0) * 1e6
            stages["lemmas"] = {"top": [list(item) for item in ranked], "hits": hits, "lemmas": lemmas, "examples": [[hit.intent, hit.similarity, hit.example] for hit in examples[:3]]}
            offer("lemmas", ranked)
            if decided is None:
                lead = leader()
                if lead is not None and lead[1] >= config.medium_threshold:
                    decided = lead

        nearest: list[tuple[str, float]] = []
        similarity: dict[str, float] = {}
        vote: tuple[str, float] | None = None  # the model's top intent, seconding a keyword candidate
        blocked: str | None = None  # why the model may only vote (Cascade._guard)
        rescue, rerank = config.semantic_rescue, config.semantic_rerank
        overturnable = decided is not None and decided[2] in ("roots", "lemmas")
        if "semantic" in self.enabled and text and semantic and (decided is None or run_all or (overturnable and self._overturn_on())):
            t0 = time.perf_counter()
            index = self.semantic_index()
            encoder = self._encoder
            if index is None or encoder is None:
                stages["semantic"] = {"available": False, "error": self._semantic_error}
            else:
                calibration = encoder.calibration
                neighbours = calibration.neighbours if calibration else config.semantic_neighbours
                rescue = calibration.rescue if calibration else config.semantic_rescue
                rerank = calibration.rerank if calibration else config.semantic_rerank
                scores = self._semantic_scores(index, encoder, encoder.prepare_message(text), neighbours)
                similarity = scores
                nearest = sorted(scores.items(), key=lambda item: -item[1])[: config.top_k]
                ranked = [(intent, config.semantic_confidence(value, calibration)) for intent, value in nearest]
                stages["semantic"] = {"available": True, "top": [list(item) for item in ranked], "similarity": [[intent, round(value, 4)] for intent, value in nearest], "model": index.embedder.name, "source": encoder.source, "reason": encoder.reason}
                lead = leader()
                # Where the model is blind (unknown words; a question intent for a message that asks
                # nothing) it may only vote; the reason is traced.
                blocked, may_vote = self._guard(text, calibration, stages, ranked[0][0] if ranked else None, lead[0] if lead else None)
                if blocked:
                    stages["semantic"]["guard"] = blocked
                # A careful model speaks only where the keyword stages are weak (calibration.acts_below).
                acts = not blocked and (calibration is None or lead is None or lead[1] < calibration.acts_below)
                if acts:
                    offer("semantic", ranked[:1])
                elif calibration is not None and calibration.vote and ranked and may_vote:
                    vote = (ranked[0][0], calibration.vote * ranked[0][1])
                if acts and decided is None and ranked and ranked[0][1] >= config.semantic_threshold and (lead is None or ranked[0][1] > lead[1]):
                    decided = (ranked[0][0], ranked[0][1], "semantic")
                elif (
                    overturnable and not blocked and decided is not None and calibration and ranked and ranked[0][0] != decided[0] and ranked[0][1] >= calibration.overturn
                    and nearest[0][1] - scores.get(decided[0], -1.0) >= calibration.overturn_margin
                ):
                    # A confident model that disagrees with a weak keyword stage wins (chosen by CV).
                    stages["semantic"]["overturned"] = [decided[0], decided[2]]
                    decided = (ranked[0][0], ranked[0][1], "semantic")
            timings["semantic"] = (time.perf_counter() - t0) * 1e6

        if decided is None:
            # No stage was sure: stages that agree on an intent reinforce it.
            bonus = config.agreement_bonus
            fused = {intent: min(0.99, value[0] + bonus * (support.get(intent, value[0]) - value[0])) for intent, value in best.items()}
            if vote is not None and vote[0] in fused:
                # The model seconds one of the keyword candidates: agreement, never a decision of its own.
                fused[vote[0]] = min(0.99, fused[vote[0]] + vote[1])
            if similarity and len(fused) > 1 and rerank:
                # Among the keyword candidates, the one whose examples the message resembles most gains.
                candidates = list(fused)
                mean = sum(similarity.get(intent, 0.0) for intent in candidates) / len(candidates)
                fused = {intent: value + rerank * (similarity.get(intent, 0.0) - mean) for intent, value in fused.items()}
            lead_intent = max(fused, key=fused.__getitem__) if fused else None
            if lead_intent is not None and fused[lead_intent] >= config.min_confidence:
                decided = (lead_intent, fused[lead_intent], "fallback")
            elif nearest and nearest[0][1] >= rescue and not blocked:
                # Nothing else has any evidence: a close example is a better guess than "unclear".
                decided = (nearest[0][0], config.min_confidence, "semantic")
            else:
                decided = (config.unclear_intent, fused[lead_intent] if lead_intent else 0.0, "fallback")
        intent, confidence, stage = decided
        alternatives = sorted(((name, round(value[0], 4)) for name, value in best.items()), key=lambda item: -item[1])[: config.top_k]
        timings["total"] = (time.perf_counter() - started) * 1e6
        return {
            "intent": intent,
            "confidence": round(float(confidence), 4),
            "stage": stage,
            "pattern": pattern_text if stage == "patterns" else None,
            "matched": matched if stage == "patterns" else None,
            "alternatives": [list(item) for item in alternatives],
            "stages": stages,
            "timings_us": {name: round(value, 1) for name, value in timings.items()},
            "context": {key: value for key, value in context.items() if key != "last_bot_message"},
        }

    def explain(self, text: str, context: Mapping[str, Any] | None = None, *, semantic: bool = True) -> dict[str, Any]:
        """Every stage's view of ``text`` (no early exit) plus the real decision."""
        full = self.classify(text, context, semantic=semantic, run_all=True)
        decision = self.classify(text, context, semantic=semantic)
        full.update({key: decision[key] for key in ("intent", "confidence", "stage", "pattern", "matched")})
        return full


@register("classify.cascade")
class CascadeClassifier:
    """Five-stage intent cascade; writes ``intent``, ``intent_confidence``, ``classification``."""

    Config = CascadeConfig
    reads = frozenset({"text"}) | CONTEXT_READS
    writes = frozenset({"intent", "intent_confidence", "classification"})

    def __init__(self, config: CascadeConfig, resources: Any) -> None:
        self.config = config
        self.cascade = Cascade(config, resources)
        taxonomy = self.cascade.taxonomy
        if taxonomy is not None and len(taxonomy.intents) > 1 and config.unclear_intent not in taxonomy.intents:
            raise ValueError(f"unclear_intent '{config.unclear_intent}' is not in the taxonomy. {suggest(config.unclear_intent, taxonomy.intents)}".strip())

    def run(self, state: Mapping[str, Any], ctx: NodeContext) -> dict[str, Any]:
        result = self.cascade.classify(state.get("text") or "", derive_context(state, self.cascade.phase_rules), semantic=ctx.flag(self.config.semantic_flag))
        return {"intent": result.pop("intent"), "intent_confidence": result.pop("confidence"), "classification": result}
