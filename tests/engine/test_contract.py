"""The node contract, checked over every registered node type."""
from __future__ import annotations

import pytest
from pydantic import ValidationError

from engine.config import ConfigBundle
from engine.errors import EngineError
from engine.graph import load_graph
from engine.node import NodeConfig
from engine.registry import iter_registry, register
from engine.runtime import Runtime

REGISTRY = list(iter_registry())


@pytest.mark.parametrize("name, cls", REGISTRY, ids=[name for name, _ in REGISTRY])
def test_config_is_frozen_and_forbids_extra_keys(name: str, cls: type) -> None:
    assert issubclass(cls.Config, NodeConfig) or cls.Config.model_config.get("extra") == "forbid"
    assert cls.Config.model_config.get("frozen") is True, name
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        cls.Config.model_validate({"surely_not_a_real_option": 1})


@pytest.mark.parametrize("name, cls", REGISTRY, ids=[name for name, _ in REGISTRY])
def test_declares_reads_writes_and_name(name: str, cls: type) -> None:
    assert isinstance(cls.reads, frozenset) and isinstance(cls.writes, frozenset)
    assert all(isinstance(key, str) and key for key in cls.reads | cls.writes)
    assert cls.type_name == name and "." in name
    assert callable(getattr(cls, "run", None))


def test_duplicate_or_malformed_registration_raises() -> None:
    name, cls = REGISTRY[0]
    with pytest.raises(EngineError, match="registered twice"):
        register(name)(type("Impostor", (), {"Config": NodeConfig, "reads": frozenset(), "writes": frozenset(), "run": lambda self, s, c: {}}))
    with pytest.raises(EngineError, match="family.variant"):
        register("NoDot")


MESSAGES = ["Здравствуйте", "у нас 3 магазина продуктов", "сколько стоит?", "дорого", "нет, не интересно", "", "🙂🙂", "x" * 5000]


@pytest.mark.parametrize("graph", ["turn", "classify_only"])
def test_every_node_writes_only_its_writes_in_shipped_graphs(graph: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    compiled = load_graph(ConfigBundle(), graph)
    writes = {node.node_id: node.writes for node in compiled.order}
    runtime = Runtime(graph=graph, trace=False, sessions_dir=tmp_path)
    for index, message in enumerate(MESSAGES):
        result = runtime.turn(f"contract-{index}", message)
        for run in result.runs:
            assert run.status in ("ok", "skipped"), (run.node_id, run.error)
            assert set(run.outputs) <= writes[run.node_id], run.node_id
