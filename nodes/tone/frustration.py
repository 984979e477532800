"""``tone.frustration``: the 0–10 frustration level across turns and guidance for the responder.

Section ``tone_frustration`` (``yaml_config/tone/frustration.yaml``): per-tone weights,
decay on calm turns, level bands (apologise at 5, offer an exit at 7) and per-tone style
instructions. Reads the cascade's ``tone`` and the conversation's ``conv.frustration``;
writes the new ``conv.frustration`` and ``tone_guidance`` {tone, instruction, apologize,
offer_exit, max_words, frustration}.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from engine.config import ConfigBundle, section, validate_model
from engine.node import NodeConfig, NodeContext
from engine.registry import register
from nodes.tone.catalogue import ToneCatalogue, cannot_start, unknown_tone_issue

__all__ = ["FRUSTRATION_FILE", "FrustrationPolicy", "FrustrationTracker", "FrustrationTrackerConfig", "load_frustration"]

FRUSTRATION_FILE = "yaml_config/tone/frustration.yaml"


class _Decay(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    factor: float = Field(default=1.0, ge=0, le=1, description="calm turn: level × factor − subtract")
    subtract: float = Field(default=1.0, ge=0)


class _Guidance(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    instruction: str = Field(min_length=1)
    max_words: int | None = Field(default=None, ge=1)


class _Band(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    at: float = Field(ge=0)
    apologize: bool = False
    offer_exit: bool = False
    max_words: int | None = Field(default=None, ge=1)
    instruction: str = ""


class FrustrationPolicy(BaseModel):
    """``frustration.yaml``, validated."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    version: Literal[1] = 1
    scale: float = Field(default=10.0, gt=0)
    weights: dict[str, float] = Field(default_factory=dict)
    scale_by_confidence: bool = True
    min_confidence_factor: float = Field(default=0.5, ge=0, le=1)
    decay: _Decay = _Decay()
    guidance: dict[str, _Guidance] = Field(default_factory=dict)
    levels: list[_Band] = Field(default_factory=list)

    def next_level(self, previous: float, tone: str, confidence: float) -> tuple[float, float]:
        """(new level, weight applied) after a turn with ``tone`` at ``confidence``."""
        weight = self.weights.get(tone, 0.0)
        if self.scale_by_confidence:
            weight *= max(self.min_confidence_factor, min(1.0, confidence))
        if weight > 0:
            level = previous + weight
        else:
            level = previous * self.decay.factor - self.decay.subtract + weight
        return round(min(self.scale, max(0.0, level)), 3), round(weight, 3)

    def band(self, level: float) -> _Band | None:
        reached = [band for band in self.levels if level >= band.at]
        return max(reached, key=lambda band: band.at) if reached else None

    def guidance_for(self, tone: str, level: float) -> dict[str, Any]:
        base = self.guidance.get(tone)
        instruction = base.instruction if base is not None else ""
        limits = [base.max_words] if base is not None and base.max_words else []
        band = self.band(level)
        apologize = offer_exit = False
        if band is not None:
            apologize, offer_exit = band.apologize, band.offer_exit
            if band.max_words:
                limits.append(band.max_words)
            if band.instruction:
                instruction = f"{instruction} {band.instruction}".strip()
        return {
            "tone": tone,
            "instruction": instruction,
            "apologize": apologize,
            "offer_exit": offer_exit,
            "max_words": min(limits) if limits else None,
            "frustration": level,
        }


class FrustrationTrackerConfig(NodeConfig):
    """No options: weights, decay and bands live in ``frustration.yaml``."""


@register("tone.frustration")
class FrustrationTracker:
    """Moves ``conv.frustration`` by the turn's tone and writes ``tone_guidance``."""

    Config = FrustrationTrackerConfig
    reads = frozenset({"tone", "conv.frustration"})
    writes = frozenset({"conv.frustration", "tone_guidance"})

    def __init__(self, config: FrustrationTrackerConfig, resources: Any) -> None:
        self.config = config
        policy: FrustrationPolicy | None = resources.bundle.section("tone_frustration")
        if policy is None:
            raise cannot_start(resources.bundle, "tone.frustration", FRUSTRATION_FILE, "its policy file")
        self.policy = policy
        catalogue: ToneCatalogue | None = resources.bundle.section("tone_catalogue")
        self.default_tone = catalogue.default_tone if catalogue is not None else "neutral"

    def run(self, state: Mapping[str, Any], ctx: NodeContext) -> dict[str, Any]:
        tone = state.get("tone") or {}
        label = str(tone.get("label") or self.default_tone)
        confidence = float(tone.get("confidence") or 0.0)
        previous = float(state.get("conv.frustration") or 0.0)
        level, weight = self.policy.next_level(previous, label, confidence)
        guidance = self.policy.guidance_for(label, level)
        guidance.update(previous=previous, delta=round(level - previous, 3), weight=weight)
        return {"conv.frustration": level, "tone_guidance": guidance}


@section("tone_frustration")
def load_frustration(bundle: ConfigBundle) -> FrustrationPolicy | None:
    """Load and check ``frustration.yaml``; absent → None."""
    doc = bundle.file(FRUSTRATION_FILE)
    if doc is None:
        return None
    policy, issues = validate_model(doc, FrustrationPolicy)
    bundle.add(issues)
    if policy is None:
        return None
    catalogue: ToneCatalogue | None = bundle.section("tone_catalogue")
    if catalogue is not None:
        problems = [unknown_tone_issue(doc, (block, tone), tone, catalogue, key=True) for block in ("weights", "guidance") for tone in getattr(policy, block) if tone not in catalogue.tones]
        missing = [tone for tone in catalogue.names if tone not in policy.guidance]
        if missing:
            problems.append(doc.issue(("guidance",), f"no guidance for tone(s) {', '.join(missing)}", "Add an instruction for every tone of tones.yaml"))
        bundle.add(problems)
    for index, band in enumerate(policy.levels):
        if band.at > policy.scale:
            bundle.add([doc.issue(("levels", index, "at"), f"level {band.at:g} is above the scale ({policy.scale:g}) and can never be reached", "Lower it")])
    return policy
