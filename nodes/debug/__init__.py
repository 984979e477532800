"""Nodes for benchmarks and tests of the engine itself."""
from __future__ import annotations

from nodes.debug.noop import NoOp

__all__ = ["NoOp"]
