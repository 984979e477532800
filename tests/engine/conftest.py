"""Fixtures for engine tests: copies of the shipped config, tiny graphs, test node types."""
from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from engine.config import ConfigBundle, default_config_dir
from engine.node import NodeConfig, NodeContext
from engine.registry import _REGISTRY, register

SHIPPED = default_config_dir()


def copy_config(target: Path) -> Path:
    for sub in ("graphs", "rules", "yaml_config"):
        shutil.copytree(SHIPPED / sub, target / sub)
    return target


@pytest.fixture
def config_copy(tmp_path: Path) -> Path:
    """A private, editable copy of graphs/, rules/ and yaml_config/."""
    return copy_config(tmp_path / "config")


class RaisesConfig(NodeConfig):
    message: str = "boom"


if "testing.raises" not in _REGISTRY:

    @register("testing.raises")
    class Raises:
        """Always fails: exercises the failure policy."""

        Config = RaisesConfig
        reads = frozenset({"message"})
        writes = frozenset({"boom_value"})

        def __init__(self, config: RaisesConfig, resources: Any) -> None:
            self.config = config

        def run(self, state: Mapping[str, Any], ctx: NodeContext) -> dict[str, Any]:
            raise RuntimeError(self.config.message)

    @register("testing.overreach")
    class Overreach:
        """Writes a key it did not declare: the executor must reject the patch."""

        Config = NodeConfig
        reads = frozenset({"message"})
        writes = frozenset({"declared"})

        def __init__(self, config: NodeConfig, resources: Any) -> None:
            pass

        def run(self, state: Mapping[str, Any], ctx: NodeContext) -> dict[str, Any]:
            return {"declared": 1, "sneaky": 2}

    @register("testing.echo")
    class Echo:
        """Writes what it read, plus its seed: used to check inputs, order and determinism."""

        Config = NodeConfig
        reads = frozenset({"message", "boom_value"})
        writes = frozenset({"echo", "seed"})

        def __init__(self, config: NodeConfig, resources: Any) -> None:
            pass

        def run(self, state: Mapping[str, Any], ctx: NodeContext) -> dict[str, Any]:
            return {"echo": {"message": state.get("message"), "boom_value": state.get("boom_value")}, "seed": ctx.seed}


def write_graph(config_dir: Path, name: str, text: str) -> Path:
    path = config_dir / "graphs" / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def bundle(config_copy: Path) -> ConfigBundle:
    return ConfigBundle(config_copy)
