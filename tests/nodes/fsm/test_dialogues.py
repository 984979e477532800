"""Scripted dialogues through the full turn graph (Runtime): the flow, the FSM and their trace."""
from __future__ import annotations

import pytest

from tests.nodes.dialogue_support import Dialogue, shipped_runtime

GREETING = ("Здравствуйте", "Добрый день")
SITUATION = ("у нас 3 продуктовых магазина, 5 продавцов", "у нас магазин продуктов, 5 продавцов", "мы держим кафе на 20 мест")
PROBLEM = ("постоянно недостачи и пересорт", "теряем товар, недостачи постоянно")
IMPLICATION = ("да, теряем прилично", "да, это серьёзно бьёт по выручке")
NEED = ("хотим контролировать остатки", "нужна программа для учёта", "хотелось бы видеть остатки в телефоне")
AGREE = ("да, интересно", "давайте", "хорошо")
CONTACT = ("+7 701 123 45 67", "мой номер 87011234567")


@pytest.fixture(scope="module")
def runtime():
    return shipped_runtime()


def test_happy_path_reaches_presentation_close_and_success(runtime) -> None:
    talk = Dialogue(runtime, "happy")
    talk.say(*GREETING, intent="greeting")
    assert talk.state == "greeting" and talk.last("action") == "greet"
    talk.say(*SITUATION, intent="situation_provided")
    assert talk.state == "spin_problem" and talk.last("action") == "ask_problem"
    talk.say(*PROBLEM, intent="problem_revealed")
    assert talk.state == "spin_implication"
    talk.say(*IMPLICATION, intent=("implication_acknowledged", "agreement"))
    assert talk.state == "spin_need_payoff"
    talk.say(*NEED, intent="need_expressed")
    assert talk.state == "presentation" and talk.last("action") == "present"
    talk.say(*AGREE, intent="agreement")
    assert talk.state == "close" and talk.last("action") == "ask_contact"
    transition = talk.last("transition")
    assert (transition["from"], transition["to"], transition["rule"], transition["trigger"]) == ("presentation", "close", "transitions", "intent:agreement")
    assert "gate" not in transition  # the essentials were known, so the close gate let it through
    talk.say(*CONTACT, intent="contact_provided")
    assert talk.state == "success" and talk.last("action") == "confirm_contact"
    assert talk.states == ["greeting", "spin_problem", "spin_implication", "spin_need_payoff", "presentation", "close", "success"]
    phases = talk.conversation.extra["fsm"]["phases_done"]
    assert phases == ["situation", "problem", "implication", "need_payoff"]  # situation: skipped over by the client's answer


def test_every_transition_is_recorded_with_why(runtime) -> None:
    talk = Dialogue(runtime, "recorded")
    talk.say(*GREETING, intent="greeting")
    talk.say(*SITUATION, intent="situation_provided")
    for result in talk.results:
        record = result.values["transition"]
        assert set(record) >= {"from", "to", "trigger", "rule", "why", "machine_trigger", "moved"}
        assert record["why"]
    second = talk.results[1].values["transition"]
    assert second["machine_trigger"] == "go:spin_problem" and second["moved"] is True
    assert second["origin"] == "state greeting"


def test_rejection_ends_in_soft_close(runtime) -> None:
    talk = Dialogue(runtime, "rejection")
    talk.say(*GREETING, intent="greeting")
    talk.say(*SITUATION, intent="situation_provided")
    talk.say("нам это не интересно", "не интересно", "отстаньте", "не звоните мне больше", intent="rejection")
    assert talk.state == "soft_close" and talk.last("action") == "soft_close"
    transition = talk.last("transition")
    assert transition["rule"] == "rejection" and transition["origin"] == "mixin exit_intents"


def test_three_objections_in_a_row_hit_the_limit(runtime) -> None:
    talk = Dialogue(runtime, "objections")
    talk.say(*GREETING, intent="greeting")
    talk.say(*SITUATION, intent="situation_provided")
    talk.say("дорого", "слишком дорого для нас", intent="objection_price")
    assert talk.state == "handle_objection" and talk.last("action") == "handle_price_objection"
    assert talk.last("objection")["strategy"] == "value_reframe"
    talk.say("нет времени", "некогда сейчас этим заниматься", intent="objection_no_time")
    assert talk.state == "handle_objection" and talk.last("objection")["type"] == "no_time"
    talk.say("подумаю", "мне надо подумать", intent="objection_think")
    assert talk.state == "soft_close"
    assert talk.last("action") == "soft_close_after_objections"
    assert talk.last("transition")["rule"] == "objection_limit"
    objection = talk.last("objection")
    assert objection["should_soft_close"] is True and objection["streak"] == 3


