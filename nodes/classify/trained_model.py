"""The intent embedding model trained from the project's own examples (section ``semantic_model``).

No Russian pretrained sentence model can be downloaded here, so — like Rasa's DIET, which
trains on ``nlu.yml`` — the semantic stage's model is trained from the taxonomy examples:

1. every example is normalised (the message normaliser) and lemmatised (pymorphy3, negations
   kept as ``не_<lemma>``), so word forms collapse onto one token; with
   ``tokenizer.char_ngrams`` each word also adds its letter n-grams as extra tokens
   (fastText-style), so a typo shares most of its pieces with the right word;
2. a ``tokenizers`` WordPiece vocabulary is built from that corpus — words, word starts and
   endings, letters — so typos and unseen forms keep their longest known piece;
3. a sentence-transformers ``StaticEmbedding`` (mean of trained token vectors) is trained in a
   plain seeded torch loop on CPU with ``training.objective``: ``pairs`` —
   MultipleNegativesRankingLoss (an example and another example of the same intent are a
   positive pair, the other intents of the batch the negatives); ``intents`` — DIET-style:
   a learned vector per intent, cross-entropy over the scaled cosines to all intents; ``both``;
4. the model is saved with ``model.save()`` under ``cache_dir/<key>``, the intent vectors
   beside it (``intent_matrix.npy`` + ``intent_labels.json``); the key hashes the prepared
   training texts, the settings and the library versions: editing an example or a setting
   retrains, nothing else does.

Settings (``yaml_config/nlu/semantic_model.yaml``) also carry the model's calibration: how the
cascade turns similarities into confidence and where the stage may decide (chosen by k-fold
cross-validation on the examples, ``evals/semantic_cv.py``).
"""
from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from engine.config import ConfigBundle, section
from engine.registry import suggest

__all__ = [
    "FORMAT_VERSION",
    "DISABLED",
    "Calibration",
    "SemanticModelSettings",
    "TrainingReport",
    "load_semantic_model_settings",
    "training_examples",
    "with_char_ngrams",
    "model_key",
    "model_dir",
    "train_model",
    "train_and_save",
    "save_intent_matrix",
    "load_intent_matrix",
]

#: Bumped when the corpus preparation or the training loop changes meaning (part of the key).
FORMAT_VERSION = 3
SETTINGS_FILE = "yaml_config/nlu/semantic_model.yaml"


class TokenizerSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    vocab_size: int = Field(default=20000, ge=100, le=200_000, description="most WordPiece pieces kept (words, word starts, endings, letters)")
    min_frequency: int = Field(default=1, ge=1, description="a subword must occur this often to enter the vocabulary")
    char_ngrams: int = Field(default=0, ge=0, le=5, description="n > 0: every word also contributes its letter n-grams (fastText-style, with word-boundary marks) as extra tokens, so typos and unseen forms share most of their pieces")


class TrainingSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    dimension: int = Field(default=256, ge=8, le=2048)
    epochs: int = Field(default=20, ge=1, le=1000)
    batch_size: int = Field(default=64, ge=4, le=1024, description="pairs per batch, each of a different intent")
    learning_rate: float = Field(default=0.01, gt=0, le=10)
    scale: float = Field(default=20.0, gt=0, description="MultipleNegativesRankingLoss temperature (cosine × scale)")
    token_dropout: float = Field(default=0.0, ge=0, lt=1, description="share of an example's tokens dropped at random each time it is used (augmentation)")
    objective: Literal["pairs", "intents", "both"] = Field(default="pairs", description="pairs: MultipleNegativesRankingLoss over example pairs; intents: DIET-style cross-entropy against one learned vector per intent; both: their sum")
    intent_scale: float = Field(default=20.0, gt=0, description="intents objective: cosine × scale are the logits of the softmax over all intents")
    intent_learning_rate: float = Field(default=0.01, gt=0, le=10, description="Adam learning rate of the intent matrix")
    seed: int = 13
    threads: int = Field(default=2, ge=1, le=64)


