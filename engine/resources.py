"""Shared heavy resources (morphology, embeddings, LLM client, rule host), built once.

A node family registers a factory with ``@resource(name)``; nodes ask
``resources.get(name)``. Factories marked ``per_process`` are cached for the whole process
(a 39 MiB MorphAnalyzer is not rebuilt for a second config dir); the others once per
``Resources`` (that is, per loaded config). A per-process resource with a ``persist()`` method
keeps a cache on disk: ``persist_resources()`` (at exit, and at the end of an evaluation chunk,
since forked workers skip exit handlers) lets it write what it learnt.
"""
from __future__ import annotations

import atexit
import logging
import threading
from collections.abc import Callable
from typing import Any

from engine.errors import EngineError

__all__ = ["Resources", "persist_resources", "resource"]

log = logging.getLogger(__name__)

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


def persist_resources() -> None:
    """Call ``persist()`` on every per-process resource built so far that has one; a failure is
    logged, never raised (a cache that cannot be written is rebuilt next time)."""
    for name, value in list(_PROCESS_CACHE.items()):
        persist = getattr(value, "persist", None)
        if callable(persist):
            try:
                persist()
            except Exception:  # noqa: BLE001 - only a cache
                log.warning("resource %s: persist failed", name, exc_info=True)


atexit.register(persist_resources)
