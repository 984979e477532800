"""Refinement layers: one ``refine.<layer>`` node per layer of the classifier brief.

Order in a graph follows ``yaml_config/refinement/pipeline.yaml`` priorities: CRITICAL
(confidence_calibration, disambiguation_resolution) > HIGH (secondary_intents,
option_selection, first_contact, greeting_context, short_answer, composite_message) >
NORMAL (comparison, data_aware, objection) > FALLBACK (disambiguation, which asks).
"""
from __future__ import annotations

from nodes.refine import settings  # noqa: F401  (section "refinement", checks)
from nodes.refine.begin import RefinementBegin
from nodes.refine.calibration import ConfidenceCalibration
from nodes.refine.comparison import Comparison
from nodes.refine.composite_message import CompositeMessage
from nodes.refine.data_aware import DataAware
from nodes.refine.disambiguation import Disambiguation
from nodes.refine.disambiguation_resolution import DisambiguationResolution
from nodes.refine.first_contact import FirstContact
from nodes.refine.greeting_context import GreetingContext
from nodes.refine.objection import ObjectionRefinement
from nodes.refine.option_selection import OptionSelection
from nodes.refine.secondary_intents import SecondaryIntents
from nodes.refine.short_answer import ShortAnswer

__all__ = [
    "RefinementBegin",
    "ConfidenceCalibration",
    "DisambiguationResolution",
    "SecondaryIntents",
    "OptionSelection",
    "FirstContact",
    "GreetingContext",
    "ShortAnswer",
    "CompositeMessage",
    "Comparison",
    "DataAware",
    "ObjectionRefinement",
    "Disambiguation",
]
