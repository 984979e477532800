"""Expectation semantics: compare what a turn (or a whole dialogue) did with what was expected.

Per turn: ``intent``, ``state`` (after the turn) and ``action`` pass when the observed value
is any of the listed ones; ``contains`` passes when the reply contains any listed phrase and
``not_contains`` when it contains none (both case-insensitive, ``ё`` read as ``е``); ``tier``
passes when the fallback tier used is any listed one, by name (``knowledge``) or number
(``"1"``); ``none`` means no fallback tier was used.
Every turn also gets a ``clean`` check: it ran without a node error.

Per dialogue (``outcome``): ``reaches`` passes when every listed state was visited (the
state after some turn), ``final_state`` when the state after the last turn is any listed
one, ``max_turns_in_state`` when no state was held for more consecutive turns.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.evaluation.spec import NO_TIER, Expect, Outcome, as_tuple

__all__ = ["TurnObservation", "Check", "judge_turn", "judge_outcome", "longest_hold", "fold"]


@dataclass
class TurnObservation:
    """What one turn did, as the evaluation sees it (JSON-ready)."""

    turn: int
    client: str
    intent: str | None
    state: str
    action: str | None
    reply: str
    tier: str | None = None  # fallback tier used (its name, e.g. "knowledge"), None when none was
    tier_number: int | None = None  # the same tier as a number (1-4) when the node gives one
    fallback_reason: str | None = None
    template_id: str | None = None
    status: str = "ok"  # ok | degraded | crashed
    errors: list[str] = field(default_factory=list)
    duration_ms: float = 0.0
    data_changed: list[str] = field(default_factory=list)  # collected_data keys added or changed

    def to_json(self) -> dict[str, Any]:
        # Flat fields: a shallow copy (lists copied) gives what asdict's deep walk did, ~10x cheaper
        # (asdict was ~0.1 ms per evaluated turn).
        return {**vars(self), "errors": list(self.errors), "data_changed": list(self.data_changed)}


@dataclass
class Check:
    """One expectation checked: ``key`` is ``intent``, ``outcome.reaches``, ``clean``, …"""

    key: str
    passed: bool
    expected: Any
    got: Any
    turn: int | None = None  # None for dialogue-level (outcome) checks

    def to_json(self) -> dict[str, Any]:
        return {**vars(self), "expected": _copied(self.expected), "got": _copied(self.got)}


def _copied(value: Any) -> Any:
    """Lists, tuples and dicts copied as asdict did (expected/got values are flat: names, numbers)."""
    if type(value) in (list, tuple):
        return type(value)(_copied(item) for item in value)
    if type(value) is dict:
        return {key: _copied(item) for key, item in value.items()}
    return value


def fold(text: str) -> str:
    """Case-insensitive, ``ё``-insensitive form for phrase matching."""
    return text.casefold().replace("ё", "е")


def judge_turn(expect: Expect | None, observed: TurnObservation) -> list[Check]:
    checks = [Check("clean", observed.status == "ok", "ok", observed.status if not observed.errors else f"{observed.status}: {observed.errors[0]}", observed.turn)]
    if expect is None:
        return checks
    for key in ("intent", "state", "action"):
        wanted = as_tuple(getattr(expect, key))
        if wanted:
            got = getattr(observed, key)
            checks.append(Check(key, got in wanted, list(wanted), got, observed.turn))
    reply = fold(observed.reply)
    phrases = as_tuple(expect.contains)
    if phrases:
        checks.append(Check("contains", any(fold(p) in reply for p in phrases), list(phrases), observed.reply, observed.turn))
    phrases = as_tuple(expect.not_contains)
    if phrases:
        found = [p for p in phrases if fold(p) in reply]
        checks.append(Check("not_contains", not found, list(phrases), found or observed.reply, observed.turn))
    tiers = as_tuple(expect.tier)
    if tiers:
        got_tier = observed.tier or NO_TIER
        aliases = {got_tier} | ({str(observed.tier_number)} if observed.tier_number is not None else set())
        checks.append(Check("tier", bool(aliases & set(tiers)), list(tiers), got_tier, observed.turn))
    return checks


def longest_hold(states: Sequence[str]) -> tuple[str | None, int]:
    """The state held for the most consecutive turns, and for how many."""
    best: tuple[str | None, int] = (None, 0)
    run = 0
    for index, state in enumerate(states):
        run = run + 1 if index and states[index - 1] == state else 1
        if run > best[1]:
            best = (state, run)
    return best


def judge_outcome(outcome: Outcome | None, observed: Sequence[TurnObservation]) -> list[Check]:
    if outcome is None:
        return []
    states = [turn.state for turn in observed]
    checks: list[Check] = []
    wanted = as_tuple(outcome.reaches)
    if wanted:
        missing = [state for state in wanted if state not in states]
        checks.append(Check("outcome.reaches", not missing, list(wanted), {"missing": missing, "visited": list(dict.fromkeys(states))}))
    finals = as_tuple(outcome.final_state)
    if finals:
        last = states[-1] if states else None
        checks.append(Check("outcome.final_state", last in finals, list(finals), last))
    if outcome.max_turns_in_state is not None:
        state, held = longest_hold(states)
        checks.append(Check("outcome.max_turns_in_state", held <= outcome.max_turns_in_state, outcome.max_turns_in_state, {"state": state, "turns": held}))
    return checks
