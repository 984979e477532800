"""``objection.handler``: objection type, a strategy per type and attempt, and the soft-close limit.

``yaml_config/dialogue/objections.yaml`` maps intents to objection types (the brief's seven
and more), gives each type an ordered list of strategies (the n-th attempt at a type uses
the n-th strategy, the last one repeats) and sets the limits: by default 3 objections in a
row or 5 in the conversation end the push with a soft close. The counts in a row and in
total come from the envelope; attempts per type are kept in ``conv.counters``.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from engine.config import ConfigBundle, check, section
from engine.errors import ConfigError, ConfigIssue
from engine.node import NodeConfig, NodeContext
from engine.registry import register
from nodes.context.references import Reference, check_references

__all__ = ["ObjectionHandler", "Objections", "ObjectionType", "Strategy", "load_objections"]

FILE = "yaml_config/dialogue/objections.yaml"
COUNTER_PREFIX = "objection."


class Strategy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    action: str
    description: str = ""


class ObjectionType(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    description: str = ""
    intents: list[str] = Field(default_factory=list)
    strategies: list[Strategy] = Field(min_length=1)


class _Limits(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    max_consecutive: int = Field(3, ge=1)
    max_total: int = Field(5, ge=1)


class _ObjectionsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    version: int = 1
    limits: _Limits = Field(default_factory=lambda: _Limits.model_validate({}))
    categories: list[str] = Field(default_factory=lambda: ["objection"], description="intents in these categories are objections")
    fallback_type: str = Field(description="type of an objection intent no type lists")
    types: dict[str, ObjectionType]


@dataclass(frozen=True)
class Objections:
    limits: _Limits
    categories: tuple[str, ...]
    fallback_type: str
    types: dict[str, ObjectionType]
    by_intent: dict[str, str]
    references: list[Reference] = field(default_factory=list, compare=False)


@section("objections")
def load_objections(bundle: ConfigBundle) -> Objections | None:
    loaded = bundle.required_model(FILE, _ObjectionsFile, "limits, types with intents and strategies")
    if loaded is None:
        return None
    doc, parsed = loaded
    if parsed.fallback_type not in parsed.types:
        from engine.registry import suggest

        bundle.add([doc.issue(("fallback_type",), f"unknown objection type '{parsed.fallback_type}'", suggest(parsed.fallback_type, parsed.types) or "Use a key of types")])
    by_intent: dict[str, str] = {}
    references = [Reference("category", name, doc, ("categories", index)) for index, name in enumerate(parsed.categories)]
    for type_name, spec in parsed.types.items():
        for index, intent in enumerate(spec.intents):
            loc = ("types", type_name, "intents", index)
            if intent in by_intent:
                bundle.add([doc.issue(loc, f"intent '{intent}' is already mapped to type '{by_intent[intent]}'", "Map each intent to one type")])
            by_intent[intent] = type_name
            references.append(Reference("intent", intent, doc, loc))
        for index, strategy in enumerate(spec.strategies):
            references.append(Reference("action", strategy.action, doc, ("types", type_name, "strategies", index, "action")))
    return Objections(parsed.limits, tuple(parsed.categories), parsed.fallback_type, dict(parsed.types), by_intent, references)


@check("objection_references")
def check_objections(bundle: ConfigBundle) -> Any:
    objections: Objections | None = bundle.section("objections")
    return check_references(bundle, objections.references) if objections is not None else ()


class ObjectionHandlerConfig(NodeConfig):
    pass


@register("objection.handler")
class ObjectionHandler:
    """Classifies this turn's objection, picks the strategy for the attempt, applies the limit."""

    Config = ObjectionHandlerConfig
    reads = frozenset({"intent", "envelope", "conv.counters"})
    writes = frozenset({"objection", "conv.counters"})

    def __init__(self, config: ObjectionHandlerConfig, resources: Any) -> None:
        self.objections: Objections | None = resources.bundle.section("objections")
        if self.objections is None:
            raise ConfigError([ConfigIssue(FILE, 0, "", "objection.handler cannot start: the file is missing or invalid", "Fix the problems listed for it")])
        taxonomy = resources.bundle.section("intents")
        self._in_category = taxonomy.in_category if taxonomy is not None else (lambda intent, category: False)

    def type_of(self, intent: str) -> str | None:
        assert self.objections is not None
        if intent in self.objections.by_intent:
            return self.objections.by_intent[intent]
        if any(self._in_category(intent, category) for category in self.objections.categories):
            return self.objections.fallback_type
        return None

    def run(self, state: Mapping[str, Any], ctx: NodeContext) -> dict[str, Any]:
        objections = self.objections
        assert objections is not None
        envelope = state.get("envelope") or {}
        streak = int(envelope.get("objection_streak") or 0)
        total = int(envelope.get("objection_count") or 0)
        kind = self.type_of(state.get("intent") or "")
        if kind is None:
            return {"objection": {"detected": False, "type": "", "attempt": 0, "streak": streak, "total": total, "should_soft_close": False}}
        counters = dict(state.get("conv.counters") or {})
        attempt = int(counters.get(COUNTER_PREFIX + kind, 0)) + 1
        counters[COUNTER_PREFIX + kind] = attempt
        strategies = objections.types[kind].strategies
        strategy = strategies[min(attempt, len(strategies)) - 1]
        limits = objections.limits
        reasons = []
        if streak >= limits.max_consecutive:
            reasons.append(f"{streak} objections in a row (limit {limits.max_consecutive})")
        if total >= limits.max_total:
            reasons.append(f"{total} objections in total (limit {limits.max_total})")
        return {
            "objection": {
                "detected": True,
                "type": kind,
                "strategy": strategy.name,
                "action": strategy.action,
                "attempt": attempt,
                "streak": streak,
                "total": total,
                "should_soft_close": bool(reasons),
                "why": "; ".join(reasons),
            },
            "conv.counters": counters,
        }
