"""classify.llm through a compiled graph (patterns cascade → LLM) against the loopback Ollama.

A small private config (taxonomy, patterns, prompt, flow) keeps these tests independent of
the shipped YAML; the last tests run the shipped config through ``Runtime``.
"""
from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from engine.config import ConfigBundle, LLMSettings
from engine.executor import Executor, TurnResult
from engine.graph import compile_graph
from engine.llm import LLMClient
from engine.state import ConversationState
from tests.fakes.ollama_server import FakeOllama, answer, closed_port_url, drop, empty, http_error, malformed, respond_with, slow

MODEL = "qwen2.5:7b-instruct"
FLAGS = {"cascade_classifier": True, "llm_classifier": True}

INTENTS = {
    "positive": {
        "agreement": ["да", "хорошо", "давайте", "согласен", "подходит"],
        "demo_request": ["покажите демо", "хочу посмотреть систему", "можно тестовый доступ", "давайте демонстрацию", "покажите как работает"],
        "problem_revealed": ["теряем клиентов", "учёт в тетрадке", "недостачи каждый месяц", "очереди на кассе", "не видим остатки"],
    },
    "question": {
        "price_question": ["сколько стоит", "какая цена", "прайс есть?", "сколько в месяц", "цены какие"],
    },
    "objection": {
        "objection_price": ["дорого", "не потянем", "у других дешевле", "слишком дорого для нас", "бюджета нет"],
    },
}

PROMPT = """\
version: 1
system: |
  Классифицируй сообщение клиента. Намерения:
  {categories}
  Правила:
  {rules}
  Примеры:
  {examples}
user: |
  Состояние: {state} ({state_goal}); фаза: {spin_phase}; бот: {last_bot_message}
  Каскад: {cascade_intent} ({cascade_confidence})
  Сообщение: «{text}»
options: {num_ctx: 4096}
spin_phases: {spin_problem: problem}
categories:
  positive: Позитивные сигналы
rules:
  - id: price
    intents: [price_question, objection_price]
    text: Вопрос о цене — price_question, жалоба на цену — objection_price.
few_shot:
  - message: дорого
    intent: objection_price
  - message: да
    intent: problem_revealed
    context: {spin_phase: problem}
"""

FLOW = """\
version: 1
name: mini
initial: spin_problem
states:
  spin_problem:
    goal: Найти боль клиента
    on_enter: ask_problem
    transitions: {problem_revealed: done}
  done:
    on_enter: thank
    final: true
"""

GRAPH = """\
version: 1
name: llm
inputs: [text]
nodes:
  classify:
    type: classify.patterns
    when: cascade_classifier
  classify_llm:
    type: classify.llm
    after: [classify]
    when: llm_classifier
    config: {config}
"""


def write_config(root: Path, host: str, *, node_config: str = "{}", prompt: str = PROMPT) -> Path:
    (root / "graphs").mkdir(parents=True)
    for sub in ("intents", "nlu", "llm", "flows"):
        (root / "yaml_config" / sub).mkdir(parents=True)
    settings = f"""\
        version: 1
        flow: mini
        feature_flags: {{cascade_classifier: true, llm_classifier: true}}
        llm: {{host: "{host}", model: {MODEL}, timeout_s: 1.0, max_retries: 0, breaker_failures: 3, breaker_reset_s: 60}}
        """
    (root / "yaml_config" / "settings.yaml").write_text(textwrap.dedent(settings), encoding="utf-8")
    for category, intents in INTENTS.items():
        body = {"version": 1, "category": category, "description": f"{category} intents", "intents": {name: {"description": name, "examples": examples} for name, examples in intents.items()}}
        (root / "yaml_config" / "intents" / f"{category}.yaml").write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
    patterns = {"version": 1, "patterns": [{"intent": "price_question", "pattern": "сколько\\s+стоит", "confidence": 0.9}, {"intent": "objection_price", "pattern": "дорого", "confidence": 0.85}]}
    (root / "yaml_config" / "nlu" / "patterns.yaml").write_text(json.dumps(patterns, ensure_ascii=False), encoding="utf-8")
    (root / "yaml_config" / "llm" / "classifier.yaml").write_text(prompt, encoding="utf-8")
    (root / "yaml_config" / "flows" / "mini.yaml").write_text(FLOW, encoding="utf-8")
    (root / "graphs" / "llm.yaml").write_text(GRAPH.replace("{config}", node_config), encoding="utf-8")
    return root


