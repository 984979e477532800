"""``context.window``: the last N turns of the conversation, one entry per client message.

An entry is written when the message arrives (turn, text, intent, confidence, the state
it arrived in, how many data fields and completed phases there were) and completed on the next turn with what
the bot did (action, next state, reply) from the committed conversation, so that the
window has a single writer and never needs a node after the responder.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.errors import ConfigError, ConfigIssue
from engine.node import NodeConfig, NodeContext
from engine.registry import register
from nodes.context.config import FILE, ContextSettings

__all__ = ["ContextWindow", "known_fields"]


def known_fields(collected: Mapping[str, Any] | None) -> list[str]:
    """Collected-data fields that hold a value (empty strings, lists and None do not count)."""
    return sorted(name for name, value in (collected or {}).items() if value not in (None, "", [], {}))


def _fsm_memory(extra: Any) -> Mapping[str, Any]:
    memory = extra.get("fsm") if isinstance(extra, Mapping) else None
    return memory if isinstance(memory, Mapping) else {}


class ContextWindowConfig(NodeConfig):
    pass


@register("context.window")
class ContextWindow:
    """Appends this turn to ``conv.context_window`` and completes the previous entry."""

    Config = ContextWindowConfig
    reads = frozenset({"text", "message", "intent", "intent_confidence", "turn_index", "conv.context_window", "conv.state", "conv.last_action", "conv.last_bot_message", "conv.collected_data", "conv.extra"})
    writes = frozenset({"conv.context_window"})

    def __init__(self, config: ContextWindowConfig, resources: Any) -> None:
        settings: ContextSettings | None = resources.bundle.section("context")
        if settings is None:
            raise ConfigError([ConfigIssue(FILE, 0, "", "context.window cannot start: the file is missing or invalid", "Fix the problems listed for it")])
        self.size = settings.spec.window_size
        self.chars = settings.spec.message_chars

    def run(self, state: Mapping[str, Any], ctx: NodeContext) -> dict[str, Any]:
        window = [dict(entry) for entry in (state.get("conv.context_window") or []) if isinstance(entry, Mapping)]
        current_state = state.get("conv.state") or ""
        if window and "action" not in window[-1]:
            window[-1]["action"] = state.get("conv.last_action") or ""
            window[-1]["next_state"] = current_state
            window[-1]["bot"] = (state.get("conv.last_bot_message") or "")[: self.chars]
        text = state.get("text")
        if text is None:
            text = state.get("message") or ""
        window.append({
            "turn": int(state.get("turn_index") or ctx.turn_index),
            "text": str(text)[: self.chars],
            "intent": state.get("intent") or "unclear",
            "confidence": round(float(state.get("intent_confidence") or 0.0), 4),
            "state": current_state,
            "data_count": len(known_fields(state.get("conv.collected_data"))),
            "phases_done": len(_fsm_memory(state.get("conv.extra")).get("phases_done") or ()),
        })
        return {"conv.context_window": window[-self.size:]}
