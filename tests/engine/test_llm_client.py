"""engine.llm.LLMClient: the real ollama client against the loopback Ollama server."""
from __future__ import annotations

import time
from typing import Literal

import httpx
import ollama
import pytest
from pydantic import BaseModel, Field

from engine.config import ConfigBundle, LLMSettings
from engine.llm import REASONS, LLMClient, LLMError
from tests.fakes.ollama_server import answer, closed_port_url, drop, empty, http_error, malformed, not_json_body, slow

MODEL = "qwen2.5:7b-instruct"


class Verdict(BaseModel):
    label: Literal["yes", "no"]
    score: float = Field(ge=0, le=1)


MESSAGES = [{"role": "system", "content": "Отвечай JSON."}, {"role": "user", "content": "Это вопрос?"}]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_client(url: str, **overrides: object) -> tuple[LLMClient, list[float], FakeClock]:
    values: dict[str, object] = {"host": url, "model": MODEL, "timeout_s": 2.0, "max_retries": 1, "breaker_failures": 3, "breaker_reset_s": 30.0, "temperature": 0.0}
    values.update(overrides)
    sleeps: list[float] = []
    clock = FakeClock()
    return LLMClient(LLMSettings(**values), clock=clock, sleep=sleeps.append), sleeps, clock


def failure(client: LLMClient, **kwargs: object) -> LLMError:
    with pytest.raises(LLMError) as caught:
        client.structured(MESSAGES, Verdict, **kwargs)  # type: ignore[arg-type]
    assert caught.value.reason in REASONS
    return caught.value


def test_success_returns_the_schema_and_sends_format_model_messages_options(ollama_server) -> None:
    ollama_server.always(answer({"label": "yes", "score": 0.8}))
    client, _sleeps, _clock = make_client(ollama_server.url, temperature=0.2)
    result = client.structured(MESSAGES, Verdict, options={"num_ctx": 4096})
    assert result == Verdict(label="yes", score=0.8)
    [request] = ollama_server.chat_requests
    assert request.body["model"] == MODEL
    assert request.body["format"] == Verdict.model_json_schema()
    assert request.body["format"]["properties"]["label"]["enum"] == ["yes", "no"]
    assert request.body["stream"] is False
    assert request.body["options"] == {"temperature": 0.2, "num_ctx": 4096}
    assert [m["role"] for m in request.messages] == ["system", "user"]
    assert request.last_user_text == "Это вопрос?"
    assert "think" not in request.body
    assert client.breaker.snapshot() == {"state": "closed", "consecutive_failures": 0}


def test_think_flag_is_sent_only_when_given(ollama_server) -> None:
    ollama_server.always(answer({"label": "no", "score": 0.1}))
    client, _sleeps, _clock = make_client(ollama_server.url)
    client.structured(MESSAGES, Verdict, think=False)
    assert ollama_server.chat_requests[0].body["think"] is False


def test_server_speaks_ollama_streaming_tags_and_version(ollama_server) -> None:
    ollama_server.always(answer("Привет, это длинный ответ модели"))
    raw = ollama.Client(host=ollama_server.url)
    chunks = list(raw.chat(model=MODEL, messages=MESSAGES, stream=True))
    assert "".join(chunk.message.content or "" for chunk in chunks) == "Привет, это длинный ответ модели"
    assert [chunk.done for chunk in chunks].count(True) == 1 and chunks[-1].done_reason == "stop"
    # Ollama streams unless told otherwise: a body without "stream" gets NDJSON.
    response = httpx.post(f"{ollama_server.url}/api/chat", json={"model": MODEL, "messages": MESSAGES})
    assert response.headers["content-type"] == "application/x-ndjson"
    assert len(response.text.strip().splitlines()) == 5
    client, _sleeps, _clock = make_client(ollama_server.url)
    assert client.models() == [MODEL, "llama3.2:latest"]
    assert client.server_version() == "0.6.5"


