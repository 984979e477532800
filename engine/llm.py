"""LLM client: structured outputs from an Ollama server, with retries, timeouts and a breaker.

Generic on purpose — it knows pydantic schemas, not sales. ``LLMClient.structured`` sends
``/api/chat`` with ``format=<the schema's JSON schema>`` (Ollama's structured outputs),
parses the reply into the schema and turns every way this can fail into an ``LLMError``
whose ``reason`` is a stable, machine-readable code (see ``REASONS``). Callers fall back on
any ``LLMError``; they never see an ``httpx``/``ollama`` exception.

A circuit breaker shared by every caller of one client stops hammering a dead server:
after ``breaker_failures`` consecutive failed calls it opens for ``breaker_reset_s`` and
calls fail fast with ``circuit_open`` (no network); then one trial call is let through
(half-open) and its outcome closes or re-opens the breaker.
"""
from __future__ import annotations

import functools
import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import ollama
from pydantic import BaseModel, ValidationError

from engine.config import LLMSettings
from engine.errors import EngineError
from engine.resources import Resources, resource

__all__ = ["LLMClient", "LLMError", "CircuitBreaker", "REASONS", "RETRYABLE", "build_llm_client"]

M = TypeVar("M", bound=BaseModel)

#: Every ``LLMError.reason``. Callers may branch on these; they are part of the trace.
REASONS = frozenset(
    {
        "connection_refused",  # nothing listens at the host (or DNS failed)
        "connection_dropped",  # the server closed the connection mid-request
        "timeout",  # no complete answer within the per-call timeout
        "http_error",  # non-2xx status; ``status`` says which (404: model not pulled)
        "invalid_json",  # the reply (or its content) is not JSON
        "schema_violation",  # JSON, but the schema rejects it (e.g. intent outside the enum)
        "empty_response",  # the model answered nothing
        "circuit_open",  # the breaker is open; no request was sent
        "unexpected",  # anything else (a bug, a bad request built by the caller)
    }
)

#: Failures worth one more attempt: the transport or the server hiccupped. Timeouts are
#: not retried (a slow model stays slow and the turn would wait twice), nor are answers the
#: model gave (invalid JSON, schema violations, empty content) or 4xx statuses.
RETRYABLE = frozenset({"connection_refused", "connection_dropped", "http_error_5xx"})


