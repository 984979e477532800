"""Domain nodes. Importing this package registers every built-in node family."""
from __future__ import annotations

from nodes import classify, context, cta, debug, extract, fallback, fsm, guard, knowledge, normalize, objection, policy, refine, respond, scoring, tone  # noqa: F401  (registration)
