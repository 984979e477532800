"""Policy rules (``rules/*.yaml``) compiled into durable-rules, overriding the FSM's decision."""
from __future__ import annotations

from nodes.policy import ruleset  # noqa: F401  (section and check registration)
from nodes.policy.node import PolicyRulesNode

__all__ = ["PolicyRulesNode"]