class Harness:
    """A compiled graph over a private config, with the ``llm`` resource optionally replaced."""

    def __init__(self, root: Path, client: LLMClient | None = None) -> None:
        self.bundle = ConfigBundle(root)
        if client is not None:
            self.bundle.resources.provide("llm", client)
        graph, issues = compile_graph(self.bundle, self.bundle.file("graphs/llm.yaml"), self.bundle.resources)
        assert not issues, [issue.render() for issue in issues]
        assert graph is not None
        self.executor = Executor(graph)
        self.conversation = ConversationState(conversation_id="c-llm", flow="mini", state="spin_problem", last_bot_message="Что мешает работать?")

    def turn(self, text: str, *, flags: dict[str, bool] | None = None, **kwargs: Any) -> TurnResult:
        result = self.executor.run_turn(self.conversation, text, flags=flags or FLAGS, extra_inputs={"text": text}, **kwargs)
        self.conversation = result.conversation_after
        return result


def llm_run(result: TurnResult) -> Any:
    return next(run for run in result.runs if run.node_id == "classify_llm")


@pytest.fixture
def harness(tmp_path: Path, ollama_server: FakeOllama) -> Harness:
    return Harness(write_config(tmp_path / "config", ollama_server.url))


def client_for(host: str, **overrides: Any) -> LLMClient:
    values: dict[str, Any] = {"host": host, "model": MODEL, "timeout_s": 1.0, "max_retries": 0, "breaker_failures": 3, "breaker_reset_s": 60.0}
    values.update(overrides)
    return LLMClient(LLMSettings(**values), sleep=lambda _seconds: None)


# -- success ----------------------------------------------------------------------------------

def test_llm_answer_replaces_the_cascade_and_the_request_carries_schema_prompt_context(harness: Harness, ollama_server: FakeOllama) -> None:
    ollama_server.always(answer({"intent": "demo_request", "confidence": 0.87, "secondary_intents": ["price_question", "buy_now", "demo_request"], "reasoning": "Просит показать систему."}))
    result = harness.turn("ну давайте глянем вашу программу")
    assert (result.values["intent"], result.values["intent_confidence"]) == ("demo_request", 0.87)
    classification = result.values["classification"]
    assert classification["stage"] == "llm"
    llm = classification["llm"]
    assert (llm["used"], llm["failed"], llm["reason"]) == (True, False, None)
    assert llm["secondary_intents"] == ["price_question"]
    assert llm["dropped_secondary"] == ["buy_now"]
    assert llm["cascade"] == {"intent": "unclear", "confidence": 0.0, "stage": "fallback"}
    assert llm["model"] == MODEL and llm["latency_ms"] > 0
    assert (llm_run(result).status, result.status) == ("ok", "ok")

    [request] = ollama_server.chat_requests
    assert request.body["model"] == MODEL
    assert request.body["stream"] is False
    assert request.body["format"]["properties"]["intent"]["enum"] == ["agreement", "demo_request", "objection_price", "price_question", "problem_revealed", "unclear"]
    assert request.body["format"]["required"] == ["intent", "confidence", "secondary_intents", "reasoning"]
    assert request.body["options"] == {"temperature": 0.0, "num_ctx": 4096}
    system, user = request.messages
    assert system["role"] == "system" and user["role"] == "user"
    assert "positive — Позитивные сигналы\n  agreement, demo_request, problem_revealed" in system["content"]
    assert "objection — objection intents\n  objection_price" in system["content"]
    assert "«да» (фаза: problem) → problem_revealed" in system["content"]
    assert user["content"].splitlines() == [
        "Состояние: spin_problem (Найти боль клиента); фаза: problem; бот: Что мешает работать?",
        "Каскад: unclear (0.00)",
        "Сообщение: «ну давайте глянем вашу программу»",
    ]


