"""The FSM node's machinery: one shared Machine, declared moves only, atomic failures, flow choice."""
from __future__ import annotations

from pathlib import Path

import pytest
from transitions import MachineError

from engine.runtime import Runtime
from nodes.fsm.flow_machine import FlowRunner
from tests.nodes.dialogue_support import Dialogue, copy_config, edit_yaml, shipped_runtime


@pytest.fixture(scope="module")
def runtime() -> Runtime:
    return shipped_runtime()


def test_one_machine_per_flow_and_no_auto_transitions(runtime: Runtime) -> None:
    node = runtime.graph.node("fsm").instance
    runner: FlowRunner = node._runners["spin_selling"]
    assert runner.machine.auto_transitions is False
    assert "to_close" not in runner.machine.events
    assert {"go:close", "go:soft_close", "stay"} <= runner.triggers
    talk = Dialogue(runtime, "models")
    talk.say("Здравствуйте", intent="greeting")
    talk.say("у нас 3 продуктовых магазина, 5 продавцов", "мы держим кафе на 20 мест", intent="situation_provided")
    assert node._runners["spin_selling"] is runner  # the same Machine serves every conversation
    assert runner.machine.models == [runner._model]  # one driven model, no model per conversation


def test_only_declared_moves_can_happen(runtime: Runtime) -> None:
    runner: FlowRunner = runtime.graph.node("fsm").instance._runners["spin_selling"]
    assert runner.apply("presentation", "close") == ("close", "go:close")
    with pytest.raises(MachineError):
        runner.apply("success", "greeting")  # success is final: nothing leaves it
    assert runner.machine.models == [runner._model]
    assert runner.apply("spin_problem", "spin_problem") == ("spin_problem", "stay")  # a failed trigger leaves nothing behind


def test_a_failing_transition_leaves_the_state_unchanged_and_is_traced(runtime: Runtime) -> None:
    broken_memory = {"fsm": {"phase_history": 7, "entered_turn": 1}}  # a corrupted session
    talk = Dialogue(runtime, "atomic", state="spin_problem", flow="spin_selling", turn_count=2, extra=broken_memory)
    result = talk.say("постоянно недостачи и пересорт", "теряем товар, недостачи постоянно", intent="problem_revealed")
    transition = result.values["transition"]
    assert transition["rule"] == "error" and transition["error"].startswith("TypeError")
    assert (transition["from"], transition["to"], transition["moved"]) == ("spin_problem", "spin_problem", False)
    assert talk.state == "spin_problem"
    assert talk.conversation.extra["fsm"] == broken_memory["fsm"]  # memory untouched
    assert result.values["action"] == "ask_problem" and result.response  # the turn still answers
    fsm_run = next(run for run in result.runs if run.node_id == "fsm")
    assert fsm_run.status == "ok" and fsm_run.outputs["transition"]["error"]


def test_a_state_removed_from_the_flow_restarts_at_the_initial_state(runtime: Runtime) -> None:
    talk = Dialogue(runtime, "renamed", state="spin_qualification", flow="spin_selling", turn_count=3)
    talk.say("Здравствуйте", intent="greeting")
    transition = talk.last("transition")
    assert transition["from"] == "greeting" and "not in flow 'spin_selling'" in transition["why"]


def test_settings_pick_the_flow_for_new_conversations_only(tmp_path: Path) -> None:
    root = copy_config(tmp_path)
    edit_yaml(root, "yaml_config/settings.yaml", "flow: spin_selling", "flow: bant")
    bant = Runtime(root, "turn", trace=False)
    fresh = Dialogue(bant, "bant-new")
    fresh.say("Здравствуйте", "Добрый день", intent="greeting")
    fresh.say("хотим контролировать остатки", "нужна программа для учёта", intent="need_expressed")
    assert fresh.conversation.flow == "bant" and fresh.state == "bant_budget" and fresh.last("action") == "ask_budget"
    ongoing = Dialogue(bant, "spin-ongoing", state="spin_situation", flow="spin_selling", turn_count=1)
    ongoing.say("у нас 3 продуктовых магазина, 5 продавцов", "мы держим кафе на 20 мест", intent="situation_provided")
    assert ongoing.conversation.flow == "spin_selling" and ongoing.state == "spin_problem"


def test_the_bant_flow_walks_its_phases() -> None:
    runtime = shipped_runtime()
    talk = Dialogue(runtime, "bant-walk", flow="bant")
    talk.say("Здравствуйте", "Добрый день", intent="greeting")
    assert talk.state == "greeting" and talk.last("action") == "greet"
    talk.say("хм", "ну", intent=None)
    assert talk.state == "bant_need"
    talk.say("хотим контролировать остатки", "нужна программа для учёта", intent="need_expressed")
    assert talk.state == "bant_budget"
    talk.say("сколько стоит?", "а сколько стоит программа?", intent="price_question")
    assert talk.state == "bant_budget" and talk.last("action") == "answer_price"
    talk.say("покажите демо", "хочу посмотреть демонстрацию", intent="demo_request")
    assert talk.state == "close" and talk.last("action") == "offer_demo"
    assert talk.conversation.extra["fsm"]["phase_history"] == ["bant_need", "bant_budget"]


def test_dialogue_nodes_are_deterministic_for_replay(runtime: Runtime) -> None:
    talk = Dialogue(runtime, "replayable", frustration=7.0)
    talk.say("Здравствуйте", intent="greeting")
    talk.say("дорого", "слишком дорого для нас", intent="objection_price")
    before = talk.results[-2].conversation_after
    again = runtime.run(before, talk.results[-1].message)
    ours = ("window", "lead_score", "guard", "envelope", "objection", "fsm", "policy")
    first = {run.node_id: run.outputs for run in talk.results[-1].runs if run.node_id in ours}
    second = {run.node_id: run.outputs for run in again.runs if run.node_id in ours}
    assert set(first) == set(ours)
    assert first == second
