"""Shared heavy resources (morphology, embeddings, LLM client, rule host), built once.

A node family registers a factory with ``@resource(name)``; nodes ask
``resources.get(name)``. Factories marked ``per_process`` are cached for the whole process
(a 39 MiB MorphAnalyzer is not rebuilt for a second config dir); the others once per
``Resources`` (that is, per loaded config).
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from engine.errors import EngineError

__all__ = ["Resources", "resource"]

Factory = Callable[["Resources"], Any]
_FACTORIES: dict[str, tuple[Factory, bool]] = {}
_PROCESS_CACHE: dict[str, Any] = {}
_LOCK = threading.RLock()


def resource(name: str, *, per_process: bool = False) -> Callable[[Factory], Factory]:
    def decorate(factory: Factory) -> Factory:
        _FACTORIES[name] = (factory, per_process)
        return factory

    return decorate


class Resources:
    """What nodes get injected: the config bundle, settings and lazily built resources."""

    def __init__(self, bundle: Any) -> None:
        self.bundle = bundle
        self.settings = bundle.settings
        self._cache: dict[str, Any] = {}
        self.overrides: dict[str, Any] = {}

    def get(self, name: str) -> Any:
        if name in self.overrides:
            return self.overrides[name]
        if name in self._cache:
            return self._cache[name]
        with _LOCK:
            if name in self._cache:
                return self._cache[name]
            if name not in _FACTORIES:
                from engine.registry import load_builtin_nodes, suggest

                load_builtin_nodes()
                if name not in _FACTORIES:
                    raise EngineError(f"unknown resource {name!r}. {suggest(name, _FACTORIES)}".strip())
            factory, per_process = _FACTORIES[name]
            if per_process:
                if name not in _PROCESS_CACHE:
                    _PROCESS_CACHE[name] = factory(self)
                value = _PROCESS_CACHE[name]
            else:
                value = factory(self)
            self._cache[name] = value
            return value

    def provide(self, name: str, value: Any) -> None:
        """Inject a ready-made resource (tests use this for fakes at process boundaries)."""
        self.overrides[name] = value
