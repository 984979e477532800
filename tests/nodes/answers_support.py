"""Helpers for the answer-side tests (knowledge, respond, fallback, cta): temp configs, tiny graphs."""
from __future__ import annotations

import shutil
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine.config import ConfigBundle, default_config_dir
from engine.executor import Executor, TurnResult
from engine.graph import compile_graph
from engine.state import ConversationState

__all__ = ["copy_shipped", "write", "small_graph", "run_messages", "ANSWER_GRAPH"]

SHIPPED = default_config_dir()

#: normalize → knowledge → respond → fallback → cta, with the action, intent and directives
#: supplied by the test (no classifier, no flow: their behaviour is not under test here).
ANSWER_GRAPH = """
version: 1
name: answers
inputs: [action, intent, response_directives, tone_guidance]
nodes:
  normalize: {type: normalize.text}
  knowledge: {type: knowledge.retrieve, after: [normalize]}
  respond:
    type: respond.template
    after: [knowledge]
    config: {directives_key: response_directives, tone_key: tone_guidance}
    on_error: fallback
  fallback: {type: fallback.tiers, after: [respond]}
  cta: {type: cta.generate, after: [fallback]}
"""


def copy_shipped(target: Path) -> Path:
    """A private copy of graphs/, rules/ and yaml_config/ of the shipped config."""
    for sub in ("graphs", "rules", "yaml_config"):
        if (SHIPPED / sub).exists():
            shutil.copytree(SHIPPED / sub, target / sub)
    return target


def write(root: Path, relative: str, text: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def small_graph(root: Path, text: str = ANSWER_GRAPH, name: str = "answers") -> tuple[ConfigBundle, Executor]:
    """Compile one graph of a config dir on its own (other graphs there are not loaded)."""
    write(root, f"graphs/{name}.yaml", text)
    bundle = ConfigBundle(root)
    graph, issues = compile_graph(bundle, bundle.file(f"graphs/{name}.yaml"), bundle.resources)
    own = [issue for issue in issues + bundle.issues if not issue.file.startswith(("yaml_config/flows", "yaml_config/intents", "rules", "yaml_config/dialogue"))]
    assert graph is not None and not own, "\n".join(issue.render() for issue in own)
    return bundle, Executor(graph)


def run_messages(
    executor: Executor,
    bundle: ConfigBundle,
    turns: list[tuple[str, Mapping[str, Any]]],
    *,
    conversation: ConversationState | None = None,
    flags: Mapping[str, bool] | None = None,
) -> tuple[list[TurnResult], ConversationState]:
    """Run ``(message, extra_inputs)`` turns in one conversation; return results and the final state."""
    state = conversation or ConversationState(conversation_id="answers-test", state="spin_situation")
    merged = {**bundle.settings.feature_flags, **dict(flags or {})}
    results = []
    for message, extra in turns:
        inputs = {"action": None, "intent": "unclear", "response_directives": None, "tone_guidance": None, **dict(extra)}
        result = executor.run_turn(state, message, flags=merged, extra_inputs=inputs)
        results.append(result)
        state = result.conversation_after
    return results, state
