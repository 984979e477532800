"""Fallback: the four-tier ``fallback.tiers`` node and its settings (``yaml_config/fallback.yaml``)."""
from __future__ import annotations

from nodes.fallback.tiers import FallbackTiers, load_fallback_settings

__all__ = ["FallbackTiers", "load_fallback_settings"]
