"""A loopback HTTP server that speaks Ollama's API, with scriptable misbehaviour.

Tests run the *real* ``ollama`` client (and our ``engine.llm.LLMClient``) against it. It
answers like Ollama does: ``POST /api/chat`` (one JSON object, or NDJSON chunks when the
request streams — Ollama streams unless ``"stream": false``), ``GET /api/tags``,
``GET /api/version``, ``GET /`` ("Ollama is running"), 404 with ``{"error": ...}`` for a
model it does not have, 400 for a body without a model or with broken JSON.

Behaviours are queued per request (``server.script(...)``) and fall back to
``server.default``; every request is recorded (``server.requests``) so a test can assert
what the client sent: the model, the ``format`` schema, the messages, the options.
"""
from __future__ import annotations

import json
import socket
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = [
    "Behaviour",
    "FakeOllama",
    "RecordedRequest",
    "answer",
    "closed_port_url",
    "drop",
    "empty",
    "http_error",
    "malformed",
    "not_json_body",
    "respond_with",
    "slow",
]

OLLAMA_VERSION = "0.6.5"


@dataclass(frozen=True)
class Behaviour:
    """How the server answers one ``/api/chat`` request."""

    kind: str  # answer | status | drop | raw
    content: str = ""
    status: int = 200
    error: str = ""
    delay_s: float = 0.0
    body: bytes = b""
    responder: Callable[[RecordedRequest], Any] | None = None
    done_reason: str = "stop"


def answer(payload: Any, *, delay_s: float = 0.0) -> Behaviour:
    """Reply with ``payload`` as the message content (dicts/lists are JSON-encoded)."""
    content = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
    return Behaviour("answer", content=content, delay_s=delay_s)


def slow(delay_s: float, payload: Any = "{}") -> Behaviour:
    """Reply only after ``delay_s`` seconds (longer than the client's timeout)."""
    return answer(payload, delay_s=delay_s)


def malformed(text: str = '{"intent": "agreement", "confidence": 0.9, "reas') -> Behaviour:
    """Content that is not JSON (by default: cut off as if the model hit its token limit)."""
    return Behaviour("answer", content=text, done_reason="length")


def empty() -> Behaviour:
    """A well-formed chat response whose message content is empty."""
    return Behaviour("answer", content="")


def http_error(status: int = 500, error: str = "llama runner process has terminated: exit status 2") -> Behaviour:
    """An HTTP error status with Ollama's ``{"error": ...}`` body."""
    return Behaviour("status", status=status, error=error)


def drop() -> Behaviour:
    """Read the request, then close the connection without answering."""
    return Behaviour("drop")


def not_json_body(body: bytes = b"<html>bad gateway</html>") -> Behaviour:
    """HTTP 200 whose body is not JSON at all (a broken proxy in front of Ollama)."""
    return Behaviour("raw", body=body)


def respond_with(responder: Callable[[RecordedRequest], Any], *, delay_s: float = 0.0) -> Behaviour:
    """Compute the content from the request (e.g. pick an intent from the last message)."""
    return Behaviour("answer", responder=responder, delay_s=delay_s)


