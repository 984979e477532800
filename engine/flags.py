"""Feature flags: YAML defaults, FF_<NAME> env overrides, named groups, runtime overrides.

``when:`` expressions in graphs are parsed here into closures over a flag snapshot; the
grammar is deliberately tiny (names, ``and``, ``or``, ``not``, parentheses) and never
evaluates Python.
"""
from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping

from engine.errors import EngineError

__all__ = ["FeatureFlags", "WhenExpression", "parse_when", "WhenSyntaxError", "parse_bool"]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"{text!r} is not a boolean (use true/false, on/off, 1/0)")


class FeatureFlags:
    """Flags in force for a runtime. Precedence: runtime override > env > YAML default."""

    def __init__(
        self,
        defaults: Mapping[str, bool],
        groups: Mapping[str, Iterable[str]] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.defaults = dict(defaults)
        self.groups = {name: list(members) for name, members in (groups or {}).items()}
        self._env: dict[str, bool] = {}
        self.env_problems: list[str] = []
        for key, value in (os.environ if environ is None else environ).items():
            if not key.startswith("FF_"):
                continue
            name = key[3:].lower()
            if name not in self.defaults:
                self.env_problems.append(f"{key}: unknown flag '{name}'")
                continue
            try:
                self._env[name] = parse_bool(value)
            except ValueError as exc:
                self.env_problems.append(f"{key}: {exc}")
        self._overrides: dict[str, bool] = {}
        self._snapshot: dict[str, bool] | None = None

    # -- queries -------------------------------------------------------------------------
    def is_enabled(self, name: str) -> bool:
        return self.snapshot()[name]

    def __contains__(self, name: object) -> bool:
        return name in self.defaults

    def snapshot(self) -> dict[str, bool]:
        """All flags with their effective values (cached until the next change)."""
        if self._snapshot is None:
            merged = dict(self.defaults)
            merged.update(self._env)
            merged.update(self._overrides)
            self._snapshot = merged
        return self._snapshot

    def source_of(self, name: str) -> str:
        if name in self._overrides:
            return "override"
        if name in self._env:
            return "env"
        return "default"

    # -- changes ---------------------------------------------------------------------------
    def set_override(self, name: str, value: bool) -> None:
        self._require(name)
        self._overrides[name] = bool(value)
        self._snapshot = None

    def clear_override(self, name: str) -> None:
        self._overrides.pop(name, None)
        self._snapshot = None

    def clear_all_overrides(self) -> None:
        self._overrides.clear()
        self._snapshot = None

    def enable_group(self, group: str) -> None:
        for name in self._group(group):
            self.set_override(name, True)

    def disable_group(self, group: str) -> None:
        for name in self._group(group):
            self.set_override(name, False)

    def _group(self, group: str) -> list[str]:
        if group not in self.groups:
            raise EngineError(f"unknown flag group {group!r}; known: {', '.join(sorted(self.groups))}")
        return self.groups[group]

    def _require(self, name: str) -> None:
        if name not in self.defaults:
            from engine.registry import suggest

            hint = suggest(name, self.defaults)
            raise EngineError(f"unknown feature flag {name!r}. {hint}".strip())


# -- when: expressions ----------------------------------------------------------------------
class WhenSyntaxError(ValueError):
    pass


_TOKEN = re.compile(r"\s*(?:(\()|(\))|([A-Za-z_][A-Za-z0-9_]*)|(\S))")


class WhenExpression:
    """A parsed ``when:`` expression: ``evaluate(flags)`` and the flag ``names`` it uses."""

    def __init__(self, source: str, evaluate: Callable[[Mapping[str, bool]], bool], names: frozenset[str]) -> None:
        self.source = source
        self.evaluate = evaluate
        self.names = names

    def __repr__(self) -> str:
        return f"WhenExpression({self.source!r})"


def parse_when(source: str) -> WhenExpression:
    """Parse ``a and (b or not c)``. Raises ``WhenSyntaxError`` with a readable reason."""
    tokens: list[str] = []
    for match in _TOKEN.finditer(source):
        if match.group(4):
            raise WhenSyntaxError(f"unexpected character {match.group(4)!r}")
        tokens.append(match.group(1) or match.group(2) or match.group(3))
    if not tokens:
        raise WhenSyntaxError("empty expression")
    names: set[str] = set()
    position = 0

    def peek() -> str | None:
        return tokens[position] if position < len(tokens) else None

    def take() -> str:
        nonlocal position
        token = tokens[position]
        position += 1
        return token

    def parse_or() -> Callable[[Mapping[str, bool]], bool]:
        left = parse_and()
        while peek() == "or":
            take()
            right = parse_and()
            left = (lambda a, b: lambda flags: a(flags) or b(flags))(left, right)
        return left

    def parse_and() -> Callable[[Mapping[str, bool]], bool]:
        left = parse_not()
        while peek() == "and":
            take()
            right = parse_not()
            left = (lambda a, b: lambda flags: a(flags) and b(flags))(left, right)
        return left

    def parse_not() -> Callable[[Mapping[str, bool]], bool]:
        if peek() == "not":
            take()
            inner = parse_not()
            return lambda flags: not inner(flags)
        return parse_atom()

    def parse_atom() -> Callable[[Mapping[str, bool]], bool]:
        token = peek()
        if token is None:
            raise WhenSyntaxError("expression ends too early")
        take()
        if token == "(":
            inner = parse_or()
            if peek() != ")":
                raise WhenSyntaxError("missing ')'")
            take()
            return inner
        if token in (")", "and", "or", "not"):
            raise WhenSyntaxError(f"unexpected {token!r}")
        if token == "true":
            return lambda flags: True
        if token == "false":
            return lambda flags: False
        names.add(token)
        return lambda flags: bool(flags.get(token, False))

    evaluate = parse_or()
    if position != len(tokens):
        raise WhenSyntaxError(f"unexpected {tokens[position]!r}")
    return WhenExpression(source, evaluate, frozenset(names))