class Calibration(BaseModel):
    """Cosine similarities of this model mapped onto the cascade's confidence scale."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    floor: float = Field(default=0.5, ge=-1, le=1, description="similarity mapped to confidence 0")
    ceiling: float = Field(default=0.95, ge=-1, le=1, description="similarity mapped to the stage's maximum confidence")
    rescue: float = Field(default=0.8, ge=-1, le=1, description="with no other evidence, the nearest example at this similarity beats 'unclear'")
    neighbours: int = Field(default=1, ge=1, le=20, description="examples per intent averaged into its similarity (1: nearest)")
    rerank: float = Field(default=0.0, ge=0, le=10, description="fallback: weight of (candidate's similarity − mean over candidates) added to its score")
    scoring: Literal["examples", "intents", "mix"] = Field(default="examples", description="an intent's similarity: its nearest examples, its learned intent vector (objective intents/both), or mix")
    mix: float = Field(default=0.5, ge=0, le=1, description="scoring mix: weight of the intent-vector cosine (the rest: nearest examples)")
    overturn: float = Field(default=1.0, ge=0, le=1, description="the stage replaces a roots/lemmas decision it disagrees with at this confidence or more (1: never)")
    acts_below: float = Field(default=1.0, ge=0, le=1, description="the stage decides, or offers its intent to the fallback, only while the keyword stages' best confidence is below this (1: always)")
    overturn_margin: float = Field(default=0.0, ge=0, le=2, description="…and only if its top intent's similarity exceeds the replaced intent's by this much")
    vote: float = Field(default=0.0, ge=0, le=1, description="where the stage may not act: share of its top intent's confidence added to that intent in the fallback when a keyword stage also proposed it (0: off)")
    min_known: float = Field(default=0.0, ge=0, le=1, description="the stage acts, overturns or rescues only when at least this share of the message's content words occur in the examples (below, it reads letter n-grams of unknown words and only votes; 0: off)")
    question_category: str | None = Field(default=None, description="taxonomy category of question intents: the stage may not act, overturn or rescue with one of them when the message asks nothing (no «?», none of question_markers); None: off")
    question_markers: frozenset[str] = Field(default=frozenset(), description="words (as written or as lemmas) that make a message ask something without «?»")

    @model_validator(mode="after")
    def _ordered(self) -> Calibration:
        if self.floor >= self.ceiling:
            raise ValueError("floor must be below ceiling")
        return self


class SemanticModelSettings(BaseModel):
    """``yaml_config/nlu/semantic_model.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    version: int = 1
    enabled: bool = Field(default=True, description="false: the semantic stage uses the pretrained embeddings.model")
    cache_dir: str = Field(default=".spinflow/models", description="trained models, one folder per key (relative to the working directory)")
    train_on_first_use: bool = Field(default=True, description="train when the model for the current examples is missing (else fall back)")
    tokenizer: TokenizerSettings = Field(default_factory=TokenizerSettings)
    training: TrainingSettings = Field(default_factory=TrainingSettings)
    calibration: Calibration = Field(default_factory=Calibration)


#: The settings of a config dir without the file: no trained model.
DISABLED = SemanticModelSettings.model_validate({"enabled": False})


@section("semantic_model")
def load_semantic_model_settings(bundle: ConfigBundle) -> SemanticModelSettings:
    loaded = bundle.optional_model(SETTINGS_FILE, SemanticModelSettings)
    if loaded is None:
        return DISABLED  # absent file: the stage uses the pretrained model only (a config dir may opt out by omission)
    doc, parsed = loaded
    category = parsed.calibration.question_category
    taxonomy = bundle.section("intents")
    if category is not None and taxonomy is not None and category not in taxonomy.categories:
        bundle.add([doc.issue(("calibration", "question_category"), f"unknown intent category '{category}'",
                              suggest(category, sorted(taxonomy.categories)) or "Use a category of yaml_config/intents/ or a composed one (all_questions)")])
    return parsed


