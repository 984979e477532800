"""Intent classification nodes."""
from __future__ import annotations

from nodes.classify.patterns import PatternClassifier

__all__ = ["PatternClassifier"]
