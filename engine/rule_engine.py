"""Rule engine adapter: declarative conditions compiled into one durable-rules ruleset.

How durable-rules is driven here, and why (NOTES.md has the measurements):

* One ruleset per distinct rule set, built once per process and cached by content hash;
  one fixed session id (``SESSION_ID``) for the whole process. A new session per turn or
  per conversation would exhaust durable's fixed C table (1,024 live sessions) and later
  crash its timer thread.
* No ``durable.lang.Host`` and no ``durable.engine.Ruleset`` wrapper: the Host's background
  ``threading.Timer`` dispatch loop is where the crash happens (and could steal an action
  from the calling thread), and the wrapper's per-action closures made RSS creep ~8 MiB per
  million evaluations. We drive the C engine (``durable_rules_engine``) directly,
  synchronously, under a lock: assert → start_action_for_state → complete_and_start_action…
  → retract. Measured flat (benchmarks/rules_soak.py).
* Each evaluation ``assert_fact``s one fact (all rules see it, unlike ``post`` which fires
  only the first match), runs the queued actions in salience order, then retracts that fact
  and every fact derived from it, so memory stays flat. A fact that matches nothing raises
  ``MessageNotHandledException`` (then nothing was stored); a unique evaluation id in every
  fact avoids ``MessageObservedException``.
* Forward chaining: a rule may assert a derived fact; rules that need it join on the
  evaluation id. Negated derived facts are rejected at load time (durable does not withdraw
  an activation queued before the fact appeared).
* Actions are plain Python here, run between ``start_action`` and ``complete_and_start_action``
  (the wrapper's rule — one parameter, or durable treats the action as async — does not apply).
"""
from __future__ import annotations

import hashlib
import itertools
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import durable_rules_engine as _durable

from engine.conditions import AllOf, AnyOf, Condition, Derived, Leaf, NotOf, derived_names, evaluate, negate, referenced_facts

__all__ = ["RuleDef", "Firing", "Evaluation", "CompiledRuleset", "RuleHost", "rule_host", "SESSION_ID", "MAX_SALIENCE"]

SESSION_ID = "spinflow"
MAX_SALIENCE = 1000
_SENTINEL = "\u2205"  # pads list facts: durable's allItems is false on an empty list
# Result codes of durable_rules_engine.assert_fact / retract_fact (see durable/engine.py _handle_result).
_NOT_HANDLED = 1  # MessageNotHandledException in the wrapper: no rule matches, nothing stored
_OBSERVED = 2  # MessageObservedException: the same fact is already held


@dataclass(frozen=True)
class RuleDef:
    """One rule as the engine sees it: id, salience (higher fires first), condition, asserts."""

    rule_id: str
    salience: int
    condition: Condition | None
    asserts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Firing:
    """A rule that fired: position in the firing order and the facts its condition read."""

    rule_id: str
    order: int
    salience: int
    facts: dict[str, Any]
    derived: tuple[str, ...]
    asserted: tuple[str, ...]


@dataclass
class Evaluation:
    firings: list[Firing] = field(default_factory=list)
    derived: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    evaluation_id: int = 0
    fired: set[str] = field(default_factory=set)
    stored: list[str] = field(default_factory=list)  # derived facts durable holds (to retract)


