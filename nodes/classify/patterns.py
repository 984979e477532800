"""Priority regex patterns (section ``patterns``) and the ``classify.patterns`` node.

Files ``yaml_config/nlu/patterns*.yaml`` (split by topic as designers like): a list of
``{intent, pattern, confidence, context?, unless_context?}``. Patterns run on the
normalised text (lowercase, ё→е, typos fixed); only those whose required literal occurs
in the text are tried (see ``pattern_index``). The highest confidence wins; on a tie the
earlier pattern (files sorted by name, then file order).
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from engine.config import ConfigBundle, Regex, section, validate_model
from engine.errors import ConfigIssue
from engine.node import NodeConfig, NodeContext
from engine.registry import register, suggest
from nodes.classify.context import CONTEXT_KEYS, CONTEXT_READS, context_matches, derive_context
from nodes.classify.pattern_index import PatternIndex
from nodes.classify.taxonomy import IntentReference, intent_reference_source

__all__ = ["PatternClassifier", "PatternRule", "PatternsFile", "PatternSet", "PatternHit", "load_patterns"]


class PatternRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    intent: str
    pattern: Regex
    confidence: float = Field(0.9, gt=0, le=1)
    context: dict[str, list[str]] | None = Field(None, description="applies only when every key matches one of its globs")
    unless_context: dict[str, list[str]] | None = Field(None, description="never applies when a key matches one of its globs")



class PatternsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    version: int = 1
    patterns: list[PatternRule]


@dataclass(frozen=True)
class PatternHit:
    rule: PatternRule
    position: int
    matched: str


class PatternSet:
    """Every pattern rule with its literal index; ``hits(text, context)`` in rule order."""

    def __init__(self, rules: list[PatternRule], sources: list[tuple[str, int]] | None = None) -> None:
        self.rules = rules
        self.sources = sources or [("", 0)] * len(rules)
        self.index = PatternIndex([rule.pattern for rule in rules])

    def __len__(self) -> int:
        return len(self.rules)

    def hits(self, text: str, context: Mapping[str, Any] | None = None) -> list[PatternHit]:
        out = []
        for position, match in self.index.search(text):
            rule = self.rules[position]
            if (rule.context or rule.unless_context) and not context_matches(context or {}, rule.context, rule.unless_context):
                continue
            out.append(PatternHit(rule, position, match.group(0)))
        return out

    def best(self, text: str, context: Mapping[str, Any] | None = None) -> tuple[PatternHit | None, dict[str, float]]:
        """The winning hit and the best confidence per intent among all hits."""
        best: PatternHit | None = None
        per_intent: dict[str, float] = {}
        for hit in self.hits(text, context):
            confidence = hit.rule.confidence
            if confidence > per_intent.get(hit.rule.intent, 0.0):
                per_intent[hit.rule.intent] = confidence
            if best is None or confidence > best.rule.confidence:
                best = hit
        return best, per_intent


def _pattern_docs(bundle: ConfigBundle) -> list[Any]:
    return bundle.glob("yaml_config/nlu/patterns*.yaml")


@section("patterns")
def load_patterns(bundle: ConfigBundle) -> PatternSet:
    """All ``yaml_config/nlu/patterns*.yaml`` rules, in file order (earlier wins ties)."""
    rules: list[PatternRule] = []
    sources: list[tuple[str, int]] = []
    for doc in _pattern_docs(bundle):
        parsed, issues = validate_model(doc, PatternsFile)
        bundle.add(issues)
        if parsed is None:
            continue
        for index, rule in enumerate(parsed.patterns):
            for key in ("context", "unless_context"):
                for name in getattr(rule, key) or {}:
                    if name not in CONTEXT_KEYS:
                        bundle.add([doc.issue(("patterns", index, key, name), f"unknown context key '{name}'", suggest(name, CONTEXT_KEYS) or f"Use one of: {', '.join(CONTEXT_KEYS)}", key=True)])
            rules.append(rule)
            sources.append((doc.file, doc.line_of(("patterns", index))))
    if not rules and not any(i.file.startswith("yaml_config/nlu/patterns") for i in bundle.issues):
        bundle.add([ConfigIssue("yaml_config/nlu/patterns.yaml", 0, "patterns", "no patterns found", "Add at least one pattern")])
    return PatternSet(rules, sources)


@intent_reference_source("patterns")
def _pattern_references(bundle: ConfigBundle) -> Iterator[IntentReference]:
    for doc in _pattern_docs(bundle):
        patterns = doc.data.get("patterns") if isinstance(doc.data, dict) else None
        for index, item in enumerate(patterns or []):
            if isinstance(item, dict) and isinstance(item.get("intent"), str):
                yield IntentReference(doc, ("patterns", index, "intent"), item["intent"])


class PatternClassifierConfig(NodeConfig):
    unclear_intent: str = "unclear"
    min_confidence: float = Field(0.3, ge=0, le=1)


@register("classify.patterns")
class PatternClassifier:
    """Patterns only (no further stages): the highest confidence wins (ties: earlier pattern)."""

    Config = PatternClassifierConfig
    reads = frozenset({"text"}) | CONTEXT_READS
    writes = frozenset({"intent", "intent_confidence", "classification"})

    def __init__(self, config: PatternClassifierConfig, resources: Any) -> None:
        self.config = config
        self.patterns: PatternSet = resources.bundle.section("patterns") or PatternSet([])
        self.phase_rules = resources.bundle.section("dialogue_context")

    def run(self, state: Mapping[str, Any], ctx: NodeContext) -> dict[str, Any]:
        text = state.get("text") or ""
        best, per_intent = self.patterns.best(text, derive_context(state, self.phase_rules))
        if best is None or best.rule.confidence < self.config.min_confidence:
            intent, confidence, pattern = self.config.unclear_intent, 0.0, None
        else:
            intent, confidence, pattern = best.rule.intent, best.rule.confidence, best.rule.pattern
        ranked = sorted(per_intent.items(), key=lambda item: -item[1])
        return {
            "intent": intent,
            "intent_confidence": confidence,
            "classification": {"stage": "patterns" if pattern else "fallback", "pattern": pattern, "alternatives": [list(item) for item in ranked[:5]]},
        }
