"""refine.greeting_context: technical intents in the greeting enter the flow."""
from __future__ import annotations

import pytest

from tests.nodes.refine.conftest import entry


@pytest.mark.parametrize(
    ("intent", "expected"),
    [
        ("problem_sync", "problem_revealed"),        # target_overrides
        ("request_references", "need_expressed"),    # target_overrides
        ("problem_technical", "problem_revealed"),   # technical_problems category → default
        ("problem_connection", "problem_revealed"),
    ],
)
def test_brief_config_redirects_in_greeting(layers, intent: str, expected: str) -> None:
    result = layers.turn("синхронизация не работает", intent, 0.8, context={"state": "greeting", "turn": 1})
    layer = entry(result, "greeting_context")
    assert (layer["decision"], layer["reason"]) == ("refined", f"greeting_redirect:{intent}")
    assert result.values["intent"] == expected


def test_outside_greeting_technical_intent_stays(layers) -> None:
    result = layers.turn("синхронизация не работает", "problem_sync", 0.8, context={"state": "spin_situation", "turn": 5})
    assert entry(result, "greeting_context")["reason"] == "state_not_active"
    assert result.values["intent"] == "problem_sync"


def test_late_greeting_turn_is_not_redirected(layers) -> None:
    result = layers.turn("синхронизация не работает", "problem_sync", 0.8, context={"state": "greeting", "turn": 4})
    assert entry(result, "greeting_context")["reason"] == "past_greeting_turns"


def test_ordinary_intent_in_greeting_passes(layers) -> None:
    result = layers.turn("сколько стоит?", "price_question", 0.9, context={"state": "greeting", "turn": 1})
    assert entry(result, "greeting_context")["reason"] == "intent_not_suspicious"
    assert result.values["intent"] == "price_question"
