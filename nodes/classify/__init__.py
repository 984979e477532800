"""Intent classification: taxonomy, pattern/root/lemma/semantic stages and the cascade node."""
from __future__ import annotations

from nodes.classify import lemmas, morphology, roots, semantic, taxonomy  # noqa: F401  (sections, resources)
from nodes.classify.cascade import CascadeClassifier
from nodes.classify.llm import LLMClassifier
from nodes.classify.patterns import PatternClassifier

__all__ = ["CascadeClassifier", "LLMClassifier", "PatternClassifier"]
