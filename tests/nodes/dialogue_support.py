"""Helpers for dialogue tests (fsm, context, guard, scoring, objection, policy): scripted turns
through the full turn graph, and private copies of the shipped config for YAML-only edits."""
from __future__ import annotations

import functools
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from engine.config import default_config_dir
from engine.executor import TurnResult
from engine.runtime import Runtime
from engine.state import ConversationState

__all__ = ["SHIPPED", "shipped_runtime", "Dialogue", "copy_config", "edit_yaml"]

SHIPPED = default_config_dir()


@functools.cache
def shipped_runtime(flags: tuple[tuple[str, bool], ...] = ()) -> Runtime:
    """The shipped config and turn graph, untraced (one per flag combination per process)."""
    return Runtime(SHIPPED, "turn", trace=False, flag_overrides=dict(flags))


class Dialogue:
    """A scripted conversation: each ``say`` runs one full turn and keeps the new state.

    The classifier is being improved by another issue, so a turn names the intent it needs
    and may offer several phrasings: the first phrasing the current classifier gives that
    intent is used. If none does, the test fails saying so (the dialogue logic under test
    is conditional on the intent, and asserting it without the intent would be a lie).
    """

    def __init__(self, runtime: Runtime, name: str, **fields: Any) -> None:
        self.runtime = runtime
        self.conversation = ConversationState(conversation_id=f"test-{name}", **fields)
        self.results: list[TurnResult] = []

    def say(self, *phrasings: str, intent: str | Iterable[str] | None) -> TurnResult:
        """Run the first phrasing classified as ``intent`` (``None``: whatever it is classified as)."""
        wanted = None if intent is None else ({intent} if isinstance(intent, str) else set(intent))
        tried = []
        for text in phrasings:
            result = self.runtime.run(self.conversation, text)
            got = result.values.get("intent")
            if wanted is None or got in wanted:
                self.conversation = result.conversation_after
                self.results.append(result)
                return result
            tried.append(f"{text!r} → {got}")
        pytest.fail(f"the classifier gives none of {sorted(wanted or ())} for: {'; '.join(tried)}. Add a phrasing it classifies so.")

    @property
    def state(self) -> str:
        return self.conversation.state

    @property
    def states(self) -> list[str]:
        return [result.conversation_after.state for result in self.results]

    @property
    def actions(self) -> list[str]:
        return [str(result.values.get("action")) for result in self.results]

    def last(self, key: str) -> Any:
        return self.results[-1].values.get(key)

    def node_output(self, node_id: str, index: int = -1) -> dict[str, Any]:
        for run in self.results[index].runs:
            if run.node_id == node_id:
                return dict(run.outputs)
        raise AssertionError(f"node {node_id!r} did not run")


def copy_config(target: Path) -> Path:
    """A private copy of graphs/, rules/ and yaml_config/ of the shipped config."""
    for sub in ("graphs", "rules", "yaml_config"):
        if (SHIPPED / sub).exists():
            shutil.copytree(SHIPPED / sub, target / sub)
    return target


def edit_yaml(root: Path, relative: str, old: str, new: str) -> None:
    """Replace one exact snippet (verbatim, indentation included) of a YAML file; it must occur once."""
    path = root / relative
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{relative}: snippet found {text.count(old)} times:\n{old}"
    path.write_text(text.replace(old, new), encoding="utf-8")