def test_unknown_model_is_http_404_and_not_retried(ollama_server) -> None:
    client, _sleeps, _clock = make_client(ollama_server.url, model="qwen3:14b", max_retries=3)
    error = failure(client)
    assert (error.reason, error.status, error.attempts) == ("http_error", 404, 1)
    assert "not found" in error.detail
    assert len(ollama_server.chat_requests) == 1


def test_connection_refused_is_retried_a_bounded_number_of_times() -> None:
    client, sleeps, _clock = make_client(closed_port_url(), max_retries=2)
    error = failure(client)
    assert (error.reason, error.attempts) == ("connection_refused", 3)
    assert sleeps == [0.05, 0.1]


def test_timeout_is_reported_quickly_and_not_retried(ollama_server) -> None:
    ollama_server.always(slow(3.0, {"label": "yes", "score": 1}))
    client, _sleeps, _clock = make_client(ollama_server.url, timeout_s=0.3, max_retries=2)
    started = time.perf_counter()
    error = failure(client)
    assert time.perf_counter() - started < 1.5
    assert (error.reason, error.attempts) == ("timeout", 1)
    assert len(ollama_server.chat_requests) == 1


def test_per_call_timeout_overrides_the_setting(ollama_server) -> None:
    ollama_server.always(slow(0.6, {"label": "no", "score": 0.1}))
    client, _sleeps, _clock = make_client(ollama_server.url, timeout_s=0.2)
    assert client.structured(MESSAGES, Verdict, timeout_s=3.0).label == "no"


def test_http_500_retries_exactly_max_retries_then_fails(ollama_server) -> None:
    ollama_server.always(http_error(500))
    client, _sleeps, _clock = make_client(ollama_server.url, max_retries=2)
    error = failure(client)
    assert (error.reason, error.status, error.attempts) == ("http_error", 500, 3)
    assert len(ollama_server.chat_requests) == 3


def test_http_500_then_success_recovers_within_the_retry_budget(ollama_server) -> None:
    ollama_server.script(http_error(503, "server busy"), answer({"label": "no", "score": 0.3}))
    client, _sleeps, _clock = make_client(ollama_server.url, max_retries=1)
    assert client.structured(MESSAGES, Verdict).score == 0.3
    assert len(ollama_server.chat_requests) == 2


@pytest.mark.parametrize(
    ("behaviour", "reason"),
    [
        (malformed(), "invalid_json"),
        (answer({"label": "maybe", "score": 0.5}), "schema_violation"),
        (answer({"label": "yes", "score": 7}), "schema_violation"),
        (answer(["yes"]), "schema_violation"),
        (empty(), "empty_response"),
        (answer("   \n"), "empty_response"),
        (not_json_body(), "invalid_json"),
    ],
)
def test_bad_answers_get_their_reason_and_are_not_retried(ollama_server, behaviour, reason) -> None:
    ollama_server.always(behaviour)
    client, _sleeps, _clock = make_client(ollama_server.url, max_retries=2)
    error = failure(client)
    assert (error.reason, error.attempts) == (reason, 1)
    assert len(ollama_server.chat_requests) == 1


def test_connection_drop_is_its_own_reason_and_retried(ollama_server) -> None:
    ollama_server.always(drop())
    client, _sleeps, _clock = make_client(ollama_server.url, max_retries=1)
    error = failure(client)
    assert (error.reason, error.attempts) == ("connection_dropped", 2)
    assert len(ollama_server.chat_requests) == 2


