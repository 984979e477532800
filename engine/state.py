"""Versioned, serialisable state: one turn's values and the conversation they build up."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["STATE_VERSION", "ConversationState", "TurnState", "CONVERSATION_PREFIX", "BASE_KEYS"]

STATE_VERSION = 1

#: Nodes read conversation fields as ``conv.<field>`` and may write them the same way
#: (if declared); the executor applies such writes to the conversation when the turn ends.
CONVERSATION_PREFIX = "conv."

#: Keys the runtime provides before the first node runs.
BASE_KEYS = frozenset(
    {
        "message",  # the raw client message (str, possibly empty)
        "turn_index",  # 1-based index of this turn in the conversation
        "turn_time",  # ISO timestamp of this turn (recorded, so replay sees the same clock)
        "dialogue_context",  # dict supplied by evaluation (state, last_action, ...) or {}
        "conversation_id",
        "error",  # set by the executor when a node with on_error=fallback fails
    }
)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


class ConversationState(BaseModel):
    """Everything a conversation carries from one turn to the next.

    Domain nodes keep their bookkeeping in the typed fields below; ``extra`` holds
    node-owned data that has no field yet (keys are node-family names).
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=False)

    version: int = STATE_VERSION
    conversation_id: str
    client_id: str | None = None
    flow: str = ""
    state: str = ""
    turn_count: int = 0
    started_at: str = Field(default_factory=_now)
    updated_at: str = Field(default_factory=_now)
    collected_data: dict[str, Any] = Field(default_factory=dict)
    context_window: list[dict[str, Any]] = Field(default_factory=list)
    counters: dict[str, int] = Field(default_factory=dict)
    frustration: float = 0.0
    lead_score: float = 0.0
    used_ctas: list[str] = Field(default_factory=list)
    used_variants: dict[str, list[int]] = Field(default_factory=dict)
    last_action: str = ""
    last_bot_message: str = ""
    last_intent: str = ""
    extra: dict[str, Any] = Field(default_factory=dict)

    def conv_values(self) -> dict[str, Any]:
        """Expose every field as a ``conv.<field>`` state key (shallow, no copies)."""
        return {CONVERSATION_PREFIX + name: getattr(self, name) for name in type(self).model_fields}


class TurnState(BaseModel):
    """The values of one turn: base keys plus whatever nodes wrote (by key)."""

    model_config = ConfigDict(extra="forbid")

    version: int = STATE_VERSION
    conversation_id: str
    turn_index: int
    values: dict[str, Any] = Field(default_factory=dict)

    @property
    def response(self) -> str:
        return str(self.values.get("response") or "")


CONVERSATION_KEYS = frozenset(CONVERSATION_PREFIX + name for name in ConversationState.model_fields)
