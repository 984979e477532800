"""Lead scoring: signals by intent, decay per turn, temperature bands."""
from __future__ import annotations

from nodes.scoring.lead import LeadScorer

__all__ = ["LeadScorer"]
