"""Helpers for understanding tests (normalize, classify, extract): the classify_only graph on
the shipped config or on a private copy, and a deterministic fake sentence embedder."""
from __future__ import annotations

import functools
import hashlib
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from engine.config import default_config_dir
from engine.executor import TurnResult
from engine.runtime import Runtime
from engine.state import ConversationState

__all__ = ["SHIPPED", "copy_config", "classify_runtime", "understand", "intent_and_stage", "FakeEmbedder"]

SHIPPED = default_config_dir()


def copy_config(target: Path) -> Path:
    """A private, editable copy of graphs/, rules/ and yaml_config/."""
    for sub in ("graphs", "rules", "yaml_config"):
        shutil.copytree(SHIPPED / sub, target / sub)
    return target


@functools.cache
def classify_runtime(semantic: bool = False) -> Runtime:
    """The shipped config's classify_only graph, untraced (one per flag value per process)."""
    return Runtime(SHIPPED, "classify_only", trace=False, flag_overrides={"semantic_stage": semantic})


def understand(runtime: Runtime, message: str, context: dict[str, Any] | None = None, **conversation: Any) -> TurnResult:
    """One turn of a fresh conversation through ``runtime``."""
    state = ConversationState(conversation_id="test-nlu", flow=runtime.bundle.settings.flow, **conversation)
    return runtime.run(state, message, dialogue_context=context)


def intent_and_stage(message: str, context: dict[str, Any] | None = None) -> tuple[str, str]:
    """(intent, deciding stage) of ``message`` on the shipped classify_only graph."""
    result = understand(classify_runtime(), message, context)
    return result.values["intent"], result.values["classification"]["stage"]


class FakeEmbedder:
    """Stands in for a sentence-transformers model: character-trigram hashing, L2-normalised.

    Identical texts get cosine 1.0, texts sharing most trigrams get high similarity; that is
    all the semantic stage's logic needs to be exercised without loading torch.
    """

    name = "fake-trigram-embedder"

    def __init__(self, dim: int = 512) -> None:
        self.dim = dim
        self.calls = 0

    def encode(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        out = np.zeros((len(texts), self.dim), dtype="float32")
        for row, text in enumerate(texts):
            padded = f"  {text.lower()}  "
            for i in range(len(padded) - 2):
                bucket = int.from_bytes(hashlib.blake2b(padded[i:i + 3].encode(), digest_size=4).digest(), "little") % self.dim
                out[row, bucket] += 1.0
            norm = float(np.linalg.norm(out[row]))
            if norm:
                out[row] /= norm
        return out
