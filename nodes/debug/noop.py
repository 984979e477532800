"""``debug.noop``: copies one value to another key; the unit of engine-overhead benchmarks."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.node import NodeConfig, NodeContext
from engine.registry import register


class NoOpConfig(NodeConfig):
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()


@register("debug.noop")
class NoOp:
    """Writes each declared ``writes`` key with the value of its first read (or None)."""

    Config = NoOpConfig
    reads: frozenset[str] = frozenset()
    writes: frozenset[str] = frozenset()

    def __init__(self, config: NoOpConfig, resources: Any) -> None:
        self.reads = frozenset(config.reads)
        self.writes = frozenset(config.writes)
        self._source = config.reads[0] if config.reads else None
        self._targets = config.writes

    def run(self, state: Mapping[str, Any], ctx: NodeContext) -> dict[str, Any]:
        value = state.get(self._source) if self._source else None
        return {key: value for key in self._targets}