# -- corpus ------------------------------------------------------------------------------------
def training_examples(bundle: ConfigBundle, lemmatize: Callable[[str], str]) -> list[tuple[str, str]]:
    """(intent, prepared text) for every taxonomy example, prepared like a message."""
    taxonomy = bundle.section("intents")
    lemmas = bundle.section("lemmas")
    normalise = lemmas.prepare if lemmas is not None else (lambda text: text)
    examples = taxonomy.examples() if taxonomy is not None else []
    return [(intent, lemmatize(normalise(text))) for intent, text in examples]


def with_char_ngrams(text: str, size: int) -> str:
    """``text`` plus the letter ``size``-grams of its words as ``x``-marked tokens (0: unchanged).

    ``касса`` → ``касса x_ка xкас xасс xсса xса_`` (``_`` marks the word's edges; only word
    characters, so the tokenizer's whitespace/punctuation split keeps each gram whole). Applied
    to examples and messages alike (the saved model expects text prepared this way)."""
    if size <= 0:
        return text
    grams: list[str] = []
    for word in text.split():
        padded = f"_{word}_"
        if len(padded) > size:
            grams.extend("x" + padded[start:start + size] for start in range(len(padded) - size + 1))
    return " ".join([text, *grams]) if grams else text


def model_key(examples: Sequence[tuple[str, str]], settings: SemanticModelSettings) -> str:
    """Hash of everything the trained weights depend on."""
    import sentence_transformers
    import tokenizers
    import torch

    recipe = {
        "format": FORMAT_VERSION,
        "tokenizer": settings.tokenizer.model_dump(),
        "training": settings.training.model_dump(),
        "libraries": [sentence_transformers.__version__, tokenizers.__version__, torch.__version__.split("+")[0]],
    }
    digest = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode())
    for intent, text in examples:
        digest.update(f"{intent}\x1f{text}\x1e".encode())
    return digest.hexdigest()[:16]


def model_dir(settings: SemanticModelSettings, key: str) -> Path:
    return Path(settings.cache_dir).expanduser() / f"intents-{key}"


# -- training ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class TrainingReport:
    examples: int
    intents: int
    vocabulary: int
    steps: int
    seconds: float
    final_loss: float


def _train_tokenizer(texts: Sequence[str], settings: TokenizerSettings) -> Any:
    """A WordPiece tokenizer whose vocabulary is built deterministically from the corpus.

    (``tokenizers``' WordPiece trainer breaks ties in hash-map order, so its vocabulary changes
    from run to run.) Pieces: every word seen ``min_frequency`` times, the first 3+ letters of
    every word (an unseen form or a typo keeps its longest known start), and word endings of up
    to 3 letters plus single letters as ``##`` continuations. ``vocab_size`` caps the pieces,
    most frequent first.
    """
    from collections import Counter

    from tokenizers import Tokenizer, models, pre_tokenizers

    splitter = pre_tokenizers.Whitespace()
    counts: Counter[str] = Counter()
    for text in texts:
        for word, _span in splitter.pre_tokenize_str(text):
            counts[word] += 1
    pieces: Counter[str] = Counter()
    for word, count in counts.items():
        if count >= settings.min_frequency:
            pieces[word] += count
        for end in range(3, len(word)):
            pieces[word[:end]] += count
        for start in range(max(1, len(word) - 3), len(word)):
            pieces["##" + word[start:]] += count
        for letter in word:
            pieces[letter] += count
            pieces["##" + letter] += count
    ranked = sorted(pieces.items(), key=lambda item: (-item[1], item[0]))[: settings.vocab_size - 1]
    vocabulary = {"[UNK]": 0, **{piece: position for position, (piece, _count) in enumerate(sorted(ranked), start=1)}}
    tokenizer = Tokenizer(models.WordPiece(vocab=vocabulary, unk_token="[UNK]", max_input_chars_per_word=40))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    return tokenizer


