"""Individual decision steps through the turn graph: go_back, escalation, questions, data, gates, final."""
from __future__ import annotations

import pytest

from engine.runtime import Runtime
from tests.nodes.dialogue_support import Dialogue, shipped_runtime

GREETING = ("Здравствуйте", "Добрый день")
SITUATION = ("у нас 3 продуктовых магазина, 5 продавцов", "у нас магазин продуктов, 5 продавцов", "мы держим кафе на 20 мест")
PROBLEM = ("постоянно недостачи и пересорт", "теряем товар, недостачи постоянно")


@pytest.fixture(scope="module")
def runtime() -> Runtime:
    return shipped_runtime()


def test_go_back_returns_to_the_previous_phase(runtime: Runtime) -> None:
    talk = Dialogue(runtime, "go-back")
    talk.say(*GREETING, intent="greeting")
    talk.say(*SITUATION, intent="situation_provided")
    talk.say(*PROBLEM, intent="problem_revealed")
    assert talk.state == "spin_implication"
    talk.say("давайте вернёмся назад", "вернёмся к предыдущему вопросу", intent="go_back")
    assert talk.state == "spin_problem" and talk.last("action") == "ask_problem"
    assert talk.last("transition")["rule"] == "go_back"


def test_a_request_for_a_person_escalates_and_the_final_state_holds(runtime: Runtime) -> None:
    talk = Dialogue(runtime, "escalate")
    talk.say(*GREETING, intent="greeting")
    talk.say("позовите менеджера", "хочу поговорить с живым человеком", intent="request_human")
    assert talk.state == "escalated" and talk.last("action") == "handoff"
    assert talk.last("transition")["rule"] == "escalation"
    talk.say("дорого", "сколько стоит?", "хм", intent=None)
    assert talk.state == "escalated" and talk.last("transition")["rule"] == "final_state"


def test_a_question_is_answered_in_place(runtime: Runtime) -> None:
    talk = Dialogue(runtime, "question")
    talk.say(*GREETING, intent="greeting")
    talk.say(*SITUATION, intent="situation_provided")
    result = talk.say("а программа работает без интернета?", "какие отчёты есть?", "работаете с Halyk банком?",
                      intent=("question_offline", "question_reports", "question_integrations"))
    assert talk.state == "spin_problem"
    transition = result.values["transition"]
    assert transition["rule"] == "questions" and transition["moved"] is False
    assert talk.last("action") == "answer_question"
    assert {"kind": "continue_phase", "action": "ask_problem", "state": "spin_problem"} in talk.last("response_directives")


def test_collected_required_data_moves_the_phase_on(runtime: Runtime) -> None:
    talk = Dialogue(runtime, "data", state="spin_situation", flow="spin_selling", turn_count=1,
                    collected_data={"business_type": "grocery"}, extra={"fsm": {"entered_turn": 1, "phase_history": ["spin_situation"]}})
    talk.say("хм", "ну", intent=None)
    transition = talk.last("transition")
    assert (transition["rule"], transition["to"]) == ("data_complete", "spin_problem"), transition


def test_the_close_gate_holds_back_an_early_agreement(runtime: Runtime) -> None:
    memory = {"fsm": {"entered_turn": 1, "phase_history": []}}
    early = Dialogue(runtime, "gate", state="presentation", flow="spin_selling", turn_count=1, extra=memory)
    early.say("да, интересно", "давайте", "хорошо", intent="agreement")
    transition = early.last("transition")
    assert early.state == "presentation" and transition["gate"] == "close" and early.last("action") == "ask_missing_data"
    known = Dialogue(runtime, "gate-open", state="presentation", flow="spin_selling", turn_count=1, extra=memory,
                     collected_data={"business_type": "grocery", "pain_point": "недостачи"})
    known.say("да, интересно", "давайте", "хорошо", intent="agreement")
    assert known.state == "close" and "gate" not in known.last("transition")
