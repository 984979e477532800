"""Domain nodes. Importing this package registers every built-in node family."""
from __future__ import annotations

from nodes import classify, debug, fsm, normalize, respond  # noqa: F401  (registration)