def _pair_batches(labels: Sequence[str], batch_size: int, rng: random.Random) -> list[list[tuple[int, int]]]:
    """One epoch of (anchor, positive) index pairs, batched so no batch repeats an intent."""
    by_intent: dict[str, list[int]] = {}
    for position, intent in enumerate(labels):
        by_intent.setdefault(intent, []).append(position)
    pairs = []
    for rows in by_intent.values():
        if len(rows) < 2:
            continue
        for anchor in rows:
            positive = rng.choice([row for row in rows if row != anchor])
            pairs.append((anchor, positive))
    rng.shuffle(pairs)
    batches: list[list[tuple[int, int]]] = []
    pending = pairs
    while pending:
        batch: list[tuple[int, int]] = []
        seen: set[str] = set()
        rest = []
        for pair in pending:
            intent = labels[pair[0]]
            if intent in seen or len(batch) >= batch_size:
                rest.append(pair)
            else:
                seen.add(intent)
                batch.append(pair)
        if len(batch) < 2:
            break  # only one intent left: no negatives to learn from
        batches.append(batch)
        pending = rest
    return batches


def train_model(examples: Sequence[tuple[str, str]], settings: SemanticModelSettings, vocabulary_texts: Sequence[str] = ()) -> tuple[Any, TrainingReport]:
    """A ``SentenceTransformer`` (StaticEmbedding) trained on (intent, prepared text) pairs.

    With the ``intents`` objective the model also carries ``intent_labels`` and
    ``intent_matrix`` attributes (one L2-normalised row per intent, see ``save_intent_matrix``).
    """
    import torch
    import torch.nn.functional as F
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import StaticEmbedding

    started = time.perf_counter()
    train = settings.training
    texts = [text for _intent, text in examples]
    labels = [intent for intent, _text in examples]
    intent_names = sorted(set(labels))
    intent_index = {intent: position for position, intent in enumerate(intent_names)}
    use_pairs = train.objective in ("pairs", "both")
    use_intents = train.objective in ("intents", "both")
    random.seed(train.seed)
    torch.manual_seed(train.seed)
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(train.threads)
    try:
        tokenizer = _train_tokenizer([*texts, *vocabulary_texts], settings.tokenizer)
        static = StaticEmbedding(tokenizer, embedding_dim=train.dimension)
        with torch.no_grad():
            static.embedding.weight.normal_(0.0, 0.1)
        # Sparse gradients: a batch touches a few hundred of the vocabulary's rows, and a dense
        # Adam step over the whole table was 37 ms of a 63 ms step.
        static.embedding.sparse = True
        model = SentenceTransformer(modules=[static], device="cpu")
        optimizers: list[Any] = [torch.optim.SparseAdam(list(model.parameters()), lr=train.learning_rate)]
        intent_matrix = torch.nn.Parameter(torch.randn(len(intent_names), train.dimension) * 0.1)
        if use_intents:
            optimizers.append(torch.optim.Adam([intent_matrix], lr=train.intent_learning_rate))
        encodings = tokenizer.encode_batch(texts, add_special_tokens=False)
        ids = torch.tensor([token for encoding in encodings for token in encoding.ids], dtype=torch.long)
        lengths = [len(encoding.ids) for encoding in encodings]
        starts = [0]
        for length in lengths[:-1]:
            starts.append(starts[-1] + length)
        rng = random.Random(train.seed)
        generator = torch.Generator().manual_seed(train.seed)
        steps, last = 0, 0.0
        model.train()
        for _epoch in range(train.epochs):
            for batch in _pair_batches(labels, train.batch_size, rng):
                anchors, positives = (
                    F.normalize(model(_gather(ids, starts, lengths, [pair[side] for pair in batch], train.token_dropout, generator))["sentence_embedding"], dim=-1)
                    for side in (0, 1)
                )
                loss = torch.zeros(())
                if use_pairs:
                    # MultipleNegativesRankingLoss (query → document): the other pairs of the
                    # batch, all of other intents, are the negatives.
                    loss = loss + F.cross_entropy(train.scale * anchors @ positives.T, torch.arange(len(batch)))
                if use_intents:
                    # DIET-style: every example is pulled to its intent's vector and away from all others.
                    targets = torch.tensor([intent_index[labels[pair[0]]] for pair in batch] * 2)
                    logits = train.intent_scale * torch.cat([anchors, positives]) @ F.normalize(intent_matrix, dim=-1).T
                    loss = loss + F.cross_entropy(logits, targets)
                for optimizer in optimizers:
                    optimizer.zero_grad()
                loss.backward()
                for optimizer in optimizers:
                    optimizer.step()
                steps += 1
                last = float(loss.detach())
        model.eval()
    finally:
        torch.set_num_threads(previous_threads)
    if use_intents:
        # Plain attributes (not parameters) read by save_intent_matrix.
        object.__setattr__(model, "intent_labels", intent_names)
        object.__setattr__(model, "intent_matrix", F.normalize(intent_matrix.detach(), dim=-1).numpy().astype("float32"))
    report = TrainingReport(len(texts), len(set(labels)), tokenizer.get_vocab_size(), steps, round(time.perf_counter() - started, 2), round(last, 4))
    return model, report