def test_objection_detour_returns_to_the_phase(runtime) -> None:
    talk = Dialogue(runtime, "detour")
    talk.say(*GREETING, intent="greeting")
    talk.say(*SITUATION, intent="situation_provided")
    assert talk.state == "spin_problem"
    talk.say("дорого", "слишком дорого для нас", intent="objection_price")
    assert talk.state == "handle_objection"
    assert talk.conversation.extra["fsm"]["return_to"] == "spin_problem"
    talk.say("да", "хорошо", intent="agreement")
    assert talk.state == "spin_problem" and talk.last("action") == "ask_problem"
    assert talk.conversation.extra["fsm"]["return_to"] is None


def test_data_given_after_an_objection_is_decided_where_the_detour_began(runtime) -> None:
    talk = Dialogue(runtime, "resume")
    talk.say("давайте быстрее, я занят", "некогда мне, коротко", intent=("objection_no_time", "request_brevity", "impatience_expression"))
    assert talk.state == "handle_objection" and talk.conversation.extra["fsm"]["return_to"] == "greeting"
    # Back in greeting the situation moves the flow on, as it would have without the objection;
    # a plain `back` would have returned to greeting and asked for it again.
    talk.say(*SITUATION, intent="situation_provided")
    assert talk.state == "spin_problem" and talk.last("action") == "ask_problem"
    transition = talk.last("transition")
    assert transition["from"] == "handle_objection" and transition["rule"] == "transitions → transitions"
    assert "resumed in 'greeting'" in transition["why"]
    # Agreement only ends the detour: it is not decided again.
    talk.say("дорого", "слишком дорого для нас", intent="objection_price")
    assert talk.state == "handle_objection" and talk.conversation.extra["fsm"]["return_to"] == "spin_problem"
    talk.say("да", "хорошо", intent="agreement")
    assert talk.state == "spin_problem" and "resumed" not in talk.last("transition")["why"]


def test_a_contact_intent_without_a_contact_does_not_end_in_success(runtime) -> None:
    talk = Dialogue(runtime, "no-contact")
    talk.say(*GREETING, intent="greeting")
    talk.say("запишите мой номер", "мой номер у вас есть", "звоните на мой номер", intent="contact_provided")
    assert talk.state == "greeting" and talk.last("action") == "ask_contact"
    assert talk.last("transition")["gate"] == "success"
    talk.say(*CONTACT, intent="contact_provided")
    assert talk.state == "success" and talk.last("action") == "confirm_contact"


def test_price_question_mid_flow_is_answered_and_the_phase_resumes(runtime) -> None:
    talk = Dialogue(runtime, "price")
    talk.say(*GREETING, intent="greeting")
    talk.say(*SITUATION, intent="situation_provided")
    assert talk.state == "spin_problem"
    talk.say("сколько стоит?", "а сколько стоит программа?", intent="price_question")
    assert talk.state == "spin_problem"
    assert talk.last("action") == "answer_price"
    assert talk.last("transition")["rule"] == "state_rules" and talk.last("transition")["origin"] == "mixin price_handling"
    assert {"kind": "continue_phase", "action": "ask_problem", "state": "spin_problem"} in talk.last("response_directives")
    talk.say(*PROBLEM, intent="problem_revealed")
    assert talk.state == "spin_implication"


SHORT = ("да", "1", "ага", "первое", "ок", "да", "1", "ага", "да", "первое", "ок", "1")


def test_short_answers_never_loop(runtime) -> None:
    talk = Dialogue(runtime, "short")
    for text in SHORT:
        talk.say(text, intent=None)  # whatever the classifier and its refinements make of it
    states = talk.states
    assert "greeting" not in states[1:], states
    held = longest_run(states, exclude={"success", "soft_close", "escalated"})
    assert held <= 3, states
    assert longest_run(talk.actions, exclude={"soft_close"}) <= 3, talk.actions
    assert {"spin_problem", "presentation", "close"} <= set(states), states
    replies = [result.response for result in talk.results]
    assert all(first != second for first, second in zip(replies, replies[1:], strict=False)), replies


def longest_run(values: list[str], exclude: set[str]) -> int:
    best = current = 0
    previous = None
    for value in values:
        current = current + 1 if value == previous else 1
        previous = value
        if value not in exclude:
            best = max(best, current)
    return best


def test_demo_request_bypasses_the_close_gate(runtime) -> None:
    talk = Dialogue(runtime, "demo")
    talk.say(*GREETING, intent="greeting")
    talk.say("покажите демо", "хочу посмотреть демонстрацию", intent="demo_request")
    assert talk.state == "close" and talk.last("action") == "offer_demo"
    assert talk.last("transition")["rule"] == "any_state"
