"""tone.llm through the tone_only graph against the loopback Ollama server (real client)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.config import LLMSettings
from engine.llm import LLMClient
from tests.fakes.ollama_server import FakeOllama, answer, closed_port_url, drop, empty, http_error, malformed, slow
from tests.nodes.tone_support import PRIVATE_REFERENCES, SHIPPED, fresh_turn, tone_runtime, write_tone_config

MODEL = "qwen2.5:7b-instruct"
TONES = ["neutral", "positive", "negative", "frustrated", "rushed", "skeptical", "confused"]
#: No regex marker: the semantic tier decides it (neutral, ≈0.82: «договор» also sits in the
#: rushed group). The private config escalates every semantic answer below 1.0, so the LLM
#: tier gets its turn.
UNSURE = "у нас договор"


def llm_config(root: Path) -> Path:
    tones = (SHIPPED / "yaml_config" / "tone" / "tones.yaml").read_text(encoding="utf-8")
    assert "    semantic: 0.55\n" in tones
    edited = tones.replace("    semantic: 0.55\n", "    semantic: 1.0\n")
    # UNSURE has no sentiment word, so the shipped gate would keep it from the semantic tier;
    # these tests are about the hand-over from the semantic tier to the LLM.
    return write_tone_config(root, references=PRIVATE_REFERENCES, edit={"tones.yaml": edited, "semantic_gate.yaml": "version: 1\nenabled: false\n"})


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return llm_config(tmp_path_factory.mktemp("tone-llm") / "config")


def client_for(host: str, **overrides: Any) -> LLMClient:
    values: dict[str, Any] = {"host": host, "model": MODEL, "timeout_s": 1.0, "max_retries": 0, "breaker_failures": 3, "breaker_reset_s": 60.0}
    values.update(overrides)
    return LLMClient(LLMSettings(**values), sleep=lambda _seconds: None)


def lower_tiers(config: Path) -> dict[str, Any]:
    """What the cascade says for UNSURE without the LLM tier."""
    return fresh_turn(tone_runtime(config), UNSURE).values["tone"]


def test_unsure_message_is_decided_by_the_llm(config: Path, ollama_server: FakeOllama) -> None:
    before = lower_tiers(config)
    assert (before["label"], before["tier"]) == ("neutral", "semantic") and before["confidence"] < 1.0
    ollama_server.always(answer({"tone": "skeptical", "confidence": 0.82, "reasoning": "Клиент сомневается."}))
    runtime = tone_runtime(config, llm=client_for(ollama_server.url), tone_llm=True)
    result = fresh_turn(runtime, UNSURE, last_bot_message="Чем занимается ваш бизнес?")
    tone = result.values["tone"]
    assert (tone["label"], tone["tier"], tone["confidence"], tone["polarity"]) == ("skeptical", "llm", 0.82, "negative")
    llm = tone["tiers"]["llm"]
    assert (llm["used"], llm["failed"], llm["reason"], llm["model"]) == (True, False, None, MODEL)
    assert llm["reasoning"] == "Клиент сомневается."
    assert tone["tiers"]["semantic"]["label"] == before["label"]
    [request] = ollama_server.chat_requests
    assert request.body["format"]["properties"]["tone"]["enum"] == TONES
    assert request.body["format"]["required"] == ["tone", "confidence"]
    assert request.body["options"] == {"temperature": 0.0, "num_ctx": 2048}
    system, user = request.messages
    assert "- frustrated — раздражён, злится" in system["content"]
    assert user["content"].splitlines() == [
        "Последняя реплика бота: Чем занимается ваш бизнес?",
        f"Предварительная оценка: {before['label']} ({before['confidence']:.2f}, уровень semantic); маркеры: —",
        f"Сообщение клиента: «{UNSURE}»",
    ]
    assert {run.node_id: run.status for run in result.runs}["tone_llm"] == "ok"


def test_confident_lower_tier_sends_no_request(config: Path, ollama_server: FakeOllama) -> None:
    runtime = tone_runtime(config, llm=client_for(ollama_server.url), tone_llm=True)
    tone = fresh_turn(runtime, "ВЫ ИЗДЕВАЕТЕСЬ?!!").values["tone"]
    assert (tone["label"], tone["tier"]) == ("frustrated", "regex")
    assert tone["tiers"]["llm"] == {"used": False, "failed": False, "reason": "lower_tier_confident", "status": None}
    assert ollama_server.chat_requests == []


FAILURES = [
    pytest.param(slow(3.0, {"tone": "positive", "confidence": 1, "reasoning": ""}), "timeout", None, id="timeout"),
    pytest.param(http_error(500), "http_error", 500, id="http_500"),
    pytest.param(malformed('{"tone": "positive", "confid'), "invalid_json", None, id="invalid_json"),
    pytest.param(answer({"tone": "angry", "confidence": 0.9, "reasoning": "x"}), "schema_violation", None, id="tone_outside_enum"),
    pytest.param(answer({"tone": "positive", "confidence": 1.7, "reasoning": "x"}), "schema_violation", None, id="confidence_out_of_range"),
    pytest.param(empty(), "empty_response", None, id="empty"),
    pytest.param(drop(), "connection_dropped", None, id="connection_drop"),
]


@pytest.mark.parametrize(("behaviour", "reason", "status"), FAILURES)
def test_failure_keeps_the_lower_tier_answer_and_says_why(config: Path, ollama_server: FakeOllama, behaviour: Any, reason: str, status: int | None) -> None:
    before = lower_tiers(config)
    ollama_server.always(behaviour)
    runtime = tone_runtime(config, llm=client_for(ollama_server.url, timeout_s=0.3), tone_llm=True)
    result = fresh_turn(runtime, UNSURE)
    tone = result.values["tone"]
    assert (tone["label"], tone["tier"], tone["confidence"]) == (before["label"], "semantic", before["confidence"])
    llm = tone["tiers"]["llm"]
    assert (llm["used"], llm["failed"], llm["reason"], llm["status"]) == (False, True, reason, status)
    assert result.status == "ok"


def test_no_server_keeps_the_lower_tier_answer(config: Path) -> None:
    before = lower_tiers(config)
    runtime = tone_runtime(config, llm=client_for(closed_port_url()), tone_llm=True)
    tone = fresh_turn(runtime, UNSURE).values["tone"]
    assert (tone["label"], tone["tier"]) == (before["label"], "semantic")
    assert (tone["tiers"]["llm"]["failed"], tone["tiers"]["llm"]["reason"]) == (True, "connection_refused")


def test_low_confidence_answer_is_not_used(tmp_path: Path, ollama_server: FakeOllama) -> None:
    root = llm_config(tmp_path / "config")
    graph = (root / "graphs" / "tone_only.yaml").read_text(encoding="utf-8")
    (root / "graphs" / "tone_only.yaml").write_text(graph.replace("    type: tone.llm\n", "    type: tone.llm\n    config: {min_confidence: 0.6}\n"), encoding="utf-8")
    ollama_server.always(answer({"tone": "positive", "confidence": 0.4, "reasoning": "не уверен"}))
    tone = fresh_turn(tone_runtime(root, llm=client_for(ollama_server.url), tone_llm=True), UNSURE).values["tone"]
    assert tone["tier"] == "semantic"
    llm = tone["tiers"]["llm"]
    assert (llm["used"], llm["failed"], llm["reason"], llm["label"], llm["confidence"]) == (False, False, "low_confidence", "positive", 0.4)


def test_replay_reuses_the_recorded_llm_output(config: Path, ollama_server: FakeOllama) -> None:
    ollama_server.always(answer({"tone": "confused", "confidence": 0.7, "reasoning": "переспрашивает"}))
    runtime = tone_runtime(config, llm=client_for(ollama_server.url), tone_llm=True)
    first = fresh_turn(runtime, UNSURE)
    recorded = {run.node_id: run.outputs for run in first.runs if run.status == "ok"}
    from engine.state import ConversationState

    again = runtime.executor.run_turn(ConversationState(conversation_id="test-tone"), UNSURE, flags=runtime.flags.snapshot(), recorded=recorded, replay=True)
    assert {run.node_id: run.status for run in again.runs}["tone_llm"] == "replayed"
    assert again.values["tone"]["label"] == "confused"
    assert len(ollama_server.chat_requests) == 1