def test_dialogue_context_overrides_conversation_fields_in_the_prompt(harness: Harness, ollama_server: FakeOllama) -> None:
    ollama_server.always(answer({"intent": "agreement", "confidence": 0.9, "secondary_intents": [], "reasoning": "да"}))
    harness.turn("да", dialogue_context={"state": "presentation", "spin_phase": "need_payoff", "last_bot_message": "Показать?"})
    user = ollama_server.chat_requests[0].messages[1]["content"]
    assert user.splitlines()[0] == "Состояние: presentation (—); фаза: need_payoff; бот: Показать?"


# -- every failure leaves the cascade's answer ----------------------------------------------

FAILURES = [
    pytest.param(slow(3.0, {"intent": "agreement", "confidence": 1, "secondary_intents": [], "reasoning": ""}), "timeout", None, id="timeout"),
    pytest.param(http_error(500), "http_error", 500, id="http_500"),
    pytest.param(malformed(), "invalid_json", None, id="invalid_json"),
    pytest.param(answer({"intent": "buy_now", "confidence": 0.9, "secondary_intents": [], "reasoning": "x"}), "schema_violation", None, id="intent_outside_enum"),
    pytest.param(answer({"intent": "agreement", "confidence": 1.7, "secondary_intents": [], "reasoning": "x"}), "schema_violation", None, id="confidence_out_of_range"),
    pytest.param(empty(), "empty_response", None, id="empty"),
    pytest.param(drop(), "connection_dropped", None, id="connection_drop"),
]


@pytest.mark.parametrize(("behaviour", "reason", "status"), FAILURES)
def test_failure_keeps_the_cascade_answer_and_says_why(tmp_path: Path, ollama_server: FakeOllama, behaviour: Any, reason: str, status: int | None) -> None:
    ollama_server.always(behaviour)
    harness = Harness(write_config(tmp_path / "config", ollama_server.url), client_for(ollama_server.url, timeout_s=0.3))
    result = harness.turn("а сколько стоит ваша касса?")
    assert (result.values["intent"], result.values["intent_confidence"]) == ("price_question", 0.9)
    classification = result.values["classification"]
    assert classification["stage"] == "patterns"
    assert classification["pattern"] == "сколько\\s+стоит"
    llm = classification["llm"]
    assert (llm["used"], llm["failed"], llm["reason"], llm["status"]) == (False, True, reason, status)
    assert llm["cascade"]["intent"] == "price_question"
    assert (llm_run(result).status, result.status) == ("ok", "ok")
    assert len(ollama_server.chat_requests) == 1


def test_a_bug_inside_the_node_keeps_the_cascade_answer(tmp_path: Path) -> None:
    harness = Harness(write_config(tmp_path / "config", closed_port_url()), client=object())  # type: ignore[arg-type]
    result = harness.turn("сколько стоит?")
    assert result.values["intent"] == "price_question"
    llm = result.values["classification"]["llm"]
    assert (llm["reason"], llm["failed"]) == ("node_error", True)
    assert llm["detail"].startswith("AttributeError")
    assert llm_run(result).status == "ok"


def test_refused_connection_keeps_the_cascade_answer(tmp_path: Path) -> None:
    harness = Harness(write_config(tmp_path / "config", closed_port_url()))
    result = harness.turn("это дорого")
    assert (result.values["intent"], result.values["intent_confidence"]) == ("objection_price", 0.85)
    assert result.values["classification"]["llm"]["reason"] == "connection_refused"


