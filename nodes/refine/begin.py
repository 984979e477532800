"""``refine.begin``: opens the turn's ``refinement_chain`` before the first layer runs."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.node import NodeConfig, NodeContext
from engine.registry import register

__all__ = ["RefinementBegin"]


@register("refine.begin")
class RefinementBegin:
    """Writes an empty ``refinement_chain``: every layer after it appends one entry."""

    Config = NodeConfig
    reads: frozenset[str] = frozenset()
    writes = frozenset({"refinement_chain"})

    def __init__(self, config: NodeConfig, resources: Any) -> None:
        self.config = config

    def run(self, state: Mapping[str, Any], ctx: NodeContext) -> dict[str, Any]:
        return {"refinement_chain": []}
