"""Reference examples per tone (``yaml_config/tone/references*.yaml``) and their embedding index.

Section ``tone_references``. Examples come in *groups*: one tone, one register of speech
(a group of our own sales-chat sentences, a group picked from the CEDR train split, …),
because a tone's examples from different registers do not share one centroid. A group's
score for a message blends its centroid cosine with the mean of its ``top_k`` nearest
examples; a tone's score is its best group plus a bias; probabilities are a softmax with a
temperature (all from ``tones.yaml``'s ``semantic`` block).

Nothing is encoded before the first message: the matrix is built on first use through the
shared ``embedder`` resource, disk-cached under ``settings.embeddings.cache_dir`` by model
name + texts hash.
"""
from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from engine.config import ConfigBundle, section, validate_model
from nodes.tone.catalogue import SemanticScoring, ToneCatalogue, unknown_tone_issue

__all__ = ["REFERENCES_GLOB", "ReferenceGroup", "ReferenceIndex", "SemanticScores", "encode_cached", "load_references"]

REFERENCES_GLOB = "yaml_config/tone/references*.yaml"


class _Group(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    tone: str
    description: str = ""
    examples: list[str] = Field(min_length=1)


class ReferencesFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    version: Literal[1] = 1
    source: str = Field(default="", description="where the examples come from (and their licence)")
    groups: list[_Group] = Field(default_factory=list)


@dataclass(frozen=True)
class ReferenceGroup:
    id: str
    tone: str
    examples: tuple[str, ...]
    file: str


@dataclass(frozen=True)
class SemanticScores:
    """Per-tone probabilities, the best group per tone and the nearest examples."""

    probabilities: dict[str, float]
    best_groups: dict[str, str]
    nearest: list[dict[str, Any]]


class ReferenceIndex:
    """Embeds all reference examples once and scores messages against the groups."""

    def __init__(self, groups: Sequence[ReferenceGroup], scoring: SemanticScoring) -> None:
        self.groups = list(groups)
        self.scoring = scoring
        self.texts = [text for group in self.groups for text in group.examples]
        self._owner = np.array([index for index, group in enumerate(self.groups) for _ in group.examples], dtype=np.int32)
        self._bounds: list[tuple[int, int]] = []
        position = 0
        for group in self.groups:
            self._bounds.append((position, position + len(group.examples)))
            position += len(group.examples)
        self.tones = list(dict.fromkeys(group.tone for group in self.groups))
        self._matrix: np.ndarray | None = None
        self._centroids: np.ndarray | None = None
        self._lock = threading.Lock()

    def ensure(self, embedder: Any, cache_dir: str | Path | None = None) -> None:
        """Encode the references (once; thread-safe; disk-cached under ``cache_dir``)."""
        if self._matrix is not None:
            return
        with self._lock:
            if self._matrix is not None:
                return
            matrix = encode_cached(embedder, self.texts, cache_dir, "tone-references")
            centroids = np.stack([matrix[start:end].mean(axis=0) for start, end in self._bounds])
            centroids /= np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-9)
            self._centroids = centroids.astype(np.float32)
            self._matrix = matrix

    def score(self, vector: np.ndarray, nearest: int = 3) -> SemanticScores:
        """Score one L2-normalised message vector (call ``ensure`` first)."""
        assert self._matrix is not None and self._centroids is not None, "ReferenceIndex.ensure() was not called"
        scoring = self.scoring
        # einsum, not ``@``: a matrix-vector product this small loses more to BLAS worker
        # threads fighting over two busy cores than it gains from them.
        sims = np.einsum("ij,j->i", self._matrix, vector)
        centroid_sims = np.einsum("ij,j->i", self._centroids, vector)
        tone_scores: dict[str, float] = {}
        best_groups: dict[str, str] = {}
        for index, (group, (start, end)) in enumerate(zip(self.groups, self._bounds, strict=True)):
            group_sims = sims[start:end]
            k = min(scoring.top_k, end - start)
            top = float(np.partition(group_sims, -k)[-k:].mean())
            value = scoring.centroid_weight * float(centroid_sims[index]) + (1.0 - scoring.centroid_weight) * top
            if value > tone_scores.get(group.tone, -np.inf):
                tone_scores[group.tone] = value
                best_groups[group.tone] = group.id
        for tone in tone_scores:
            tone_scores[tone] += scoring.bias.get(tone, 0.0)
        names = list(tone_scores)
        logits = np.array([tone_scores[name] for name in names]) / scoring.temperature
        logits -= logits.max()
        weights = np.exp(logits)
        probabilities = weights / weights.sum()
        count = min(nearest, len(sims))
        candidates = np.argpartition(-sims, count - 1)[:count] if count < len(sims) else np.arange(len(sims))
        order = candidates[np.argsort(-sims[candidates])]
        near = [{"text": self.texts[i][:120], "group": self.groups[int(self._owner[i])].id, "similarity": round(float(sims[i]), 4)} for i in order]
        return SemanticScores({name: float(p) for name, p in zip(names, probabilities, strict=True)}, best_groups, near)


