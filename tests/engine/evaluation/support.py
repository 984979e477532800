"""Helpers shared by the evaluation and replay tests."""
from __future__ import annotations

from pathlib import Path

from engine.config import ConfigBundle, default_config_dir

__all__ = ["SMALL", "fast_flags"]

SMALL = Path(__file__).parent / "data" / "small_dialogues.yaml"

# Stages that load a sentence-transformer (seconds per process, ~100 ms per call on this machine).
# These tests are about evaluation and replay, not about embeddings, so they switch them off.
_EMBEDDING_FLAGS = ("semantic_stage", "kb_semantic", "tone_semantic")


def fast_flags() -> dict[str, bool]:
    """Overrides switching the embedding stages off (only flags the shipped settings declare)."""
    declared = ConfigBundle(default_config_dir()).settings.feature_flags
    return {name: False for name in _EMBEDDING_FLAGS if name in declared}
