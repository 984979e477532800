"""Declarative conditions over named facts: parsed from YAML, evaluated in Python or compiled to durable-rules.

One grammar serves every place a designer writes a condition (flow gates and skipping in
``yaml_config/flows``, policy rules in ``rules/``)::

    {fact: unclear_streak, gte: 3}
    {fact: intent, in: [price_question, cost_inquiry]}
    {fact: intent, in_category: objection}
    {fact: collected_fields, contains_all: [business_type, pain_point]}
    {fact: has_oscillation}                      # shorthand for eq: true
    {all: [...]}, {any: [...]}, {not: {...}}
    {derived: needs_exit}                        # a fact asserted by another rule (rules only)

No Python expressions are ever evaluated: a condition is a tree of these nodes, checked
against a fact schema at load time (unknown fact → "Did you mean", operator incompatible
with the fact's kind, unknown intent/state/category values) with ``file:line`` issues.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from engine.errors import ConfigIssue
from engine.registry import suggest
from engine.yaml_loader import LoadedYaml

__all__ = [
    "FactKind",
    "FactSpec",
    "Condition",
    "Leaf",
    "AllOf",
    "AnyOf",
    "NotOf",
    "Derived",
    "ConditionContext",
    "parse_condition",
    "evaluate",
    "referenced_facts",
    "derived_names",
    "negate",
    "OPERATORS",
]

FactKind = Literal["number", "bool", "text", "list", "intent", "state", "action"]

#: Operators and the fact kinds they apply to.
OPERATORS: dict[str, frozenset[str]] = {
    "eq": frozenset({"number", "bool", "text", "intent", "state", "action"}),
    "ne": frozenset({"number", "bool", "text", "intent", "state", "action"}),
    "gt": frozenset({"number"}),
    "gte": frozenset({"number"}),
    "lt": frozenset({"number"}),
    "lte": frozenset({"number"}),
    "in": frozenset({"number", "text", "intent", "state", "action"}),
    "not_in": frozenset({"number", "text", "intent", "state", "action"}),
    "contains": frozenset({"list"}),
    "not_contains": frozenset({"list"}),
    "contains_any": frozenset({"list"}),
    "contains_all": frozenset({"list"}),
    "in_category": frozenset({"intent"}),
    "not_in_category": frozenset({"intent"}),
}
_NEGATION = {
    "eq": "ne", "ne": "eq", "gt": "lte", "lte": "gt", "lt": "gte", "gte": "lt",
    "in": "not_in", "not_in": "in", "contains": "not_contains", "not_contains": "contains",
    "in_category": "not_in_category", "not_in_category": "in_category",
}


@dataclass(frozen=True)
class FactSpec:
    """A fact a condition may name: its kind, what its values mean, and a description.

    ``domain`` names the vocabulary of a text-like value or list item (``intent``,
    ``state``, ``action``, ``category``…) so that literal values can be checked.
    """

    kind: FactKind
    description: str = ""
    domain: str | None = None
    default: Any = None


@dataclass(frozen=True)
class Leaf:
    fact: str
    op: str
    value: Any


@dataclass(frozen=True)
class AllOf:
    items: tuple[Condition, ...]


@dataclass(frozen=True)
class AnyOf:
    items: tuple[Condition, ...]


@dataclass(frozen=True)
class NotOf:
    item: Condition


@dataclass(frozen=True)
class Derived:
    name: str


Condition = Leaf | AllOf | AnyOf | NotOf | Derived


@dataclass
class ConditionContext:
    """What a parse checks names against.

    ``facts``: fact name → spec. ``domains``: vocabulary name → known values (for example
    ``{"intent": {...}, "state": {...}, "category": {...}}``); a domain absent here is not
    checked. ``allow_derived``: whether ``{derived: X}`` may appear (policy rules only).
    """

    facts: Mapping[str, FactSpec]
    domains: Mapping[str, Iterable[str]] = field(default_factory=dict)
    allow_derived: bool = False


_COMBINATORS = ("all", "any", "not")


def parse_condition(raw: Any, doc: LoadedYaml, loc: Sequence[str | int], context: ConditionContext) -> tuple[Condition | None, list[ConfigIssue]]:
    """Parse one YAML condition tree; return it (or None) and every problem found."""
    issues: list[ConfigIssue] = []
    condition = _parse(raw, doc, tuple(loc), context, issues)
    return (condition if not issues else None), issues


def _parse(raw: Any, doc: LoadedYaml, loc: tuple[str | int, ...], ctx: ConditionContext, issues: list[ConfigIssue]) -> Condition | None:
    if not isinstance(raw, Mapping) or not raw:
        issues.append(doc.issue(loc, "a condition must be a mapping such as {fact: NAME, gte: 3} or {all: [...]}", "Write it as a mapping"))
        return None
    keys = set(raw)
    combinator = keys & set(_COMBINATORS)
    if combinator:
        if len(keys) != 1:
            issues.append(doc.issue(loc, f"'{sorted(combinator)[0]}' must be the only key of its mapping, found {sorted(keys)}", "Nest the other keys in a separate condition"))
            return None
        name = next(iter(combinator))
        body = raw[name]
        if name == "not":
            inner = _parse(body, doc, loc + ("not",), ctx, issues)
            if inner is not None and _has_derived(inner):
                issues.append(doc.issue(loc + ("not",), "a derived fact cannot be negated (durable-rules does not withdraw a rule already queued when the fact appears later)", "Derive the opposite fact instead, or test the envelope facts it is derived from"))
                return None
            return NotOf(inner) if inner is not None else None
        if not isinstance(body, list) or not body:
            issues.append(doc.issue(loc + (name,), f"'{name}' takes a non-empty list of conditions", "Write a YAML list"))
            return None
        items = [_parse(item, doc, loc + (name, index), ctx, issues) for index, item in enumerate(body)]
        if any(item is None for item in items):
            return None
        if name == "any" and any(_has_derived(item) for item in items if item is not None):
            issues.append(doc.issue(loc + (name,), "a derived fact may appear only under the rule's top-level 'all' (or alone)", "Split the rule in two"))
            return None
        parts = tuple(item for item in items if item is not None)
        return AllOf(parts) if name == "all" else AnyOf(parts)
    if "derived" in keys:
        if not ctx.allow_derived:
            issues.append(doc.issue(loc + ("derived",), "derived facts exist only in policy rules", "Use an envelope fact here", key=True))
            return None
        if keys != {"derived"} or not isinstance(raw["derived"], str) or not raw["derived"]:
            issues.append(doc.issue(loc, "write a derived fact as {derived: NAME}", "Remove the other keys"))
            return None
        return Derived(raw["derived"])
    if "fact" not in keys:
        known = ", ".join(sorted(_COMBINATORS)) + ", fact, derived"
        issues.append(doc.issue(loc, f"unknown condition keys {sorted(keys)}", f"Use one of: {known}"))
        return None
    return _parse_leaf(raw, doc, loc, ctx, issues)


def _parse_leaf(raw: Mapping[str, Any], doc: LoadedYaml, loc: tuple[str | int, ...], ctx: ConditionContext, issues: list[ConfigIssue]) -> Leaf | None:
    name = raw["fact"]
    if not isinstance(name, str) or name not in ctx.facts:
        hint = suggest(str(name), ctx.facts) or f"Known facts: {', '.join(sorted(ctx.facts))}"
        issues.append(doc.issue(loc + ("fact",), f"unknown fact '{name}'", hint))
        return None
    spec = ctx.facts[name]
    operators = [key for key in raw if key != "fact"]
    if not operators:
        if spec.kind != "bool":
            issues.append(doc.issue(loc, f"fact '{name}' is a {spec.kind}; only bool facts may stand alone", "Add an operator such as eq, gte or in"))
            return None
        return Leaf(name, "eq", True)
    if len(operators) != 1:
        issues.append(doc.issue(loc, f"one operator per condition, found {operators}", "Combine several with all: [...]"))
        return None
    op = operators[0]
    if op not in OPERATORS:
        issues.append(doc.issue(loc + (op,), f"unknown operator '{op}'", suggest(op, OPERATORS) or f"Use one of: {', '.join(OPERATORS)}", key=True))
        return None
    if spec.kind not in OPERATORS[op]:
        allowed = sorted(other for other, kinds in OPERATORS.items() if spec.kind in kinds)
        issues.append(doc.issue(loc + (op,), f"operator '{op}' does not apply to fact '{name}' ({spec.kind})", f"Use one of: {', '.join(allowed)}", key=True))
        return None
    value = raw[op]
    checked = _check_value(name, spec, op, value, doc, loc + (op,), ctx, issues)
    if checked is _INVALID:
        return None
    return Leaf(name, op, checked)


_INVALID = object()


def _check_value(name: str, spec: FactSpec, op: str, value: Any, doc: LoadedYaml, loc: tuple[str | int, ...], ctx: ConditionContext, issues: list[ConfigIssue]) -> Any:
    many = op in ("in", "not_in", "contains_any", "contains_all")
    if op in ("in_category", "not_in_category"):
        if not isinstance(value, str):
            issues.append(doc.issue(loc, "a category name is expected", "Write one category name"))
            return _INVALID
        return value if _check_domain("category", [value], doc, loc, ctx, issues) else _INVALID
    values = value if many else [value]
    if many and (not isinstance(value, list) or not value):
        issues.append(doc.issue(loc, f"'{op}' takes a non-empty list", "Write a YAML list"))
        return _INVALID
    kind = spec.kind
    for index, item in enumerate(values):
        where = loc + (index,) if many else loc
        if kind == "number" and (isinstance(item, bool) or not isinstance(item, (int, float))):
            issues.append(doc.issue(where, f"fact '{name}' is a number; got {item!r}", "Write a number"))
            return _INVALID
        if kind == "bool" and not isinstance(item, bool):
            issues.append(doc.issue(where, f"fact '{name}' is true/false; got {item!r}", "Write true or false"))
            return _INVALID
        if kind in ("text", "intent", "state", "action", "list") and not isinstance(item, str):
            issues.append(doc.issue(where, f"fact '{name}' holds text; got {item!r}", "Quote the value"))
            return _INVALID
    domain = spec.domain or (kind if kind in ("intent", "state", "action") else None)
    if domain and not _check_domain(domain, [str(item) for item in values], doc, loc, ctx, issues, many=many):
        return _INVALID
    return tuple(values) if many else value


def _check_domain(domain: str, values: list[str], doc: LoadedYaml, loc: tuple[str | int, ...], ctx: ConditionContext, issues: list[ConfigIssue], many: bool = False) -> bool:
    known = ctx.domains.get(domain)
    if known is None:
        return True
    known = set(known)
    ok = True
    for index, value in enumerate(values):
        if value not in known:
            ok = False
            issues.append(doc.issue(loc + (index,) if many else loc, f"unknown {domain} '{value}'", suggest(value, known) or f"Check the {domain} names in the config"))
    return ok


def _has_derived(condition: Condition) -> bool:
    if isinstance(condition, Derived):
        return True
    if isinstance(condition, (AllOf, AnyOf)):
        return any(_has_derived(item) for item in condition.items)
    if isinstance(condition, NotOf):
        return _has_derived(condition.item)
    return False


def negate(condition: Condition) -> Condition:
    """Push a negation down to the leaves (De Morgan), as durable-rules has no ``not``."""
    if isinstance(condition, Leaf):
        if condition.op == "contains_any":
            return AllOf(tuple(Leaf(condition.fact, "not_contains", item) for item in condition.value))
        if condition.op == "contains_all":
            return AnyOf(tuple(Leaf(condition.fact, "not_contains", item) for item in condition.value))
        return Leaf(condition.fact, _NEGATION[condition.op], condition.value)
    if isinstance(condition, AllOf):
        return AnyOf(tuple(negate(item) for item in condition.items))
    if isinstance(condition, AnyOf):
        return AllOf(tuple(negate(item) for item in condition.items))
    if isinstance(condition, NotOf):
        return condition.item
    raise ValueError("a derived fact cannot be negated")


def referenced_facts(condition: Condition | None) -> list[str]:
    """Fact names a condition reads, in first-use order (for traces: 'on which facts')."""
    out: list[str] = []

    def walk(node: Condition) -> None:
        if isinstance(node, Leaf):
            if node.fact not in out:
                out.append(node.fact)
        elif isinstance(node, (AllOf, AnyOf)):
            for item in node.items:
                walk(item)
        elif isinstance(node, NotOf):
            walk(node.item)

    if condition is not None:
        walk(condition)
    return out


def derived_names(condition: Condition | None) -> list[str]:
    out: list[str] = []

    def walk(node: Condition) -> None:
        if isinstance(node, Derived):
            out.append(node.name)
        elif isinstance(node, (AllOf, AnyOf)):
            for item in node.items:
                walk(item)

    if condition is not None:
        walk(condition)
    return out


CategoryTest = Callable[[str, str], bool]


def evaluate(condition: Condition | None, facts: Mapping[str, Any], in_category: CategoryTest | None = None, derived: Iterable[str] = ()) -> bool:
    """Evaluate a condition in Python (flow gates; the reference semantics for rules)."""
    if condition is None:
        return True
    if isinstance(condition, AllOf):
        return all(evaluate(item, facts, in_category, derived) for item in condition.items)
    if isinstance(condition, AnyOf):
        return any(evaluate(item, facts, in_category, derived) for item in condition.items)
    if isinstance(condition, NotOf):
        return not evaluate(condition.item, facts, in_category, derived)
    if isinstance(condition, Derived):
        return condition.name in set(derived)
    return _leaf(condition, facts, in_category)


def _leaf(leaf: Leaf, facts: Mapping[str, Any], in_category: CategoryTest | None) -> bool:
    actual = facts.get(leaf.fact)
    op, value = leaf.op, leaf.value
    if op == "eq":
        return bool(actual == value)
    if op == "ne":
        return bool(actual != value)
    if op in ("gt", "gte", "lt", "lte"):
        if not isinstance(actual, (int, float)):
            return False
        return {"gt": actual > value, "gte": actual >= value, "lt": actual < value, "lte": actual <= value}[op]
    if op == "in":
        return actual in value
    if op == "not_in":
        return actual not in value
    items = actual if isinstance(actual, (list, tuple, set, frozenset)) else ()
    if op == "contains":
        return value in items
    if op == "not_contains":
        return value not in items
    if op == "contains_any":
        return any(item in items for item in value)
    if op == "contains_all":
        return all(item in items for item in value)
    if op in ("in_category", "not_in_category"):
        member = bool(in_category and isinstance(actual, str) and in_category(actual, value))
        return member if op == "in_category" else not member
    raise ValueError(f"unknown operator {op!r}")
