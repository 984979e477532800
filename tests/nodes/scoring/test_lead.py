"""Lead scoring through the turn graph: signals, decay, temperature bands, phase skipping."""
from __future__ import annotations

import pytest

from engine.runtime import Runtime
from tests.nodes.dialogue_support import Dialogue, shipped_runtime


@pytest.fixture(scope="module")
def runtime() -> Runtime:
    return shipped_runtime()


@pytest.fixture(scope="module")
def scoring(runtime: Runtime):
    return runtime.bundle.section("lead_scoring")


def test_signals_add_up_with_decay(runtime: Runtime, scoring) -> None:
    talk = Dialogue(runtime, "lead")
    talk.say("покажите демо", "хочу посмотреть демонстрацию", intent="demo_request")
    first = talk.last("lead")
    assert first["score"] == scoring.intents["demo_request"] and first["source"] == "intent:demo_request"
    talk.say("сколько стоит?", "а сколько стоит программа?", intent="price_question")
    expected = round(first["score"] * (1 - scoring.decay_per_turn) + scoring.intents["price_question"], 2)
    second = talk.last("lead")
    assert second["score"] == expected and second["previous"] == first["score"]
    assert talk.conversation.lead_score == expected
    assert second["temperature"] == scoring.temperature(expected) == talk.last("envelope")["lead_temperature"]


def test_a_category_signal_applies_when_the_intent_has_none(runtime: Runtime, scoring) -> None:
    talk = Dialogue(runtime, "category-signal", lead_score=50.0)
    talk.say("сложно это всё, не разберёмся", "слишком сложная программа", intent=("objection_complexity",))
    lead = talk.last("lead")
    assert lead["source"] == "category:objection" and lead["signal"] == scoring.categories["objection"]
    assert lead["score"] == round(50.0 * (1 - scoring.decay_per_turn) + scoring.categories["objection"], 2)


def test_temperature_bands(scoring) -> None:
    names = [band.name for band in scoring.bands]
    assert names == ["cold", "warm", "hot", "very_hot"]
    for band in scoring.bands:
        assert scoring.temperature(band.min) == band.name
    assert scoring.temperature(scoring.bands[1].min - 0.01) == "cold"


def test_a_hot_lead_skips_phases(runtime: Runtime) -> None:
    talk = Dialogue(runtime, "hot", state="spin_situation", flow="spin_selling", lead_score=62.0)
    talk.say("у нас 3 продуктовых магазина, 5 продавцов", "мы держим кафе на 20 мест", intent="situation_provided")
    assert talk.last("envelope")["lead_temperature"] == "hot"
    transition = talk.last("transition")
    assert (transition["rule"], transition["trigger"], transition["to"]) == ("phase_progress", "skip", "spin_need_payoff")
    cool = Dialogue(runtime, "cool", state="spin_situation", flow="spin_selling", lead_score=10.0)
    cool.say("у нас 3 продуктовых магазина, 5 продавцов", "мы держим кафе на 20 мест", intent="situation_provided")
    assert cool.state == "spin_problem" and cool.last("transition")["rule"] == "transitions"


def test_a_very_hot_lead_goes_straight_to_the_presentation(runtime: Runtime) -> None:
    talk = Dialogue(runtime, "very-hot", state="spin_problem", flow="spin_selling", lead_score=95.0)
    talk.say("постоянно недостачи и пересорт", "теряем товар, недостачи постоянно", intent="problem_revealed")
    assert talk.state == "presentation" and talk.last("transition")["trigger"] == "skip"
