"""Text normalisation nodes."""
from __future__ import annotations

from nodes.normalize import lexicon  # noqa: F401  (section "normalization")
from nodes.normalize.text import NormalizeText

__all__ = ["NormalizeText"]
