"""Dialogue context: the window of recent turns, the envelope of facts, and their vocabulary."""
from __future__ import annotations

from nodes.context import config  # noqa: F401  (section registration)
from nodes.context.envelope import ContextEnvelope
from nodes.context.window import ContextWindow

__all__ = ["ContextEnvelope", "ContextWindow"]