def test_no_cascade_answer_and_a_failing_llm_write_no_intent(harness: Harness, ollama_server: FakeOllama) -> None:
    ollama_server.always(http_error(500))
    result = harness.turn("сколько стоит", flags={"cascade_classifier": False, "llm_classifier": True})
    assert [run.status for run in result.runs] == ["skipped", "ok"]
    assert set(llm_run(result).outputs) == {"classification"}
    assert "intent" not in result.values
    assert result.values["classification"]["llm"]["reason"] == "http_error"


def test_llm_alone_classifies_when_the_cascade_is_off(harness: Harness, ollama_server: FakeOllama) -> None:
    ollama_server.always(answer({"intent": "price_question", "confidence": 0.8, "secondary_intents": [], "reasoning": "вопрос о цене"}))
    result = harness.turn("почём нынче касса", flags={"cascade_classifier": False, "llm_classifier": True})
    assert (result.values["intent"], result.values["classification"]["stage"]) == ("price_question", "llm")
    assert result.values["classification"]["llm"]["cascade"] == {"intent": None, "confidence": None, "stage": None}


# -- retries, breaker, skips ------------------------------------------------------------------

def test_retries_are_bounded(tmp_path: Path, ollama_server: FakeOllama) -> None:
    ollama_server.always(http_error(503, "server busy"))
    harness = Harness(write_config(tmp_path / "config", ollama_server.url), client_for(ollama_server.url, max_retries=2))
    llm = harness.turn("сколько стоит?").values["classification"]["llm"]
    assert (llm["reason"], llm["status"], llm["attempts"]) == ("http_error", 503, 3)
    assert len(ollama_server.chat_requests) == 3


def test_breaker_opens_after_n_failed_turns_and_skips_the_network(tmp_path: Path, ollama_server: FakeOllama) -> None:
    ollama_server.always(http_error(500))
    harness = Harness(write_config(tmp_path / "config", ollama_server.url), client_for(ollama_server.url, breaker_failures=2))
    reasons = [harness.turn("сколько стоит?").values["classification"]["llm"]["reason"] for _ in range(5)]
    assert reasons == ["http_error", "http_error", "circuit_open", "circuit_open", "circuit_open"]
    assert len(ollama_server.chat_requests) == 2
    last = harness.turn("сколько стоит?")
    assert last.values["intent"] == "price_question"
    assert llm_run(last).duration_us < 5_000  # fail fast: no network, no prompt round trip


def test_low_confidence_answer_leaves_the_cascade(tmp_path: Path, ollama_server: FakeOllama) -> None:
    ollama_server.always(answer({"intent": "agreement", "confidence": 0.3, "secondary_intents": [], "reasoning": "не уверен"}))
    harness = Harness(write_config(tmp_path / "config", ollama_server.url, node_config="{min_confidence: 0.5}"))
    result = harness.turn("это дорого")
    assert result.values["intent"] == "objection_price"
    llm = result.values["classification"]["llm"]
    assert (llm["used"], llm["failed"], llm["reason"], llm["intent"], llm["confidence"]) == (False, False, "low_confidence", "agreement", 0.3)


def test_confident_cascade_skips_the_llm_when_configured(tmp_path: Path, ollama_server: FakeOllama) -> None:
    ollama_server.always(answer({"intent": "objection_price", "confidence": 0.95, "secondary_intents": [], "reasoning": "жалоба на цену"}))
    harness = Harness(write_config(tmp_path / "config", ollama_server.url, node_config="{skip_if_cascade_at_least: 0.88}"))
    assert harness.turn("сколько стоит?").values["classification"]["llm"]["reason"] == "cascade_confident"  # 0.9 ≥ 0.88
    assert harness.turn("дорого").values["classification"]["llm"]["reason"] is None  # 0.85 < 0.88: asked
    assert len(ollama_server.chat_requests) == 1


