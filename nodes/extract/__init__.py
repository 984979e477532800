"""Data extraction: structured client facts (size, business, pains, money, contacts) from a message."""
from __future__ import annotations

from nodes.extract import spec  # noqa: F401  (section "extract")
from nodes.extract.data import DataExtractor

__all__ = ["DataExtractor"]
