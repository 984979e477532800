"""Dialogue state machine nodes."""
from __future__ import annotations

from nodes.fsm.flow_machine import FlowMachine

__all__ = ["FlowMachine"]
