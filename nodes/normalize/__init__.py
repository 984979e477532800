"""Text normalisation nodes."""
from __future__ import annotations

from nodes.normalize.text import NormalizeText

__all__ = ["NormalizeText"]
