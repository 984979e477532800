"""Dialogue flows as data (section ``flows``) and the ``fsm.flow`` node that walks them."""
from __future__ import annotations

from nodes.fsm import flow_checks, flow_loader  # noqa: F401  (section and check registration)
from nodes.fsm.flow_machine import FlowMachine

__all__ = ["FlowMachine"]
