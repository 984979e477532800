"""``classify.patterns``: priority regex patterns from YAML — the first classification tier."""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from engine.config import ConfigBundle, section, validate_model
from engine.errors import ConfigIssue
from engine.node import NodeConfig, NodeContext
from engine.registry import register

__all__ = ["PatternClassifier", "PatternRule", "PatternsFile"]


class PatternRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    intent: str
    pattern: str
    confidence: float = Field(0.9, gt=0, le=1)

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"regex does not compile: {exc}") from exc
        return value


class PatternsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    version: int = 1
    patterns: list[PatternRule]


@section("patterns")
def load_patterns(bundle: ConfigBundle) -> list[PatternRule]:
    """All ``yaml_config/nlu/patterns*.yaml`` rules, in file order (earlier wins ties)."""
    rules: list[PatternRule] = []
    for doc in bundle.glob("yaml_config/nlu/patterns*.yaml"):
        parsed, issues = validate_model(doc, PatternsFile)
        bundle.add(issues)
        if parsed is not None:
            rules.extend(parsed.patterns)
    if not rules and not any(i.file.startswith("yaml_config/nlu/patterns") for i in bundle.issues):
        bundle.add([ConfigIssue("yaml_config/nlu/patterns.yaml", 0, "patterns", "no patterns found", "Add at least one pattern")])
    return rules


class PatternClassifierConfig(NodeConfig):
    unclear_intent: str = "unclear"
    min_confidence: float = Field(0.3, ge=0, le=1)


@register("classify.patterns")
class PatternClassifier:
    """Tries every pattern; the highest confidence wins (ties: earlier pattern)."""

    Config = PatternClassifierConfig
    reads = frozenset({"text"})
    writes = frozenset({"intent", "intent_confidence", "classification"})

    def __init__(self, config: PatternClassifierConfig, resources: Any) -> None:
        self.config = config
        rules = resources.bundle.section("patterns") or []
        self._compiled = [(re.compile(rule.pattern), rule) for rule in rules]

    def run(self, state: Mapping[str, Any], ctx: NodeContext) -> dict[str, Any]:
        text = state.get("text") or ""
        best: PatternRule | None = None
        alternatives: dict[str, float] = {}
        for regex, rule in self._compiled:
            if regex.search(text):
                if rule.confidence > alternatives.get(rule.intent, 0.0):
                    alternatives[rule.intent] = rule.confidence
                if best is None or rule.confidence > best.confidence:
                    best = rule
        if best is None or best.confidence < self.config.min_confidence:
            intent, confidence, pattern = self.config.unclear_intent, 0.0, None
        else:
            intent, confidence, pattern = best.intent, best.confidence, best.pattern
        ranked = sorted(alternatives.items(), key=lambda item: -item[1])
        return {
            "intent": intent,
            "intent_confidence": confidence,
            "classification": {"stage": "patterns" if pattern else "fallback", "pattern": pattern, "alternatives": ranked[:5]},
        }