class CompiledRuleset:
    """A set of rules compiled into one durable-rules ruleset with one fixed session."""

    def __init__(self, name: str, rules: Sequence[RuleDef]) -> None:
        self.name = name
        self.rules = {rule.rule_id: rule for rule in rules}
        self._order = sorted(rules, key=lambda rule: -rule.salience)  # stable: file order on ties
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._facts_of = {rule.rule_id: referenced_facts(rule.condition) for rule in rules}
        # Only facts some rule reads are sent: durable JSON-encodes and parses every fact.
        self._used = sorted({name for names in self._facts_of.values() for name in names})
        self._category_slots: dict[tuple[str, str], str] = {}
        self.evaluations = 0
        definition: dict[str, Any] = {}
        for position, rule in enumerate(self._order):
            definition[f"r{position:03d}_{rule.rule_id}"] = self._compile_rule(rule)
        self.definition_json = json.dumps(definition, ensure_ascii=False)
        self._actions = {key: (rule.rule_id, rule.salience, tuple(dict.fromkeys(derived_names(rule.condition))), rule.asserts) for key, rule in zip(definition, self._order, strict=True)}
        self._handle = _durable.create_ruleset(name, self.definition_json)

    # -- compilation -----------------------------------------------------------------------
    def _compile_rule(self, rule: RuleDef) -> dict[str, Any]:
        base_parts: list[Any] = [{"kind": "turn"}]
        derived = list(dict.fromkeys(derived_names(rule.condition)))  # durable never matches one fact to two patterns
        condition = rule.condition
        if isinstance(condition, Derived):
            condition = None
        elif isinstance(condition, AllOf):
            plain = tuple(item for item in condition.items if not isinstance(item, Derived))
            condition = AllOf(plain) if plain else None
        if condition is not None:
            base_parts.append(self._expr(condition))
        patterns: list[dict[str, Any]] = [{"t": {"$and": base_parts} if len(base_parts) > 1 else base_parts[0]}]
        for index, name in enumerate(derived):
            patterns.append({f"d{index}": {"$and": [{"kind": "derived"}, {"name": name}, {"eid": {"t": "eid"}}]}})
        return {"all": patterns, "pri": MAX_SALIENCE + 1 - max(0, min(MAX_SALIENCE, rule.salience))}

    def _expr(self, condition: Condition) -> Any:
        if isinstance(condition, AllOf):
            return {"$and": [self._expr(item) for item in condition.items]}
        if isinstance(condition, AnyOf):
            return {"$or": [self._expr(item) for item in condition.items]}
        if isinstance(condition, NotOf):
            return self._expr(negate(condition.item))
        if isinstance(condition, Leaf):
            return self._leaf(condition)
        raise ValueError("derived facts are joined, not compiled as expressions")

    def _leaf(self, leaf: Leaf) -> Any:
        key, op, value = "f_" + leaf.fact, leaf.op, leaf.value
        if op == "eq":
            return {key: value}
        if op == "ne":
            return {"$neq": {key: value}}
        if op in ("gt", "gte", "lt", "lte"):
            return {f"${op}": {key: value}}
        if op == "in":
            return {"$or": [{key: item} for item in value]}
        if op == "not_in":
            return {"$and": [{"$neq": {key: item}} for item in value]}
        if op == "contains":
            return {"$iany": {key: {"$i": value}}}
        if op == "not_contains":
            return {"$iall": {key: {"$neq": {"$i": value}}}}
        if op == "contains_any":
            return {"$or": [{"$iany": {key: {"$i": item}}} for item in value]}
        if op == "contains_all":
            return {"$and": [{"$iany": {key: {"$i": item}}} for item in value]}
        if op in ("in_category", "not_in_category"):
            slot = self._category_slots.setdefault((leaf.fact, value), f"c{len(self._category_slots)}")
            return {slot: op == "in_category"}
        raise ValueError(f"unknown operator {op!r}")

    # -- evaluation ------------------------------------------------------------------------
    def encode(self, facts: Mapping[str, Any], in_category: Callable[[str, str], bool] | None) -> dict[str, Any]:
        encoded: dict[str, Any] = {}
        for name in self._used:
            value = facts.get(name)
            if isinstance(value, (list, tuple, set, frozenset)):
                encoded["f_" + name] = [str(item) for item in value] + [_SENTINEL]
            elif value is None:
                encoded["f_" + name] = ""
            else:
                encoded["f_" + name] = value
        for (fact, category), slot in self._category_slots.items():
            actual = facts.get(fact)
            encoded[slot] = bool(in_category and isinstance(actual, str) and in_category(actual, category))
        return encoded

    def evaluate(self, facts: Mapping[str, Any], in_category: Callable[[str, str], bool] | None = None) -> Evaluation:
        """Assert the facts, fire every matching rule in salience order, retract everything."""
        encoded = self.encode(facts, in_category)
        with self._lock:
            evaluation = Evaluation(evaluation_id=next(self._ids))
            fact = json.dumps(dict(encoded, kind="turn", eid=evaluation.evaluation_id, sid=SESSION_ID), ensure_ascii=False)
            stored = False
            try:
                code, state = _durable.assert_fact(self._handle, fact)
                if code == _NOT_HANDLED:
                    pass  # no rule can ever match this fact: nothing stored, nothing fired
                elif code == _OBSERVED:
                    evaluation.errors.append("fact already observed (a previous evaluation was not retracted)")
                else:
                    stored = True
                    self._run_actions(state, evaluation)
            finally:
                for name in evaluation.stored:
                    self._retract(self._derived_json(name, evaluation.evaluation_id), evaluation)
                if stored:
                    self._retract(fact, evaluation)
            self.evaluations += 1
        for index, firing in enumerate(evaluation.firings):
            evaluation.firings[index] = Firing(firing.rule_id, firing.order, firing.salience, {name: facts.get(name) for name in self._facts_of[firing.rule_id]}, firing.derived, firing.asserted)
        return evaluation

    @staticmethod
    def _derived_json(name: str, evaluation_id: int) -> str:
        return json.dumps({"kind": "derived", "name": name, "eid": evaluation_id, "sid": SESSION_ID}, ensure_ascii=False)

    def _run_actions(self, state: int, evaluation: Evaluation) -> None:
        """Run queued actions one by one: durable hands out the next only after the previous completes."""
        started = _durable.start_action_for_state(self._handle, state)
        message = started[1] if started else None
        while message:
            key = next(iter(json.loads(message)))
            self._fire(key, evaluation)
            message = _durable.complete_and_start_action(self._handle, state)

    def _fire(self, key: str, evaluation: Evaluation) -> None:
        rule_id, salience, derived, asserts = self._actions[key]
        if rule_id in evaluation.fired:
            return  # an '$or' matched on several branches: durable queues one activation per branch
        evaluation.fired.add(rule_id)
        evaluation.firings.append(Firing(rule_id, len(evaluation.firings) + 1, salience, {}, derived, tuple(asserts)))
        for name in asserts:
            if name in evaluation.derived:
                continue
            evaluation.derived.append(name)
            code, _state = _durable.assert_fact(self._handle, self._derived_json(name, evaluation.evaluation_id))
            if code == _NOT_HANDLED:
                continue  # no rule uses this derived fact: durable stored nothing, nothing to retract
            if code == _OBSERVED:
                evaluation.errors.append(f"derived fact '{name}' already observed")
                continue
            evaluation.stored.append(name)

    def _retract(self, fact: str, evaluation: Evaluation) -> None:
        code, state = _durable.retract_fact(self._handle, fact)
        if code in (_NOT_HANDLED, _OBSERVED):
            evaluation.errors.append(f"retract failed (code {code})")
            return
        spare = Evaluation()
        self._run_actions(state, spare)  # retraction never activates a rule here; drain to be safe
        if spare.firings:
            evaluation.errors.append(f"retraction fired {[firing.rule_id for firing in spare.firings]}")

    def stored_facts(self) -> list[dict[str, Any]]:
        """Facts currently held by the session (should be empty between evaluations)."""
        with self._lock:
            return list(json.loads(_durable.get_facts(self._handle, SESSION_ID)))

    def evaluate_python(self, facts: Mapping[str, Any], in_category: Callable[[str, str], bool] | None = None) -> list[str]:
        """Reference semantics in plain Python (salience order, chaining to a fixpoint).

        Used by tests to check the durable compilation and by the benchmark as a baseline.
        """
        fired: list[str] = []
        derived: list[str] = []
        progress = True
        while progress:
            progress = False
            for rule in self._order:
                if rule.rule_id in fired:
                    continue
                if evaluate(rule.condition, facts, in_category, derived):
                    fired.append(rule.rule_id)
                    derived.extend(name for name in rule.asserts if name not in derived)
                    progress = True
                    break
        return fired


def _ruleset_key(name: str, rules: Sequence[RuleDef]) -> str:
    payload = repr((name, [(rule.rule_id, rule.salience, rule.condition, rule.asserts) for rule in rules]))
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


class RuleHost:
    """Process-wide cache of compiled rulesets (durable's C side lives as long as the process)."""

    def __init__(self) -> None:
        self._rulesets: dict[str, CompiledRuleset] = {}
        self._lock = threading.Lock()

    def compile(self, name: str, rules: Sequence[RuleDef]) -> CompiledRuleset:
        key = _ruleset_key(name, rules)
        with self._lock:
            if key not in self._rulesets:
                self._rulesets[key] = CompiledRuleset(f"{name}_{key}", rules)
            return self._rulesets[key]

    def __len__(self) -> int:
        return len(self._rulesets)


_HOST: RuleHost | None = None


def rule_host() -> RuleHost:
    """The process's rule host (created on first use, never replaced)."""
    global _HOST
    if _HOST is None:
        _HOST = RuleHost()
    return _HOST