def encode_cached(embedder: Any, texts: Sequence[str], cache_dir: str | Path | None, namespace: str) -> np.ndarray:
    """``embedder.encode(texts)`` as float32, cached as ``.npy`` keyed by model name + texts.

    A torn or foreign cache file is rebuilt; an unwritable cache dir costs time only.
    """
    name = str(getattr(embedder, "name", type(embedder).__name__))
    path = None
    if cache_dir:  # None or "" (settings.embeddings.cache_dir: '') means no disk cache
        digest = hashlib.sha256(name.encode())
        for text in texts:
            digest.update(b"\x1e" + text.encode())
        path = Path(cache_dir) / f"{namespace}-{digest.hexdigest()[:20]}.npy"
        try:
            cached = np.load(path, allow_pickle=False)
            if cached.ndim == 2 and cached.shape[0] == len(texts):
                return cached.astype(np.float32, copy=False)
        except (OSError, ValueError):
            pass
    matrix = np.asarray(embedder.encode(list(texts)), dtype=np.float32)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npy")
            np.save(temporary, matrix)
            os.replace(temporary, path)
        except OSError:
            pass
    return matrix


@section("tone_references")
def load_references(bundle: ConfigBundle) -> ReferenceIndex | None:
    """Load every references file; absent → None. The index is built, not encoded."""
    catalogue: ToneCatalogue | None = bundle.section("tone_catalogue")
    docs = bundle.glob(REFERENCES_GLOB)
    if catalogue is None or not docs:
        return None
    groups: list[ReferenceGroup] = []
    seen: dict[str, str] = {}
    for doc in docs:
        raw: dict[str, Any] = doc.data if isinstance(doc.data, dict) else {}
        groups_value = raw.get("groups")
        raw_groups: list[Any] = groups_value if isinstance(groups_value, list) else []
        # The file without its groups, then group by group: one bad group hides nothing else.
        spec, issues = validate_model(doc, ReferencesFile, {**raw, "groups": []})
        bundle.add(issues)
        if not isinstance(raw.get("groups", []), list):
            bundle.add([doc.issue(("groups",), "must be a list of groups", "Write - {id, tone, examples: [...]}")])
        for index, entry in enumerate(raw_groups):
            where = ("groups", index)
            group, group_issues = validate_model(doc, _Group, entry, where)
            bundle.add(group_issues)
            if group is None:
                continue
            if group.id in seen:
                bundle.add([doc.issue(where + ("id",), f"group id '{group.id}' is already used in {seen[group.id]}", "Give every group its own id")])
                continue
            seen[group.id] = doc.file
            if group.tone not in catalogue.tones:
                bundle.add([unknown_tone_issue(doc, where + ("tone",), group.tone, catalogue)])
                continue
            examples = [" ".join(text.split()) for text in group.examples]
            for position, text in enumerate(examples):
                if not text:
                    bundle.add([doc.issue(where + ("examples", position), "empty example", "Remove it")])
            groups.append(ReferenceGroup(group.id, group.tone, tuple(text.lower().replace("ё", "е") for text in examples if text), doc.file))
    if not groups:
        return None
    return ReferenceIndex(groups, catalogue.semantic)

