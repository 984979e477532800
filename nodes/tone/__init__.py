"""Tone nodes: the regex → semantic → LLM cascade and the frustration tracker."""
from __future__ import annotations

from nodes.tone.frustration import FrustrationTracker
from nodes.tone.llm import LLMTone
from nodes.tone.regex import RegexTone
from nodes.tone.semantic import SemanticTone

__all__ = ["FrustrationTracker", "LLMTone", "RegexTone", "SemanticTone"]