def test_raw_message_can_be_the_model_input(tmp_path: Path, ollama_server: FakeOllama) -> None:
    ollama_server.always(answer({"intent": "price_question", "confidence": 0.9, "secondary_intents": [], "reasoning": ""}))
    harness = Harness(write_config(tmp_path / "config", ollama_server.url, node_config="{read_from: message}"))
    assert harness.executor.graph.node("classify_llm").reads >= {"message"}
    assert "text" not in harness.executor.graph.node("classify_llm").reads
    harness.executor.run_turn(harness.conversation, "Сколько СТОИТ?!", flags=FLAGS, extra_inputs={"text": "сколько стоит"})
    assert ollama_server.chat_requests[0].last_user_text.endswith("Сообщение: «Сколько СТОИТ?!»")


def test_empty_text_is_not_sent(harness: Harness, ollama_server: FakeOllama) -> None:
    assert harness.turn("   ").values["classification"]["llm"]["reason"] == "empty_message"
    assert ollama_server.chat_requests == []


def test_flag_off_skips_the_node(harness: Harness, ollama_server: FakeOllama) -> None:
    result = harness.turn("сколько стоит?", flags={"cascade_classifier": True, "llm_classifier": False})
    assert llm_run(result).status == "skipped"
    assert "llm" not in result.values["classification"]
    assert ollama_server.chat_requests == []


def test_replay_reuses_recorded_output_without_calling_the_server(harness: Harness, ollama_server: FakeOllama) -> None:
    ollama_server.always(answer({"intent": "agreement", "confidence": 0.8, "secondary_intents": [], "reasoning": "ок"}))
    first = harness.turn("ну ок")
    recorded = {"classify_llm": dict(llm_run(first).outputs)}
    ollama_server.always(http_error(500))
    replayed = harness.executor.run_turn(first.conversation_before, "ну ок", flags=FLAGS, extra_inputs={"text": "ну ок"}, recorded=recorded, replay=True)
    assert llm_run(replayed).status == "replayed"
    assert replayed.values["intent"] == "agreement"
    assert len(ollama_server.chat_requests) == 1


# -- config validation --------------------------------------------------------------------------

def prompt_issues(root: Path) -> list[str]:
    bundle = ConfigBundle(root)
    return [issue.render() for issue in bundle.validate() if issue.file == "yaml_config/llm/classifier.yaml"]


def test_bad_prompt_file_reports_every_problem_with_lines(tmp_path: Path) -> None:
    bad = (
        PROMPT.replace("{state_goal}", "{stat_goal}")
        .replace("intent: objection_price\n  - message: да", "intent: objection_prise\n  - message: да")
        .replace("positive: Позитивные сигналы", "positiv: Позитивные сигналы")
        .replace("spin_phases: {spin_problem: problem}", "spin_phases: {spin_problm: problem}")
        .replace("context: {spin_phase: problem}", "context: {phase: problem}")
    )
    issues = prompt_issues(write_config(tmp_path / "config", closed_port_url(), prompt=bad))
    assert issues == [
        "yaml_config/llm/classifier.yaml:9: user: unknown placeholder '{stat_goal}'. Did you mean 'state_goal'?",
        "yaml_config/llm/classifier.yaml:14: spin_phases.spin_problm: unknown flow state 'spin_problm'. Did you mean 'spin_problem'?",
        "yaml_config/llm/classifier.yaml:16: categories.positiv: unknown category 'positiv'. Did you mean 'positive'?",
        "yaml_config/llm/classifier.yaml:23: few_shot[0].intent: unknown intent 'objection_prise'. Did you mean 'objection_price'?",
        "yaml_config/llm/classifier.yaml:26: few_shot[1].context.phase: unknown context key 'phase'. Did you mean 'spin_phase'?",
    ]


def test_prompt_file_schema_errors_point_at_the_key(tmp_path: Path) -> None:
    issues = prompt_issues(write_config(tmp_path / "config", closed_port_url(), prompt=PROMPT + "intent_detail: everything\nmodel: llama\n"))
    assert issues == [
        "yaml_config/llm/classifier.yaml: <root>: classify.llm cannot start: its prompt file is invalid. Fix the problems reported for this file.",
        "yaml_config/llm/classifier.yaml:27: intent_detail: Input should be 'names' or 'descriptions'. Use one of the allowed values.",
        "yaml_config/llm/classifier.yaml:28: model: unknown key. Remove it or check its spelling.",
    ]


