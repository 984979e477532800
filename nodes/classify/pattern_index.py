"""Index regex patterns by a literal each one requires, so a message runs only candidates.

``re`` tries patterns one at a time (one big alternation is 5–15× slower and yields one
match). Most patterns cannot match unless some literal — a word or stem — occurs in the
text; this module finds such a literal (or a set of alternatives, one of which must occur)
from the parsed regex itself, so designers never declare keys by hand. Patterns without a
usable literal are always tried. Results are exactly those of trying every pattern.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from re import _constants as sre_constants  # type: ignore[attr-defined]
from re import _parser as sre_parser  # type: ignore[attr-defined]
from typing import Any

__all__ = ["required_literals", "PatternIndex"]

_MIN_LITERAL = 2
_KEY = 3  # bucket key length: the first characters of each literal (measured: 3 beats 2, 4, 5)

_LITERAL = sre_constants.LITERAL
_SUBPATTERN = sre_constants.SUBPATTERN
_BRANCH = sre_constants.BRANCH
_REPEATS = (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT, getattr(sre_constants, "POSSESSIVE_REPEAT", None))
_ATOMIC = getattr(sre_constants, "ATOMIC_GROUP", None)


def _score(requirement: frozenset[str]) -> tuple[int, int]:
    """Longer shortest literal is more selective; fewer alternatives break ties."""
    return (min(len(s) for s in requirement), -len(requirement))


def _best(candidates: Iterable[frozenset[str]]) -> frozenset[str] | None:
    best: frozenset[str] | None = None
    for candidate in candidates:
        if candidate and min(len(s) for s in candidate) >= _MIN_LITERAL and (best is None or _score(candidate) > _score(best)):
            best = candidate
    return best


def _requirements(items: Sequence[tuple[Any, Any]]) -> list[frozenset[str]]:
    """Every requirement one occurrence of this sequence implies (each: one-of literals)."""
    found: list[frozenset[str]] = []
    run: list[str] = []

    def flush() -> None:
        if len(run) >= _MIN_LITERAL:
            found.append(frozenset({"".join(run)}))
        run.clear()

    for op, arg in items:
        if op is _LITERAL:
            run.append(chr(arg))
            continue
        flush()
        if op is _SUBPATTERN:
            if not arg[1] & re.IGNORECASE:  # a scoped (?i:…) group may match its literals in any case
                found.extend(_requirements(list(arg[-1])))
        elif _ATOMIC is not None and op is _ATOMIC:
            found.extend(_requirements(list(arg)))
        elif op is _BRANCH:
            alternatives = [_best(_requirements(list(branch))) for branch in arg[1]]
            if alternatives and all(alt is not None for alt in alternatives):
                found.append(frozenset().union(*alternatives))  # type: ignore[arg-type]
        elif op in _REPEATS and op is not None:
            low, _high, inner = arg
            if low >= 1:
                found.extend(_requirements(list(inner)))
    flush()
    return found


def required_literals(pattern: str, flags: int = 0) -> frozenset[str] | None:
    """A set of literals one of which occurs in every match of ``pattern`` (None if unknown).

    Case-insensitive patterns get no literal (the text is lowercased anyway, but a pattern
    with ``(?i)`` may spell its literals in capitals).
    """
    try:
        parsed = sre_parser.parse(pattern, flags)
    except re.error:
        return None
    if (parsed.state.flags | flags) & re.IGNORECASE:
        return None
    return _best(_requirements(list(parsed)))


class PatternIndex:
    """Compiled patterns plus a literal index. ``candidates(text)`` → pattern positions."""

    def __init__(self, patterns: Sequence[str]) -> None:
        self.compiled = [re.compile(pattern) for pattern in patterns]
        self.literals: list[frozenset[str] | None] = [required_literals(pattern) for pattern in patterns]
        self.always = [i for i, literals in enumerate(self.literals) if literals is None]
        # Literals of at least _KEY characters are bucketed by their first _KEY characters; a
        # message looks up only the _KEY-grams it contains (one set intersection), then checks
        # each literal of a hit bucket as a substring. Shorter literals (few) are checked
        # directly. Each literal is checked once, with every pattern position requiring it.
        buckets: dict[str, dict[str, list[int]]] = {}
        short: dict[str, list[int]] = {}
        for position, literals in enumerate(self.literals):
            for literal in literals or ():
                if len(literal) < _KEY:
                    short.setdefault(literal, []).append(position)
                else:
                    buckets.setdefault(literal[:_KEY], {}).setdefault(literal, []).append(position)
        self._buckets: dict[str, tuple[tuple[str, tuple[int, ...]], ...]] = {
            key: tuple((literal, tuple(positions)) for literal, positions in group.items()) for key, group in buckets.items()
        }
        self._keys = frozenset(self._buckets)
        self._short = tuple((literal, tuple(positions)) for literal, positions in short.items())

    @property
    def indexed_share(self) -> float:
        return 1 - len(self.always) / len(self.compiled) if self.compiled else 1.0

    def candidates(self, text: str) -> list[int]:
        """Positions (ascending) of every pattern that might match ``text``."""
        found = set(self.always)
        for literal, positions in self._short:
            if literal in text:
                found.update(positions)
        buckets = self._buckets
        for key in self._keys.intersection([text[i:i + _KEY] for i in range(len(text) - _KEY + 1)]):
            for literal, positions in buckets[key]:
                if literal in text:
                    found.update(positions)
        return sorted(found)

    def search(self, text: str) -> list[tuple[int, re.Match[str]]]:
        """(position, match) for every pattern that matches, in pattern order."""
        compiled = self.compiled
        out = []
        for position in self.candidates(text):
            match = compiled[position].search(text)
            if match is not None:
                out.append((position, match))
        return out