def test_breaker_opens_after_n_failures_and_skips_the_network(ollama_server) -> None:
    ollama_server.always(http_error(500))
    client, _sleeps, clock = make_client(ollama_server.url, max_retries=0, breaker_failures=3, breaker_reset_s=30.0)
    for _ in range(3):
        assert failure(client).reason == "http_error"
    assert client.breaker.state == "open"
    assert len(ollama_server.chat_requests) == 3
    for _ in range(5):
        error = failure(client)
        assert (error.reason, error.attempts) == ("circuit_open", 0)
    assert len(ollama_server.chat_requests) == 3  # nothing went out while open
    # After reset_s one trial goes out (half-open); a failure re-opens at once.
    clock.now += 30.0
    assert client.breaker.state == "half_open"
    assert failure(client).reason == "http_error"
    assert len(ollama_server.chat_requests) == 4
    assert failure(client).reason == "circuit_open"
    # Next trial succeeds: the breaker closes and calls flow again.
    clock.now += 30.0
    ollama_server.always(answer({"label": "yes", "score": 0.9}))
    assert client.structured(MESSAGES, Verdict).label == "yes"
    assert client.breaker.snapshot() == {"state": "closed", "consecutive_failures": 0}
    assert client.structured(MESSAGES, Verdict).label == "yes"
    assert len(ollama_server.chat_requests) == 6


def test_a_success_resets_the_consecutive_failure_count(ollama_server) -> None:
    ollama_server.script(http_error(500), http_error(500), answer({"label": "yes", "score": 1}), http_error(500), http_error(500))
    client, _sleeps, _clock = make_client(ollama_server.url, max_retries=0, breaker_failures=3)
    failure(client)
    failure(client)
    client.structured(MESSAGES, Verdict)
    failure(client)
    failure(client)
    assert client.breaker.snapshot() == {"state": "closed", "consecutive_failures": 2}


def test_refused_connection_opens_the_breaker_too() -> None:
    client, _sleeps, _clock = make_client(closed_port_url(), max_retries=0, breaker_failures=2)
    assert [failure(client).reason for _ in range(3)] == ["connection_refused", "connection_refused", "circuit_open"]


def test_llm_resource_is_built_from_settings_once_per_config() -> None:
    bundle = ConfigBundle()
    client = bundle.resources.get("llm")
    assert isinstance(client, LLMClient)
    assert client.settings == bundle.settings.llm
    assert bundle.resources.get("llm") is client


def test_raise_if_open_peeks_without_taking_the_half_open_trial(ollama_server) -> None:
    ollama_server.always(http_error(500))
    client, _sleeps, clock = make_client(ollama_server.url, max_retries=0, breaker_failures=1, breaker_reset_s=10.0)
    client.raise_if_open()  # closed: no error
    failure(client)
    with pytest.raises(LLMError) as caught:
        client.raise_if_open()
    assert caught.value.reason == "circuit_open"
    clock.now += 10.0
    client.raise_if_open()  # half-open: the peek passes and leaves the trial to structured()
    ollama_server.always(answer({"label": "no", "score": 0}))
    assert client.structured(MESSAGES, Verdict).label == "no"
    assert len(ollama_server.chat_requests) == 2


def test_cli_llm_check_reports_server_model_and_reason(ollama_server, capsys) -> None:
    from engine.cli.main import main

    configured = ConfigBundle().settings.llm.model
    ollama_server.models = [configured]
    assert main(["llm", "check", "--host", ollama_server.url]) == 0
    assert [request.path for request in ollama_server.requests] == ["/api/version", "/api/tags"]
    ollama_server.models = ["other:latest"]
    assert main(["llm", "check", "--host", ollama_server.url]) == 1
    assert main(["llm", "check", "--host", closed_port_url(), "--timeout", "0.5"]) == 1
    assert "connection_refused" in capsys.readouterr().err


def test_a_request_the_client_rejects_is_unexpected_and_counts_for_the_breaker(ollama_server) -> None:
    client, _sleeps, _clock = make_client(ollama_server.url, breaker_failures=1)
    with pytest.raises(LLMError) as caught:
        client.structured([{"content": "сообщение без роли"}], Verdict)
    assert (caught.value.reason, caught.value.attempts) == ("unexpected", 1)
    assert "Message" in caught.value.detail
    assert ollama_server.chat_requests == []
    assert client.breaker.state == "open"
