"""Tone catalogue (``yaml_config/tone/tones.yaml``): tones, polarity, cascade thresholds.

Section ``tone_catalogue``. The other tone sections (markers, references, frustration, LLM
prompt) check every tone they name against this catalogue. ``tone_value`` builds the
``tone`` state value every tier writes, so all tiers agree on its shape.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from engine.config import ConfigBundle, section, validate_lenient
from engine.errors import ConfigError, ConfigIssue
from engine.registry import suggest
from engine.yaml_loader import LoadedYaml

__all__ = ["CATALOGUE_FILE", "TIERS", "cannot_start", "ToneCatalogue", "ToneSpec", "SemanticScoring", "load_catalogue", "tone_value", "unknown_tone_issue"]

CATALOGUE_FILE = "yaml_config/tone/tones.yaml"
#: Tier names in cascade order; ``tone.tier`` is one of these.
TIERS = ("regex", "semantic", "llm")


class ToneSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    polarity: Literal["negative", "neutral", "positive"]
    description: str = Field(min_length=1)


class Cascade(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    escalate_below: dict[str, Annotated[float, Field(ge=0, le=1)]] = Field(default_factory=lambda: {"regex": 0.65, "semantic": 0.55})


class SemanticScoring(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    centroid_weight: float = Field(default=0.8, ge=0, le=1)
    top_k: int = Field(default=5, ge=1, le=100)
    temperature: float = Field(default=0.02, gt=0, le=10)
    bias: dict[str, float] = Field(default_factory=dict)
    carry_regex: float = Field(default=0.35, ge=0, le=1)
    abstain_below: float = Field(default=0.0, ge=0, le=1, description="a non-default tone below this probability becomes the default tone")


class CatalogueFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    version: Literal[1] = 1
    default_tone: str = "neutral"
    tones: dict[str, ToneSpec] = Field(min_length=1)
    cascade: Cascade = Cascade()
    semantic: SemanticScoring = SemanticScoring()


class ToneCatalogue:
    """The validated tone catalogue with helpers the tiers share."""

    def __init__(self, spec: CatalogueFile) -> None:
        self.spec = spec
        self.tones: dict[str, ToneSpec] = dict(spec.tones)
        self.names: list[str] = list(spec.tones)
        self.default_tone = spec.default_tone
        self.semantic = spec.semantic

    def polarity(self, tone: str | None) -> str:
        spec = self.tones.get(tone or "")
        return spec.polarity if spec is not None else "neutral"

    def escalate_below(self, tier: str | None) -> float:
        """Confidence under which the tier after ``tier`` runs.

        The last tier never escalates (0); a tier without a threshold, or no tier at all
        (``none``: every tier before failed), always does (1).
        """
        if tier == TIERS[-1]:
            return 0.0
        return float(self.spec.cascade.escalate_below.get(tier, 1.0)) if tier else 1.0

    def unsure(self, tone: Mapping[str, Any] | None) -> bool:
        """Is the tone decided so far below its tier's escalation threshold?"""
        if not tone:
            return True
        return float(tone.get("confidence") or 0.0) < self.escalate_below(tone.get("tier"))


def tone_value(
    catalogue: ToneCatalogue,
    *,
    label: str,
    confidence: float,
    tier: str,
    scores: Mapping[str, float],
    markers: Sequence[Mapping[str, Any]] = (),
    tiers: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``tone`` value: label, confidence, deciding tier, scores, regex markers, tier log."""
    return {
        "label": label,
        "confidence": round(float(confidence), 4),
        "tier": tier,
        "polarity": catalogue.polarity(label),
        "scores": {name: round(float(value), 4) for name, value in sorted(scores.items(), key=lambda item: -item[1])},
        "markers": [dict(marker) for marker in markers],
        "tiers": {name: dict(value) for name, value in (tiers or {}).items()},
    }


def cannot_start(bundle: ConfigBundle, node_type: str, file: str, what: str) -> ConfigError:
    """The error a tone node raises when a section it needs did not load."""
    if any(issue.file == file for issue in bundle.issues) or (not any(ch in file for ch in "*?") and (bundle.root / file).exists()):
        return ConfigError([ConfigIssue(file, 0, "", f"{node_type} cannot start: {what} has problems", "Fix the problems listed for it")])
    return ConfigError([ConfigIssue(file, 0, "", f"{node_type} needs {what}, which is missing", "Create it (copy the shipped one)")])


def unknown_tone_issue(doc: LoadedYaml, loc: Sequence[str | int], tone: str, catalogue: ToneCatalogue, *, key: bool = False) -> ConfigIssue:
    hint = suggest(tone, catalogue.names) or f"Use one of: {', '.join(catalogue.names)} (declared in {CATALOGUE_FILE})"
    return doc.issue(loc, f"unknown tone '{tone}'", hint, key=key)


@section("tone_catalogue")
def load_catalogue(bundle: ConfigBundle) -> ToneCatalogue | None:
    """Load ``tones.yaml``; absent → None (only graphs with tone nodes need it)."""
    doc = bundle.file(CATALOGUE_FILE)
    if doc is None:
        return None
    # Lenient: a bad block is reported and replaced by its default, so the rest is checked too.
    spec, issues = validate_lenient(doc, CatalogueFile)
    bundle.add(issues)
    if spec is None:
        return None
    catalogue = ToneCatalogue(spec)
    for tier in spec.cascade.escalate_below:
        if tier not in TIERS:
            bundle.add([doc.issue(("cascade", "escalate_below", tier), f"unknown tier '{tier}'", suggest(tier, TIERS) or f"Use one of: {', '.join(TIERS)}", key=True)])
    if spec.default_tone not in spec.tones:
        bundle.add([unknown_tone_issue(doc, ("default_tone",), spec.default_tone, catalogue)])
    for tone in spec.semantic.bias:
        if tone not in spec.tones:
            bundle.add([unknown_tone_issue(doc, ("semantic", "bias", tone), tone, catalogue, key=True)])
    return catalogue
