"""Objection handling: type, strategy per attempt, soft-close limit."""
from __future__ import annotations

from nodes.objection.handler import ObjectionHandler

__all__ = ["ObjectionHandler"]
