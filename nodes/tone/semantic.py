"""``tone.semantic``: tier 2 of the tone cascade — nearest reference examples per tone.

Runs only when the tone decided so far is unsure (below ``cascade.escalate_below`` of its
tier, ``tones.yaml``) and the gate (``semantic_gate.yaml``, ``gate.py``) finds the message
worth an embedding. Embeds ``text`` with the shared ``embedder`` resource, scores every
tone's reference groups (``references.py``) and mixes in the regex tier's weak evidence
(``semantic.carry_regex``). Any failure (no model, a bug) keeps the lower tier's answer and
``tone.tiers.semantic`` says why — the turn never loses its tone.
"""
from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from engine.node import NodeConfig, NodeContext
from engine.registry import register
from nodes.tone.catalogue import CATALOGUE_FILE, ToneCatalogue, cannot_start, tone_value
from nodes.tone.gate import SemanticGate
from nodes.tone.references import REFERENCES_GLOB, ReferenceIndex

__all__ = ["SemanticTone", "SemanticToneConfig"]


class SemanticToneConfig(NodeConfig):
    """No options: references and scoring live in ``yaml_config/tone/``."""


@register("tone.semantic")
class SemanticTone:
    """Sentence-embedding similarity to reference examples, when the regex tier is unsure."""

    Config = SemanticToneConfig
    reads = frozenset({"text", "tone"})
    writes = frozenset({"tone"})

    def __init__(self, config: SemanticToneConfig, resources: Any) -> None:
        self.config = config
        self._resources = resources
        catalogue: ToneCatalogue | None = resources.bundle.section("tone_catalogue")
        index: ReferenceIndex | None = resources.bundle.section("tone_references")
        if catalogue is None:
            raise cannot_start(resources.bundle, "tone.semantic", CATALOGUE_FILE, "the tone catalogue")
        if index is None:
            raise cannot_start(resources.bundle, "tone.semantic", REFERENCES_GLOB, "reference examples (groups of examples per tone)")
        self.catalogue = catalogue
        self.index = index
        self.gate: SemanticGate = resources.bundle.section("tone_semantic_gate")
        self._cache_dir = resources.settings.embeddings.cache_dir

    def run(self, state: Mapping[str, Any], ctx: NodeContext) -> dict[str, Any]:
        before = state.get("tone")
        tiers = dict((before or {}).get("tiers") or {})
        text = str(state.get("text") or "").strip()
        if before and not self.catalogue.unsure(before):
            return {"tone": _with_tier(before, tiers, {"used": False, "reason": "lower_tier_confident"})}
        if not text:
            return self._keep(before, tiers, {"used": False, "reason": "empty_message"})
        skipped = self.gate.skip_reason(text, before)
        if skipped is not None:
            return self._keep(before, tiers, {"used": False, "reason": skipped})
        started = time.perf_counter()
        try:
            embedder = self._resources.get("embedder")
            self.index.ensure(embedder, self._cache_dir)
            vector = np.asarray(embedder.encode([text]), dtype=np.float32)[0]
            scores = self.index.score(vector)
        except Exception as exc:  # noqa: BLE001 - a missing model must not cost the turn its tone
            return self._keep(before, tiers, {"used": False, "failed": True, "reason": "embedder_error", "detail": f"{type(exc).__name__}: {exc}"[:300], "latency_ms": _ms(started)})
        combined = dict(scores.probabilities)
        regex_scores = dict((before or {}).get("scores") or {}) if (before or {}).get("tier") == "regex" else {}
        carry = self.catalogue.semantic.carry_regex
        if regex_scores and carry > 0:
            for tone in set(combined) | set(regex_scores):
                combined[tone] = (1.0 - carry) * combined.get(tone, 0.0) + carry * float(regex_scores.get(tone, 0.0))
            total = sum(combined.values()) or 1.0
            combined = {tone: value / total for tone, value in combined.items()}
        label = max(combined, key=lambda tone: combined[tone])
        confidence = combined[label]
        abstained = label != self.catalogue.default_tone and confidence < self.catalogue.semantic.abstain_below
        if abstained:
            # Too little evidence for any emotion: the default tone, and the LLM tier (if on)
            # sees a low confidence and may still decide.
            label = self.catalogue.default_tone
            confidence = combined.get(label, 0.0)
        tiers["semantic"] = {
            "used": True,
            "label": label,
            "confidence": round(confidence, 4),
            "probabilities": {tone: round(value, 4) for tone, value in sorted(scores.probabilities.items(), key=lambda item: -item[1])},
            "groups": scores.best_groups,
            "nearest": scores.nearest,
            "carried_regex": bool(regex_scores and carry > 0),
            "abstained": abstained,
            "latency_ms": _ms(started),
        }
        markers = (before or {}).get("markers") or []
        return {"tone": tone_value(self.catalogue, label=label, confidence=confidence, tier="semantic", scores=combined, markers=markers, tiers=tiers)}

    def _keep(self, before: Mapping[str, Any] | None, tiers: dict[str, Any], entry: dict[str, Any]) -> dict[str, Any]:
        if before:
            return {"tone": _with_tier(before, tiers, entry)}
        default = self.catalogue.default_tone
        tiers["semantic"] = entry
        return {"tone": tone_value(self.catalogue, label=default, confidence=0.0, tier="none", scores={}, tiers=tiers)}


def _with_tier(tone: Mapping[str, Any], tiers: dict[str, Any], entry: dict[str, Any]) -> dict[str, Any]:
    tiers["semantic"] = entry
    return {**tone, "tiers": tiers}


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
