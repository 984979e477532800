"""Conversation guard: loops, stalls and limits → interventions."""
from __future__ import annotations

from nodes.guard.conversation import ConversationGuard

__all__ = ["ConversationGuard"]
