"""The runtime a user drives: config + graph + flags + sessions + trace, one turn at a time."""
from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine.config import ConfigBundle
from engine.executor import Executor, TurnResult
from engine.graph import CompiledGraph, load_graph
from engine.sessions import SessionStore
from engine.state import ConversationState

__all__ = ["Runtime", "coerce_message"]

# Control characters other than tab and newline never carry meaning in a chat message.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")
_STORED_LIMIT = 20_000


def coerce_message(raw: Any) -> str:
    """Make any client payload a safe ``str``: bytes decoded leniently, controls removed.

    The stored message is capped (a megabyte of text would bloat every trace row); the
    normalize node applies the stricter cap that understanding uses.
    """
    if raw is None:
        return ""
    if isinstance(raw, (bytes, bytearray, memoryview)):
        text = bytes(raw).decode("utf-8", errors="replace")
    else:
        text = str(raw)
    text = _CONTROL.sub(" ", text)
    # Lone surrogates (from bad JSON or a bad terminal) cannot be encoded to UTF-8 later.
    text = text.encode("utf-8", errors="replace").decode("utf-8")
    return text[:_STORED_LIMIT]


class Runtime:
    """Load a config dir once, then run turns for any number of conversations."""

    def __init__(
        self,
        config_dir: str | Path | None = None,
        graph: str | None = None,
        *,
        trace_db: str | Path | None = None,
        trace: bool = True,
        sessions_dir: str | Path | None = None,
        environ: Mapping[str, str] | None = None,
        flag_overrides: Mapping[str, bool] | None = None,
        hooks: list[Any] | None = None,
        flush_every_turns: int | None = None,
    ) -> None:
        self.bundle = ConfigBundle(config_dir)
        self.graph: CompiledGraph = load_graph(self.bundle, graph)
        self.flags = self.bundle.flags(environ)
        for name, value in (flag_overrides or {}).items():
            self.flags.set_override(name, value)
        self.store = None
        all_hooks = list(hooks or [])
        if trace:
            from engine.trace_store import TraceStore, resolve_trace_path
            from engine.tracing import TraceHook

            path = resolve_trace_path(str(trace_db) if trace_db else None)
            self.store = TraceStore(path, flush_every_turns=flush_every_turns or self.bundle.settings.trace.flush_every_turns)
            all_hooks.append(TraceHook(self.store, capture_io=self.bundle.settings.trace.capture_io))
            default_sessions = Path(path).parent / "sessions"
        else:
            default_sessions = Path(".spinflow") / "sessions"
        self.sessions = SessionStore(sessions_dir or default_sessions)
        self.executor = Executor(self.graph, all_hooks)

    @property
    def trace_path(self) -> str | None:
        return str(self.store.path) if self.store is not None and hasattr(self.store, "path") else None

    def open(self, conversation_id: str, client_id: str | None = None) -> tuple[ConversationState, bool]:
        """Resume or start a conversation (``SessionError`` for another client's)."""
        return self.sessions.open(conversation_id, client_id, flow=self.bundle.settings.flow)

    def turn(
        self,
        conversation_id: str,
        message: Any,
        *,
        client_id: str | None = None,
        dialogue_context: Mapping[str, Any] | None = None,
        save: bool = True,
    ) -> TurnResult:
        state, _resumed = self.open(conversation_id, client_id)
        result = self.run(state, message, dialogue_context=dialogue_context)
        if save:
            self.sessions.save(result.conversation_after)
        return result

    def run(self, state: ConversationState, message: Any, *, dialogue_context: Mapping[str, Any] | None = None) -> TurnResult:
        """Run one turn on an explicit state (no session file involved)."""
        return self.executor.run_turn(state, coerce_message(message), flags=self.flags.snapshot(), dialogue_context=dialogue_context)

    def end_conversation(self, conversation_id: str) -> None:
        if self.store is not None:
            self.store.flush()

    def close(self) -> None:
        if self.store is not None:
            self.store.close()

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
