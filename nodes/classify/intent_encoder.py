"""Resource ``intent_encoder``: the semantic stage's model — trained from our examples, else pretrained.

Order of preference:

1. the model trained from the taxonomy examples (``trained_model``), loaded from its cache
   folder when the key of the current examples + settings is present, else trained on first
   use when ``semantic_model.train_on_first_use`` is on (StaticEmbedding trains in seconds);
2. the pretrained ``embedder`` resource (``embeddings.model``, English MiniLM here), fed
   transliterated text.

Either way ``source`` and ``reason`` say which model serves and why; the cascade copies them
into its semantic stage record, so ``spinflow explain`` and the trace show them.
"""
from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from engine.resources import resource
from nodes.classify.lemmas import LemmaScorer
from nodes.classify.semantic import Embedder
from nodes.classify.trained_model import (
    DISABLED,
    Calibration,
    SemanticModelSettings,
    load_intent_matrix,
    model_dir,
    model_key,
    train_and_save,
    training_examples,
    with_char_ngrams,
)
from nodes.classify.translit import Transliterator

__all__ = ["IntentEncoder", "StaticModelEncoder", "build_intent_encoder", "trained_model_status"]


@dataclass
class IntentEncoder:
    """An embedder plus how to prepare examples and messages for it."""

    embedder: Embedder
    source: Literal["trained", "pretrained"]
    reason: str
    prepare_example: Callable[[str], str]
    prepare_message: Callable[[str], str]
    calibration: Calibration | None = None  # None: the cascade's own semantic_* settings
    name: str = ""

    def __post_init__(self) -> None:
        self.name = self.embedder.name

    def encode(self, texts: Sequence[str]) -> Any:
        return self.embedder.encode(texts)

    def intent_scores(self, vector: Any) -> dict[str, float]:
        """Cosine of an encoded message to each learned intent vector ({} without a matrix)."""
        loaded = getattr(self.embedder, "intent_matrix", None)
        if loaded is None:
            return {}
        labels, matrix = loaded
        return dict(zip(labels, (matrix @ vector).tolist(), strict=True))


class StaticModelEncoder:
    """A saved sentence-transformers StaticEmbedding model, encoded without the encode() loop.

    The folder is loaded with ``SentenceTransformer`` (so it is a real, portable model); its
    token table and tokenizer are then used directly — the mean of the message's token rows,
    L2-normalised, which is exactly what the module computes — because ``encode()`` costs
    ~1 ms of batching overhead per call and the arithmetic costs microseconds.
    """

    def __init__(self, name: str, path: str) -> None:
        self.name = name
        self.path = path
        self._table: Any = None
        self._tokenizer: Any = None
        self._intents: tuple[list[str], Any] | None = None
        self._lock = threading.Lock()

    def _load(self) -> None:
        with self._lock:
            if self._table is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                from sentence_transformers import SentenceTransformer

                module: Any = SentenceTransformer(self.path, device="cpu")[0]
                self._tokenizer = module.tokenizer
                self._intents = load_intent_matrix(self.path)
                self._table = module.embedding.weight.detach().cpu().numpy().astype("float32")

    @property
    def intent_matrix(self) -> tuple[list[str], Any] | None:
        """(labels, matrix) of the DIET-style intent vectors saved with the model, if any."""
        if self._table is None:
            self._load()
        return self._intents

    def encode(self, texts: Sequence[str]) -> Any:
        import numpy as np

        if self._table is None:
            self._load()
        out = np.zeros((len(texts), self._table.shape[1]), dtype="float32")
        # One text (a message) skips encode_batch's thread-pool hand-off.
        encodings = [self._tokenizer.encode(texts[0], add_special_tokens=False)] if len(texts) == 1 else self._tokenizer.encode_batch(list(texts), add_special_tokens=False)
        for row, encoding in enumerate(encodings):
            if encoding.ids:
                vector = self._table[encoding.ids].mean(0)
                norm = float(np.linalg.norm(vector))
                out[row] = vector / norm if norm else vector
        return out


def _lemmatizer(resources: Any) -> Callable[[str], str]:
    scorer: LemmaScorer = resources.bundle.section("lemmas") or LemmaScorer()
    morph = resources.get("morph")
    return lambda text: " ".join(scorer.lemmatize(text, morph.lemma)) or text


def _model_text(resources: Any) -> Callable[[str], str]:
    """Normalised text → what the trained model reads: lemmas, plus letter n-grams if configured."""
    settings: SemanticModelSettings = resources.bundle.section("semantic_model") or DISABLED
    lemmatize, size = _lemmatizer(resources), settings.tokenizer.char_ngrams
    return lambda text: with_char_ngrams(lemmatize(text), size)


def trained_model_status(resources: Any, *, train: bool) -> tuple[str | None, str]:
    """(model folder or None, reason) for the current examples; trains if ``train`` and missing."""
    settings: SemanticModelSettings = resources.bundle.section("semantic_model") or DISABLED
    if not settings.enabled:
        return None, "semantic_model.enabled is false (yaml_config/nlu/semantic_model.yaml)"
    examples = training_examples(resources.bundle, _model_text(resources))
    if len({intent for intent, _text in examples}) < 2:
        return None, "fewer than two intents with examples: nothing to train"
    key = model_key(examples, settings)
    folder = model_dir(settings, key)
    if (folder / "modules.json").exists():
        return str(folder), f"trained model {folder.name} (cached)"
    if not train:
        return None, f"no trained model for the current examples ({folder} is missing; run `spinflow train`)"
    started = time.perf_counter()
    folder, report = train_and_save(examples, settings, key)
    return str(folder), f"trained model {folder.name} (trained on first use in {time.perf_counter() - started:.1f} s, {report.examples} examples)"


@resource("intent_encoder")
def build_intent_encoder(resources: Any) -> IntentEncoder:
    settings: SemanticModelSettings = resources.bundle.section("semantic_model") or DISABLED
    try:
        folder, reason = trained_model_status(resources, train=settings.train_on_first_use)
    except Exception as exc:  # noqa: BLE001 - training or loading failed: the pretrained model serves
        folder, reason = None, f"trained model unavailable ({type(exc).__name__}: {exc})"
    if folder is not None:
        lemmatize = _model_text(resources)
        lemmas: LemmaScorer = resources.bundle.section("lemmas") or LemmaScorer()
        name = f"trained/{folder.rstrip('/').split('/')[-1]}"
        return IntentEncoder(StaticModelEncoder(name, folder), "trained", reason, lambda text: lemmatize(lemmas.prepare(text)), lemmatize, settings.calibration)
    translit: Transliterator = resources.bundle.section("translit") or Transliterator()
    lemmas = resources.bundle.section("lemmas") or LemmaScorer()
    # The English-trained embedder shares subwords only with transliterated Russian.
    return IntentEncoder(resources.get("embedder"), "pretrained", reason, lambda text: translit(lemmas.prepare(text)), translit)