def _gather(ids: Any, starts: Sequence[int], lengths: Sequence[int], rows: Sequence[int], dropout: float = 0.0, generator: Any = None) -> dict[str, Any]:
    """EmbeddingBag features (flat ids + offsets) for a subset of pre-tokenised rows, each row
    losing a random ``dropout`` share of its tokens (never all of them)."""
    import torch

    pieces = [ids[starts[row]:starts[row] + lengths[row]] if lengths[row] else torch.zeros(1, dtype=torch.long) for row in rows]
    if dropout:
        kept = []
        for piece in pieces:
            mask = torch.rand(len(piece), generator=generator) >= dropout
            kept.append(piece[mask] if bool(mask.any()) else piece)
        pieces = kept
    offsets = torch.tensor([0, *torch.cumsum(torch.tensor([len(piece) for piece in pieces[:-1]]), 0).tolist()], dtype=torch.long)
    return {"input_ids": torch.cat(pieces), "offsets": offsets}


INTENT_MATRIX_FILE = "intent_matrix.npy"
INTENT_LABELS_FILE = "intent_labels.json"


def save_intent_matrix(model: Any, folder: Path) -> None:
    """Write the intent vectors beside the sentence-transformers files (nothing if none)."""
    import numpy as np

    matrix = getattr(model, "intent_matrix", None)
    if matrix is None:
        return
    np.save(folder / INTENT_MATRIX_FILE, matrix, allow_pickle=False)
    (folder / INTENT_LABELS_FILE).write_text(json.dumps(list(model.intent_labels), ensure_ascii=False), encoding="utf-8")


def load_intent_matrix(folder: str | Path) -> tuple[list[str], Any] | None:
    """(intent labels, L2-normalised matrix) saved beside a model, or None."""
    import numpy as np

    folder = Path(folder)
    if not (folder / INTENT_MATRIX_FILE).exists():
        return None
    labels = json.loads((folder / INTENT_LABELS_FILE).read_text(encoding="utf-8"))
    matrix = np.load(folder / INTENT_MATRIX_FILE, allow_pickle=False)
    if matrix.ndim != 2 or matrix.shape[0] != len(labels):
        raise ValueError(f"{folder / INTENT_MATRIX_FILE}: {matrix.shape[0]} rows for {len(labels)} intents")
    return list(labels), matrix


def train_and_save(examples: Sequence[tuple[str, str]], settings: SemanticModelSettings, key: str) -> tuple[Path, TrainingReport]:
    """Train and save atomically (a temporary folder renamed into place)."""
    target = model_dir(settings, key)
    model, report = train_model(examples, settings)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    shutil.rmtree(temporary, ignore_errors=True)
    model.save(str(temporary), create_model_card=False)
    save_intent_matrix(model, temporary)
    (temporary / "spinflow_training.json").write_text(json.dumps({"key": key, **report.__dict__}, indent=2), encoding="utf-8")
    try:
        os.replace(temporary, target)
    except OSError:  # another process saved the same key first: its model is equivalent
        shutil.rmtree(temporary, ignore_errors=True)
    return target, report