@dataclass
class RecordedRequest:
    method: str
    path: str
    body: Any  # parsed JSON, or the raw text when it was not JSON
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list((self.body or {}).get("messages") or []) if isinstance(self.body, dict) else []

    @property
    def last_user_text(self) -> str:
        for message in reversed(self.messages):
            if message.get("role") == "user":
                return str(message.get("content") or "")
        return ""


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _model_entry(name: str) -> dict[str, Any]:
    family = name.split(":", 1)[0].rstrip("0123456789.")
    return {
        "name": name,
        "model": name,
        "modified_at": "2025-01-15T10:20:30.123456789+06:00",
        "size": 4683087332,
        "digest": "845dbda0ea48ed749caafd9e6037047aa19acfcfd82e704d7ca97d631a0b697e",
        "details": {
            "parent_model": "",
            "format": "gguf",
            "family": family or "llama",
            "families": [family or "llama"],
            "parameter_size": "7.6B",
            "quantization_level": "Q4_K_M",
        },
    }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    # -- plumbing ------------------------------------------------------------------------
    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, body: bytes, content_type: str = "application/json; charset=utf-8") -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
            self.close_connection = True

    def _send_json(self, status: int, payload: Any) -> None:
        self._send(status, json.dumps(payload, ensure_ascii=False).encode())

    # -- routes ----------------------------------------------------------------------------
    def do_HEAD(self) -> None:
        self._send(200 if self.path == "/" else 404, b"")

    def do_GET(self) -> None:
        owner = self.server.owner
        owner._record(RecordedRequest("GET", self.path, None, dict(self.headers)))
        if self.path == "/api/tags":
            self._send_json(200, {"models": [_model_entry(name) for name in owner.models]})
        elif self.path == "/api/version":
            self._send_json(200, {"version": OLLAMA_VERSION})
        elif self.path == "/":
            self._send(200, b"Ollama is running", "text/plain; charset=utf-8")
        else:
            self._send(404, b"404 page not found", "text/plain")

    def do_POST(self) -> None:
        owner = self.server.owner
        raw = self._read_body()
        try:
            body: Any = json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            body = raw.decode("utf-8", "replace")
        request = RecordedRequest("POST", self.path, body, dict(self.headers))
        owner._record(request)
        if self.path != "/api/chat":
            self._send(404, b"404 page not found", "text/plain")
            return
        if not isinstance(body, dict):
            self._send_json(400, {"error": "invalid character looking for beginning of value"})
            return
        model = body.get("model")
        if not model:
            self._send_json(400, {"error": "model is required"})
            return
        if model not in owner.models:
            self._send_json(404, {"error": f'model "{model}" not found, try pulling it first'})
            return
        behaviour = owner._next_behaviour()
        if behaviour.delay_s and owner._stopping.wait(behaviour.delay_s):
            self.close_connection = True
            return
        if behaviour.kind == "drop":
            self.close_connection = True  # finish() closes the socket; nothing was written
            return
        if behaviour.kind == "status":
            self._send_json(behaviour.status, {"error": behaviour.error})
            return
        if behaviour.kind == "raw":
            self._send(200, behaviour.body)
            return
        content = behaviour.content
        if behaviour.responder is not None:
            produced = behaviour.responder(request)
            content = produced if isinstance(produced, str) else json.dumps(produced, ensure_ascii=False)
        if body.get("stream", True) is False:
            self._send_json(200, self._final(model, content, behaviour.done_reason))
        else:
            self._stream(model, content, behaviour.done_reason)

    # -- chat bodies -----------------------------------------------------------------------
    @staticmethod
    def _final(model: str, content: str, done_reason: str) -> dict[str, Any]:
        tokens = max(1, len(content) // 4)
        return {
            "model": model,
            "created_at": _now(),
            "message": {"role": "assistant", "content": content},
            "done_reason": done_reason,
            "done": True,
            "total_duration": 1_234_567_890,
            "load_duration": 12_345_678,
            "prompt_eval_count": 321,
            "prompt_eval_duration": 234_567_890,
            "eval_count": tokens,
            "eval_duration": 987_654_321,
        }

    def _stream(self, model: str, content: str, done_reason: str) -> None:
        pieces = [content[i : i + 8] for i in range(0, len(content), 8)]
        lines = [{"model": model, "created_at": _now(), "message": {"role": "assistant", "content": piece}, "done": False} for piece in pieces]
        final = self._final(model, "", done_reason)
        lines.append(final)
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/x-ndjson")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for line in lines:
                data = (json.dumps(line, ensure_ascii=False) + "\n").encode()
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    owner: FakeOllama


class FakeOllama:
    """The server. ``start()`` binds a free port on 127.0.0.1; ``url`` is its base URL."""

    def __init__(self, models: tuple[str, ...] = ("qwen2.5:7b-instruct", "llama3.2:latest")) -> None:
        self.models = list(models)
        self.default: Behaviour = answer({})
        self.requests: list[RecordedRequest] = []
        self._queue: deque[Behaviour] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> FakeOllama:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-ollama", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes handlers sleeping in a slow behaviour
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeOllama:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "start() the server first"
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- scripting -------------------------------------------------------------------------
    def script(self, *behaviours: Behaviour) -> None:
        """Queue behaviours for the next chat requests, in order; then ``default`` applies."""
        with self._lock:
            self._queue.extend(behaviours)

    def always(self, behaviour: Behaviour) -> None:
        """Answer every chat request (after the queue) this way."""
        with self._lock:
            self.default = behaviour

    def _next_behaviour(self) -> Behaviour:
        with self._lock:
            return self._queue.popleft() if self._queue else self.default

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    # -- inspection ------------------------------------------------------------------------
    @property
    def chat_requests(self) -> list[RecordedRequest]:
        with self._lock:
            return [request for request in self.requests if request.path == "/api/chat"]

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self._queue.clear()
            self.default = answer({})


def closed_port_url() -> str:
    """The URL of a loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"
