"""Helpers for tone tests: a private config (the shipped tone YAML, optionally with private
reference examples), the tone_only graph run through ``Runtime``, and a deterministic fake
sentence embedder (character trigrams hashed into a vector) standing in for the model."""
from __future__ import annotations

import re
import shutil
import textwrap
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from engine.config import default_config_dir
from engine.runtime import Runtime
from engine.state import ConversationState

__all__ = ["SHIPPED", "PRIVATE_REFERENCES", "FakeEmbedder", "BrokenEmbedder", "write_tone_config", "tone_runtime", "fresh_turn"]

SHIPPED = default_config_dir()


class FakeEmbedder:
    """Bag of hashed character trigrams, L2-normalised: texts sharing words are similar."""

    name = "fake-trigrams"

    def __init__(self, dim: int = 512) -> None:
        self.dim = dim
        self.calls: list[int] = []

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(len(texts))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            padded = f"  {text.lower()} "
            for start in range(len(padded) - 2):
                out[row, zlib.crc32(padded[start:start + 3].encode()) % self.dim] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-9)


class BrokenEmbedder:
    """A model that cannot load (what a missing package looks like at the first encode)."""

    name = "broken"

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        raise OSError("model weights not found")


def write_tone_config(root: Path, *, references: str | None = None, edit: dict[str, str] | None = None) -> Path:
    """A private copy of the shipped config (graphs/, rules/, yaml_config/) without a disk
    cache for embeddings.

    ``references`` replaces every shipped tone references file with this one YAML text;
    ``edit`` maps a file under yaml_config/tone/ to a new text.
    """
    for sub in ("graphs", "rules", "yaml_config"):
        if (SHIPPED / sub).is_dir():
            shutil.copytree(SHIPPED / sub, root / sub)
    tone_dir = root / "yaml_config" / "tone"
    if references is not None:
        for path in tone_dir.glob("references*.yaml"):
            path.unlink()
        (tone_dir / "references.yaml").write_text(textwrap.dedent(references), encoding="utf-8")
    for name, text in (edit or {}).items():
        (tone_dir / name).write_text(textwrap.dedent(text), encoding="utf-8")
    settings = root / "yaml_config" / "settings.yaml"
    text = settings.read_text(encoding="utf-8")
    # Fake embeddings must not land in (or come from) the shared on-disk cache.
    settings.write_text(re.sub(r"(?m)^embeddings:[ \t]*\n", "embeddings:\n  cache_dir: ''\n", text, count=1), encoding="utf-8")
    return root


_RUNTIMES: dict[tuple[str, tuple[tuple[str, bool], ...]], Runtime] = {}


def tone_runtime(root: Path, *, embedder: Any | None = None, llm: Any | None = None, sessions: Path | None = None, fresh: bool = False, **flags: bool) -> Runtime:
    """``Runtime`` over ``root``'s tone_only graph with fakes injected at the process boundary.

    Loading a whole config takes seconds, so runtimes are shared per (config, flags) unless
    ``fresh`` or ``sessions`` is given; the injected fakes are replaced on every call. A
    shared runtime's reference vectors come from the first fake embedder it saw (every
    ``FakeEmbedder`` encodes alike).
    """
    key = (str(root), tuple(sorted(flags.items())))
    runtime = None if fresh or sessions is not None else _RUNTIMES.get(key)
    if runtime is None:
        runtime = Runtime(root, "tone_only", trace=False, sessions_dir=sessions or root / "sessions", flag_overrides=flags)
        if not fresh and sessions is None:
            _RUNTIMES[key] = runtime
    resources = runtime.bundle.resources
    resources.provide("embedder", embedder if embedder is not None else FakeEmbedder())
    if llm is not None:
        resources.provide("llm", llm)
    else:
        resources.overrides.pop("llm", None)
    return runtime


def fresh_turn(runtime: Runtime, message: str, **conversation: Any) -> Any:
    """One turn of a new conversation (no session file)."""
    state = ConversationState(conversation_id="test-tone", **conversation)
    return runtime.run(state, message)


#: Small references with distinctive wording, so the fake embedder's nearest group is clear.
PRIVATE_REFERENCES = """\
    version: 1
    source: tests
    groups:
      - id: t_neutral
        tone: neutral
        examples:
          - у нас магазин продуктов
          - у нас магазин одежды в центре
          - магазин продуктов у дома
      - id: t_rushed
        tone: rushed
        examples:
          - по-шустрому оформляйте договор
          - шустрее оформляйте договор
          - оформляйте по-шустрому
      - id: t_skeptical
        tone: skeptical
        examples:
          - ага, знаем мы эти сказочки
          - сказочки рассказываете
          - опять сказочки
"""