def test_a_graph_using_the_node_without_its_prompt_fails_to_compile(tmp_path: Path) -> None:
    root = write_config(tmp_path / "config", closed_port_url())
    (root / "yaml_config" / "llm" / "classifier.yaml").unlink()
    bundle = ConfigBundle(root)
    _graph, issues = compile_graph(bundle, bundle.file("graphs/llm.yaml"), bundle.resources)
    assert [(issue.file, issue.problem) for issue in issues] == [("yaml_config/llm/classifier.yaml", "classify.llm needs its prompt file")]


def test_descriptions_detail_lists_each_intent_with_its_description(tmp_path: Path, ollama_server: FakeOllama) -> None:
    ollama_server.always(answer({"intent": "agreement", "confidence": 0.9, "secondary_intents": [], "reasoning": ""}))
    harness = Harness(write_config(tmp_path / "config", ollama_server.url, prompt=PROMPT + "intent_detail: descriptions\n"))
    harness.turn("да")
    system = ollama_server.chat_requests[0].messages[0]["content"]
    assert "positive — Позитивные сигналы\n  - agreement: agreement\n  - demo_request: demo_request" in system


# -- the shipped config, through Runtime ----------------------------------------------------------

def test_shipped_prompt_matches_the_shipped_taxonomy_and_flows() -> None:
    bundle = ConfigBundle()
    issues = [issue.render() for issue in bundle.validate() if issue.file.startswith("yaml_config/llm/")]
    assert issues == []
    taxonomy = bundle.section("intents")
    prompt = bundle.section("llm_classifier")
    system = prompt.system_text(taxonomy)
    assert all(name in system for name in taxonomy.names)


@pytest.fixture
def runtime(tmp_path: Path):  # type: ignore[no-untyped-def]
    from engine.runtime import Runtime

    built = Runtime(graph="turn", trace=True, trace_db=tmp_path / "trace.duckdb", sessions_dir=tmp_path / "sessions", flag_overrides={"llm_classifier": True})
    yield built
    built.close()


def test_chat_turn_answers_with_no_ollama_running(runtime) -> None:  # type: ignore[no-untyped-def]
    runtime.bundle.resources.provide("llm", client_for(closed_port_url()))
    result = runtime.turn("conv-no-ollama", "Здравствуйте, сколько стоит ваша программа?")
    assert result.response
    assert (result.values["classification"]["llm"]["reason"], result.values["classification"]["llm"]["attempts"]) == ("connection_refused", 1)
    assert result.values["intent"] == result.values["classification"]["llm"]["cascade"]["intent"]
    assert result.values["action"]
    runtime.store.flush()
    [row] = [row for row in runtime.store.node_runs("conv-no-ollama", 1) if row["node_id"] == "classify_llm"]
    assert json.loads(row["outputs"])["classification"]["llm"]["reason"] == "connection_refused"


def test_chat_turn_follows_the_llm_intent_through_the_flow(runtime, ollama_server: FakeOllama) -> None:  # type: ignore[no-untyped-def]
    runtime.bundle.resources.provide("llm", client_for(ollama_server.url, model=runtime.bundle.settings.llm.model))
    ollama_server.models.append(runtime.bundle.settings.llm.model)
    ollama_server.always(respond_with(lambda request: {"intent": "demo_request", "confidence": 0.92, "secondary_intents": [], "reasoning": "Хочет увидеть систему."}))
    result = runtime.turn("conv-llm-demo", "ну покажите уже, как оно выглядит вживую")
    assert result.values["intent"] == "demo_request"
    assert result.values["classification"]["stage"] == "llm"
    assert result.conversation_after.state == "close"
    assert "вживую" in ollama_server.chat_requests[0].last_user_text
