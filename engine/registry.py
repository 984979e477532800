"""Node registry: explicit ``family.variant`` names, no dotted-path imports from YAML."""
from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from engine.errors import EngineError

__all__ = ["register", "get_node_class", "registered_names", "suggest", "load_builtin_nodes"]

_NAME = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
_REGISTRY: dict[str, type] = {}
T = TypeVar("T", bound=type)


def register(name: str) -> Callable[[T], T]:
    """Class decorator registering a node under ``family.variant``.

    The class must define ``Config`` (a frozen pydantic model forbidding extra keys),
    ``reads``/``writes`` (frozensets of state keys), ``__init__(config, resources)`` and
    ``run(state, ctx) -> dict``. A duplicate name raises at import time.
    """
    if not _NAME.match(name):
        raise EngineError(f"node name {name!r} must look like 'family.variant' (lowercase, snake_case)")

    def decorate(cls: T) -> T:
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise EngineError(f"node type {name!r} is registered twice: {_REGISTRY[name].__qualname__} and {cls.__qualname__}")
        for attribute in ("Config", "reads", "writes", "run"):
            if not hasattr(cls, attribute):
                raise EngineError(f"node type {name!r} ({cls.__qualname__}) lacks '{attribute}'")
        cls.type_name = name  # type: ignore[attr-defined]
        _REGISTRY[name] = cls
        return cls

    return decorate


def get_node_class(name: str) -> type:
    load_builtin_nodes()
    return _REGISTRY[name]


def registered_names() -> list[str]:
    load_builtin_nodes()
    return sorted(_REGISTRY)


def iter_registry() -> Iterator[tuple[str, type]]:
    load_builtin_nodes()
    yield from sorted(_REGISTRY.items())


def suggest(word: str, candidates: Any) -> str:
    """Return ``Did you mean 'x'?`` for the closest candidate, or an empty string."""
    matches = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f"Did you mean '{matches[0]}'?" if matches else ""


_loaded = False


def load_builtin_nodes() -> None:
    """Import ``nodes`` once so every built-in node registers itself."""
    global _loaded
    if not _loaded:
        _loaded = True
        import nodes  # noqa: F401  (registration side effect)
