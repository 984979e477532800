"""Fixtures for refinement tests: the real nodes run by the real executor.

``layers`` runs ``layers_graph.yaml`` (the classifier's answer given as graph inputs, as the
brief's examples give the LLM's answer); ``understand`` runs the shipped
``graphs/understand.yaml`` (real normaliser, cascade, extractor and layers).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from engine.config import ConfigBundle, default_config_dir
from engine.executor import Executor, TurnResult
from engine.graph import CompiledGraph, compile_graph
from engine.state import ConversationState
from engine.yaml_loader import load_yaml

HERE = Path(__file__).resolve().parent


def compile_file(bundle: ConfigBundle, path: Path) -> CompiledGraph:
    doc, issues = load_yaml(path)
    assert doc is not None, issues
    graph, issues = compile_graph(bundle, doc, bundle.resources)
    assert graph is not None, "\n".join(issue.render() for issue in issues)
    return graph


class Runner:
    """Runs turns of one conversation (state carried from turn to turn)."""

    def __init__(self, graph: CompiledGraph, bundle: ConfigBundle) -> None:
        self.executor = Executor(graph)
        self.bundle = bundle

    def flags(self, **overrides: bool) -> dict[str, bool]:
        flags = dict(self.bundle.settings.feature_flags)
        flags.update(overrides)
        return flags

    def turn(
        self,
        message: str,
        intent: str | None = None,
        confidence: float | None = None,
        alternatives: Sequence[tuple[str, float]] | None = None,
        *,
        context: Mapping[str, Any] | None = None,
        conversation: ConversationState | None = None,
        flags: Mapping[str, bool] | None = None,
        stage: str = "llm",
    ) -> TurnResult:
        inputs: dict[str, Any] | None = None
        if intent is not None:
            inputs = {
                "intent": intent,
                "intent_confidence": confidence if confidence is not None else 0.9,
                "classification": {"stage": stage, "alternatives": [list(item) for item in alternatives or ()]},
            }
        return self.executor.run_turn(
            conversation or ConversationState(conversation_id="refine-test"),
            message,
            flags=self.flags(**dict(flags or {})),
            dialogue_context=dict(context or {}),
            extra_inputs=inputs,
        )


def entry(result: TurnResult, layer: str) -> dict[str, Any]:
    """The refinement_chain entry of one layer."""
    for item in result.values.get("refinement_chain") or []:
        if item["layer"] == layer:
            return item
    raise AssertionError(f"layer {layer!r} left no chain entry: {result.values.get('refinement_chain')}")


@pytest.fixture(scope="session")
def bundle() -> ConfigBundle:
    return ConfigBundle(default_config_dir())


@pytest.fixture(scope="session")
def layers(bundle: ConfigBundle) -> Runner:
    return Runner(compile_file(bundle, HERE / "layers_graph.yaml"), bundle)


@pytest.fixture(scope="session")
def understand(bundle: ConfigBundle) -> Runner:
    return Runner(compile_file(bundle, default_config_dir() / "graphs" / "understand.yaml"), bundle)
