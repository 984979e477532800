"""``tone.regex``: tier 1 of the tone cascade — Russian markers, caps, «!!!», emoji hints.

Fast and always on (flag ``tone_analysis``). Writes ``tone`` with ``tier: regex``; when its
confidence is below ``cascade.escalate_below.regex`` the semantic tier takes over, and the
markers found here stay in ``tone.markers`` as evidence either way.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.node import NodeConfig, NodeContext
from engine.registry import register
from nodes.tone.catalogue import CATALOGUE_FILE, ToneCatalogue, cannot_start, tone_value
from nodes.tone.markers import MARKERS_FILE, MarkerAnalyzer

__all__ = ["RegexTone", "RegexToneConfig"]


class RegexToneConfig(NodeConfig):
    """No options: markers, weights and thresholds live in ``yaml_config/tone/``."""


@register("tone.regex")
class RegexTone:
    """Scores markers of every tone and writes the best one with its confidence."""

    Config = RegexToneConfig
    reads = frozenset({"text", "message", "emoji"})
    writes = frozenset({"tone"})

    def __init__(self, config: RegexToneConfig, resources: Any) -> None:
        self.config = config
        catalogue: ToneCatalogue | None = resources.bundle.section("tone_catalogue")
        analyzer: MarkerAnalyzer | None = resources.bundle.section("tone_markers")
        if catalogue is None:
            raise cannot_start(resources.bundle, "tone.regex", CATALOGUE_FILE, "the tone catalogue")
        if analyzer is None:
            raise cannot_start(resources.bundle, "tone.regex", MARKERS_FILE, "its markers file")
        self.catalogue = catalogue
        self.analyzer = analyzer

    def run(self, state: Mapping[str, Any], ctx: NodeContext) -> dict[str, Any]:
        message = str(state.get("message") or "")
        text = str(state.get("text") if state.get("text") is not None else message.lower())
        verdict = self.analyzer.analyze(text, message, state.get("emoji") or ())
        summary = {"label": verdict.label, "confidence": round(verdict.confidence, 4), "scores": {k: round(v, 4) for k, v in verdict.scores.items()}}
        return {
            "tone": tone_value(
                self.catalogue,
                label=verdict.label,
                confidence=verdict.confidence,
                tier="regex",
                scores=verdict.scores,
                markers=verdict.markers,
                tiers={"regex": summary},
            )
        }
