"""Conversation state that survives restarts: one JSON file per conversation, atomic writes."""
from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

from pydantic import ValidationError

from engine.errors import SessionError
from engine.state import STATE_VERSION, ConversationState

__all__ = ["SessionStore"]

_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


class SessionStore:
    """Stores ``ConversationState`` as ``<dir>/<conversation>.json``.

    Files are written to a temporary name and renamed, so a crash leaves either the old
    or the new state, never half of one. The conversation's ``client_id`` is checked on
    resume: another client gets a ``SessionError`` and no data.
    """

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def path_for(self, conversation_id: str) -> Path:
        safe = _SAFE.sub("_", conversation_id)[:80]
        if safe != conversation_id:  # keep distinct ids distinct after sanitising
            safe += "-" + hashlib.sha256(conversation_id.encode()).hexdigest()[:8]
        return self.directory / f"{safe}.json"

    def load(self, conversation_id: str) -> ConversationState | None:
        path = self.path_for(conversation_id)
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise SessionError(f"session {conversation_id!r} is unreadable ({exc}); file {path}") from exc
        version = data.get("version") if isinstance(data, dict) else None
        if not isinstance(version, int) or version > STATE_VERSION:
            raise SessionError(f"session {conversation_id!r} has state version {version!r}; this spinflow reads up to {STATE_VERSION}")
        try:
            return ConversationState.model_validate(data)
        except ValidationError as exc:
            raise SessionError(f"session {conversation_id!r} does not match the state schema: {exc.errors()[0]['msg']}") from exc

    def open(self, conversation_id: str, client_id: str | None, *, flow: str = "") -> tuple[ConversationState, bool]:
        """Resume the conversation (checking the client) or start a new one.

        Returns the state and whether it was resumed.
        """
        state = self.load(conversation_id)
        if state is None:
            return ConversationState(conversation_id=conversation_id, client_id=client_id, flow=flow), False
        if state.client_id is not None and client_id is not None and state.client_id != client_id:
            raise SessionError(f"conversation {conversation_id!r} belongs to another client; refusing to resume it for client {client_id!r}")
        if state.client_id is not None and client_id is None:
            raise SessionError(f"conversation {conversation_id!r} belongs to a client; pass --client-id to resume it")
        return state, True

    def save(self, state: ConversationState) -> None:
        path = self.path_for(state.conversation_id)
        temporary = path.with_suffix(".json.tmp")
        temporary.write_text(state.model_dump_json(), encoding="utf-8")
        os.replace(temporary, path)

    def delete(self, conversation_id: str) -> bool:
        path = self.path_for(conversation_id)
        if path.exists():
            path.unlink()
            return True
        return False