class LLMError(EngineError):
    """An LLM call failed; ``reason`` is one of ``REASONS``."""

    def __init__(self, reason: str, detail: str = "", *, status: int | None = None, attempts: int = 0, latency_ms: float = 0.0) -> None:
        self.reason = reason
        self.detail = detail
        self.status = status
        self.attempts = attempts
        self.latency_ms = latency_ms
        text = reason if status is None else f"{reason} (status {status})"
        super().__init__(f"{text}: {detail}" if detail else text)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary for traces."""
        return {"reason": self.reason, "status": self.status, "detail": self.detail[:300], "attempts": self.attempts}


class CircuitBreaker:
    """Consecutive-failure breaker: closed → open (fail fast) → half-open (one trial)."""

    def __init__(self, failures: int, reset_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.failures_to_open = failures
        self.reset_s = reset_s
        self._clock = clock
        self._lock = threading.Lock()
        self._consecutive = 0
        self._opened_at: float | None = None
        self._trial_in_flight = False

    @property
    def state(self) -> str:
        with self._lock:
            return self._state_locked()

    def _state_locked(self) -> str:
        if self._opened_at is None:
            return "closed"
        if self._clock() - self._opened_at >= self.reset_s:
            return "half_open"
        return "open"

    def allow(self) -> bool:
        """May a call go out now? In half-open state only one trial call is allowed."""
        with self._lock:
            state = self._state_locked()
            if state == "closed":
                return True
            if state == "half_open" and not self._trial_in_flight:
                self._trial_in_flight = True
                return True
            return False

    def record_success(self) -> None:
        with self._lock:
            self._consecutive = 0
            self._opened_at = None
            self._trial_in_flight = False

    def record_failure(self) -> None:
        with self._lock:
            self._consecutive += 1
            if self._trial_in_flight or self._consecutive >= self.failures_to_open:
                self._opened_at = self._clock()
            self._trial_in_flight = False

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"state": self._state_locked(), "consecutive_failures": self._consecutive}


@dataclass(frozen=True, slots=True)
class _Attempt:
    """What one HTTP exchange produced: a parsed model or a classified failure."""

    value: BaseModel | None
    error: LLMError | None


class LLMClient:
    """The real ``ollama.Client`` behind a structured-output call with bounded failure.

    Thread-safe: one client (and one breaker) per loaded config, shared by every node.
    ``clock``/``sleep`` are injectable so breaker and backoff tests need no real waiting.
    """

    def __init__(
        self,
        settings: LLMSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        backoff_s: float = 0.05,
    ) -> None:
        self.settings = settings
        self.breaker = CircuitBreaker(settings.breaker_failures, settings.breaker_reset_s, clock)
        self._sleep = sleep
        self._backoff_s = backoff_s
        self._clients: dict[float, ollama.Client] = {}
        self._lock = threading.Lock()

    # -- public API ----------------------------------------------------------------------
    def structured(
        self,
        messages: Sequence[Mapping[str, Any]],
        schema: type[M],
        *,
        options: Mapping[str, Any] | None = None,
        timeout_s: float | None = None,
        model: str | None = None,
        think: bool | None = None,
    ) -> M:
        """Chat with ``format=schema.model_json_schema()`` and return the parsed answer.

        ``options`` are Ollama model options merged over ``{"temperature": settings}``;
        ``timeout_s`` overrides the configured per-attempt timeout; ``think`` is sent only
        when given (``False`` keeps a reasoning model's thoughts out of the JSON content).
        Raises ``LLMError``.
        """
        started = time.perf_counter()
        if not self.breaker.allow():
            raise self._circuit_open(started)
        attempts = 0
        try:
            request = {
                "model": model or self.settings.model,
                "messages": [dict(message) for message in messages],
                "format": _json_schema(schema),
                "options": {"temperature": self.settings.temperature, **dict(options or {})},
                "stream": False,
            }
            if think is not None:
                request["think"] = think
            client = self._client(timeout_s or self.settings.timeout_s)
            while True:
                attempts += 1
                outcome = self._attempt(client, request, schema)
                if outcome.error is None:
                    self.breaker.record_success()
                    return outcome.value  # type: ignore[return-value]
                error = outcome.error
                if attempts > self.settings.max_retries or _retry_key(error) not in RETRYABLE:
                    break
                self._sleep(self._backoff_s * attempts)
        except Exception as exc:  # noqa: BLE001 - building the request failed: still a failed call
            error = _classify(exc)
        # Every path that let a call out must settle the breaker (a half-open trial included).
        self.breaker.record_failure()
        error.attempts = attempts
        error.latency_ms = _ms(started)
        raise error

    def raise_if_open(self) -> None:
        """Fail fast before building a costly request when the breaker is open.

        Only peeks: a half-open breaker is not consumed, ``structured`` takes the trial.
        """
        if self.breaker.state == "open":
            raise self._circuit_open(time.perf_counter())

    def server_version(self, timeout_s: float | None = None) -> str:
        """``GET /api/version`` (raises ``LLMError``); for health checks, not breaker-gated."""
        try:
            response = self._client(timeout_s or self.settings.timeout_s)._request_raw("GET", "/api/version")
            return str(response.json().get("version", ""))
        except Exception as exc:  # noqa: BLE001 - classified below
            raise _classify(exc) from exc

    def models(self, timeout_s: float | None = None) -> list[str]:
        """Names of the models the server has pulled (``GET /api/tags``); raises ``LLMError``."""
        try:
            listed = self._client(timeout_s or self.settings.timeout_s).list()
            return [str(item.model) for item in listed.models]
        except Exception as exc:  # noqa: BLE001 - classified below
            raise _classify(exc) from exc

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()

    # -- internals -------------------------------------------------------------------------
    def _circuit_open(self, started: float) -> LLMError:
        detail = f"{self.settings.breaker_failures} consecutive failures; next trial after {self.settings.breaker_reset_s:g}s"
        return LLMError("circuit_open", detail, latency_ms=_ms(started))

    def _client(self, timeout_s: float) -> ollama.Client:
        # One ollama.Client (one httpx pool) per distinct timeout; the timeout bounds the
        # connect and each read. Ollama sends a non-streamed answer only when it is done,
        # so the read timeout is effectively the per-call timeout.
        with self._lock:
            client = self._clients.get(timeout_s)
            if client is None:
                client = ollama.Client(host=self.settings.host, timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 3.0)))
                self._clients[timeout_s] = client
            return client

    @staticmethod
    def _attempt(client: ollama.Client, request: Mapping[str, Any], schema: type[BaseModel]) -> _Attempt:
        try:
            response = client.chat(**request)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a reason code
            return _Attempt(None, _classify(exc))
        content = (response.message.content or "").strip()
        if not content:
            return _Attempt(None, LLMError("empty_response", f"done_reason={response.done_reason!r}"))
        try:
            payload = json.loads(content)
        except json.JSONDecodeError as exc:
            return _Attempt(None, LLMError("invalid_json", f"{exc.msg} at char {exc.pos}; done_reason={response.done_reason!r}; content starts {content[:80]!r}"))
        try:
            return _Attempt(schema.model_validate(payload), None)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "<root>"
            return _Attempt(None, LLMError("schema_violation", f"{exc.error_count()} error(s); {where}: {first['msg']}"))


def _classify(exc: BaseException) -> LLMError:
    """Map an exception from ``ollama``/``httpx`` onto a reason code."""
    if isinstance(exc, LLMError):
        return exc
    if isinstance(exc, httpx.TimeoutException):
        return LLMError("timeout", type(exc).__name__)
    if isinstance(exc, ollama.ResponseError):
        status = exc.status_code if exc.status_code and exc.status_code > 0 else None
        return LLMError("http_error", str(exc.error)[:300], status=status)
    if isinstance(exc, (ConnectionError, httpx.ConnectError)):
        # ollama turns httpx.ConnectError into the builtin ConnectionError.
        return LLMError("connection_refused", str(exc)[:200])
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError, httpx.CloseError)):
        return LLMError("connection_dropped", f"{type(exc).__name__}: {exc}")
    if isinstance(exc, json.JSONDecodeError):
        return LLMError("invalid_json", f"response body is not JSON: {exc.msg}")
    if isinstance(exc, ValidationError):
        if exc.title.endswith("Response"):
            return LLMError("invalid_json", f"response body is not an Ollama {exc.title}")
        return LLMError("unexpected", f"request rejected by the ollama client: {exc.title}: {exc.errors()[0]['msg']}")
    return LLMError("unexpected", f"{type(exc).__name__}: {exc}")


@functools.lru_cache(maxsize=64)
def _json_schema(schema: type[BaseModel]) -> dict[str, Any]:
    # A schema with a few hundred enum values takes ~1 ms to render; classes are immutable.
    return schema.model_json_schema()


def _retry_key(error: LLMError) -> str:
    if error.reason == "http_error" and error.status is not None and error.status >= 500:
        return "http_error_5xx"
    return error.reason


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


@resource("llm")
def build_llm_client(resources: Resources) -> LLMClient:
    """The shared client of one loaded config (host, model and limits from settings.llm)."""
    return LLMClient(resources.settings.llm)
