"""``respond.llm`` with the real ollama client against the loopback server: used only when checked.

The template answer stands whenever the LLM fails (no server, garbage, errors) or its reply
fails a check (not Russian, invented numbers, unbacked promises), and the trace says why.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.state import ConversationState
from nodes.respond.llm import check_reply, numbers_in
from nodes.respond.prompts import OutputChecks
from tests.fakes.ollama_server import FakeOllama, answer, closed_port_url, http_error, malformed
from tests.nodes.answers_support import ANSWER_GRAPH, copy_shipped, run_messages, small_graph, write

GRAPH = ANSWER_GRAPH.replace("name: answers", "name: answers_llm").replace(
    "  fallback: {type: fallback.tiers, after: [respond]}",
    "  respond_llm: {type: respond.llm, after: [respond], when: llm_generation}\n  fallback: {type: fallback.tiers, after: [respond_llm]}",
)
QUESTION = ("Сколько стоит ОФД в месяц?", {"action": "answer_price", "intent": "price_question"})


def llm_config(tmp_path: Path, host: str) -> Path:
    root = copy_shipped(tmp_path / "config")
    settings = (root / "yaml_config/settings.yaml").read_text(encoding="utf-8")
    start = settings.index("\nllm:") + 1
    end = settings.index("\n", settings.index("max_retries", start))
    settings = settings[:start] + f"llm: {{host: \"{host}\", model: qwen2.5:7b-instruct, timeout_s: 1.0, max_retries: 0, breaker_failures: 50}}" + settings[end:]
    write(root, "yaml_config/settings.yaml", settings)
    return root


def ask(root: Path, turn: tuple = QUESTION, *, generation: bool = True) -> object:
    bundle, executor = small_graph(root, GRAPH, "answers_llm")
    [result], _ = run_messages(executor, bundle, [turn], conversation=ConversationState(conversation_id="llm-test", state="spin_situation"),
                               flags={"llm_generation": generation})
    return result


def template_reply(root: Path) -> str:
    return ask(root, generation=False).response


def test_a_checked_rephrasing_is_used_and_the_prompt_carries_draft_facts_and_state(tmp_path: Path, ollama_server: FakeOllama) -> None:
    root = llm_config(tmp_path, ollama_server.url)
    reply = "ОФД стоит 1 120 ₸ в месяц и оплачивается отдельно от тарифа. Расскажите, как вы сейчас ведёте учёт товара?"
    ollama_server.always(answer({"reply": reply}))
    result = ask(root)
    assert result.response == reply
    generation = result.values["generation"]
    assert (generation["used"], generation["reason"]) == (True, None)
    assert generation["draft"] == template_reply(root)
    [request] = ollama_server.chat_requests
    system, user = request.messages
    assert "Wipon" in system["content"] and "{" not in system["content"].replace('{"reply"', "")
    assert generation["draft"] in user["content"]  # the template answer
    assert "1 120 ₸" in user["content"] and "spin_situation" in user["content"]  # KB facts and the state
    assert request.body["format"]["properties"]["reply"]["type"] == "string"


@pytest.mark.parametrize(
    ("behaviour", "reason"),
    [
        (malformed('{"reply": "ОФД стоит'), "llm_error: invalid_json"),
        (answer({"text": "не то поле"}), "llm_error: schema_violation"),
        (http_error(500), "llm_error: http_error"),
        (answer({"reply": "ОФД стоит всего 990 ₸ в месяц!"}), "check_failed: unsupported_number: 990"),
        (answer({"reply": "The OFD service costs 1120 tenge per month, paid separately."}), "check_failed: not_russian"),
        (answer({"reply": "ОФД стоит 1 120 ₸ в месяц, а первый месяц мы гарантируем бесплатно."}), "check_failed: unbacked_promise: гарантир"),
        (answer({"reply": "Да."}), "check_failed: too_short"),
    ],
    ids=["garbage", "wrong-schema", "server-error", "invented-price", "english", "promise", "too-short"],
)
def test_the_template_answer_stands_and_the_trace_says_why(tmp_path: Path, ollama_server: FakeOllama, behaviour: object, reason: str) -> None:
    root = llm_config(tmp_path, ollama_server.url)
    ollama_server.always(behaviour)
    result = ask(root)
    assert result.values["generation"]["used"] is False
    assert result.values["generation"]["reason"] == reason
    assert result.response == template_reply(root)
    [run] = [run for run in result.runs if run.node_id == "respond_llm"]
    assert run.status == "ok" and run.outputs["generation"]["reason"] == reason


def test_with_no_server_the_template_answer_stands(tmp_path: Path) -> None:
    root = llm_config(tmp_path, closed_port_url())
    result = ask(root)
    assert result.values["generation"]["reason"] == "llm_error: connection_refused"
    assert result.response == template_reply(root) and result.values["reply_plan"]["kb_section"] == "fiscal.ofd_price"


def test_replay_reuses_the_recorded_llm_output(tmp_path: Path, ollama_server: FakeOllama) -> None:
    root = llm_config(tmp_path, ollama_server.url)
    reply = "ОФД обойдётся в 1 120 ₸ в месяц, платится отдельно от тарифа. Как вы сейчас ведёте учёт товара и продаж?"
    ollama_server.always(answer({"reply": reply}))
    bundle, executor = small_graph(root, GRAPH, "answers_llm")
    state = ConversationState(conversation_id="llm-replay", state="spin_situation")
    flags = {**bundle.settings.feature_flags, "llm_generation": True}
    inputs = {"action": "answer_price", "intent": "price_question", "response_directives": None, "tone_guidance": None}
    first = executor.run_turn(state, QUESTION[0], flags=flags, extra_inputs=inputs)
    ollama_server.always(malformed())
    recorded = {run.node_id: run.outputs for run in first.runs}
    again = executor.run_turn(state, QUESTION[0], flags=flags, extra_inputs=inputs, recorded=recorded, replay=True)
    assert again.response == first.response == reply
    assert [run.status for run in again.runs if run.node_id == "respond_llm"] == ["replayed"]
    assert len(ollama_server.chat_requests) == 1


def test_numbers_are_compared_without_spaces_and_promises_need_backing() -> None:
    checks = OutputChecks(promise_stems=["бесплатн"])
    assert numbers_in("от 150 000 ₸ и 0-0-12, 3,5 %") == {"150000", "0", "12", "3.5"}
    draft = "Касса бесплатная, тариф от 150 000 ₸ в год."
    assert check_reply("Касса у нас бесплатная, а тариф стоит от 150000 ₸ в год.", draft, [], checks) is None
    assert check_reply("Тариф от 150 000 ₸, а обучение бесплатное.", "Тариф от 150 000 ₸.", [], checks) == "unbacked_promise: бесплатн"
    assert check_reply("Тариф от 150 000 ₸ на 2 года.", draft, [], checks) == "unsupported_number: 2"
