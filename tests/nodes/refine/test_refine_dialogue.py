"""Short answers across SPIN phases through the full turn graph: no State Loop.

The bot greets, then asks its situation, problem, implication and need-payoff questions; the
client answers every one with the same bare «1», «да» or «первое». Each answer must carry
the phase's data intent and move the dialogue on: never back to (or stuck in) the greeting,
never more than two turns in one state.
"""
from __future__ import annotations

import pytest

from engine.config import default_config_dir
from engine.executor import Executor
from engine.state import ConversationState
from tests.nodes.refine.conftest import compile_file

PHASE_INTENTS = {
    "greeting": "situation_provided",
    "spin_situation": "situation_provided",
    "spin_problem": "problem_revealed",
    "spin_implication": "implication_acknowledged",
    "spin_need_payoff": "need_expressed",
}


@pytest.fixture(scope="module")
def turn_graph(bundle):
    return Executor(compile_file(bundle, default_config_dir() / "graphs" / "turn.yaml"))


def talk(executor: Executor, bundle, messages: list[str], **flag_overrides: bool) -> list[tuple[str, str, str]]:
    """(state before, intent, state after) per turn."""
    flags = {**bundle.settings.feature_flags, **flag_overrides}
    conversation = ConversationState(conversation_id=f"short-{'-'.join(messages)}")
    out = []
    for message in messages:
        before = conversation.state or "greeting"
        result = executor.run_turn(conversation, message, flags=flags)
        conversation = result.conversation_after
        out.append((before, result.values["intent"], conversation.state))
    return out


@pytest.mark.parametrize("answer", ["1", "да", "первое"])
def test_short_answers_never_loop(turn_graph, bundle, answer: str) -> None:
    turns = talk(turn_graph, bundle, ["Здравствуйте"] + [answer] * 6)
    states = [after for _before, _intent, after in turns]
    assert states[0] == "greeting"
    assert "greeting" not in states[1:], turns
    for _before, intent, _after in turns[1:]:
        assert intent != "greeting", turns
    # Every short answer given in a SPIN phase carries that phase's data intent.
    for before, intent, _after in turns[1:]:
        if before in PHASE_INTENTS:
            assert intent == PHASE_INTENTS[before], (before, intent, turns)
    # The dialogue moves on: no state held more than two turns in a row, need-payoff reached.
    run = longest = 1
    for previous, current in zip(states, states[1:], strict=False):
        run = run + 1 if current == previous else 1
        longest = max(longest, run)
    assert longest <= 2, turns
    assert "spin_need_payoff" in states or "presentation" in states, turns


def test_mixed_short_answers_walk_through_the_phases(turn_graph, bundle) -> None:
    turns = talk(turn_graph, bundle, ["Добрый день", "1", "да", "первое", "да", "да"])
    assert [intent for _b, intent, _a in turns[1:3]] == ["situation_provided", "problem_revealed"]
    assert [after for _b, _i, after in turns[:3]] == ["greeting", "spin_problem", "spin_implication"]
