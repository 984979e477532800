"""Intent aliases (``aliases:`` on a taxonomy intent): validated at load time, resolved by the
taxonomy and by ``spinflow eval intents`` for expected labels written with the alias."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.cli.intent_metrics import Case, canonical_cases
from engine.errors import ConfigError
from tests.nodes.classify.test_taxonomy import EXAMPLES, load_or_raise, make_config

ALIASED = f"version: 1\ncategory: question\nintents:\n  price_question:\n    aliases: [question_pricing, cost_question]\n    examples:\n{EXAMPLES}\n  question_features:\n    also_in: [positive]\n    examples:\n{EXAMPLES}\n"


def test_an_alias_resolves_to_its_intent(tmp_path: Path) -> None:
    taxonomy = load_or_raise(make_config(tmp_path, {"yaml_config/intents/question.yaml": ALIASED}))
    assert taxonomy.canonical("question_pricing") == "price_question"
    assert taxonomy.canonical("cost_question") == "price_question"
    assert taxonomy.canonical("price_question") == "price_question"
    assert taxonomy.canonical("never_heard_of") == "never_heard_of"
    assert "question_pricing" not in taxonomy.intents  # an alias is not a second intent


def test_an_alias_may_not_be_an_intent_name(tmp_path: Path) -> None:
    text = ALIASED.replace("[question_pricing, cost_question]", "[question_features]")
    with pytest.raises(ConfigError, match=r"alias 'question_features' is the name of an intent"):
        load_or_raise(make_config(tmp_path, {"yaml_config/intents/question.yaml": text}))


def test_an_alias_is_declared_once(tmp_path: Path) -> None:
    positive = f"version: 1\ncategory: positive\nintents:\n  agreement:\n    aliases: [question_pricing]\n    examples:\n{EXAMPLES}\n  demo_request:\n    examples:\n{EXAMPLES}\n"
    with pytest.raises(ConfigError, match=r"alias 'question_pricing' is already an alias of '(agreement|price_question)'"):
        load_or_raise(make_config(tmp_path, {"yaml_config/intents/question.yaml": ALIASED, "yaml_config/intents/positive.yaml": positive}))


def test_an_alias_must_be_snake_case(tmp_path: Path) -> None:
    text = ALIASED.replace("[question_pricing, cost_question]", "[Question-Pricing]")
    with pytest.raises(ConfigError, match=r"alias 'Question-Pricing' is not snake_case"):
        load_or_raise(make_config(tmp_path, {"yaml_config/intents/question.yaml": text}))


def test_evaluation_reads_expected_aliases_as_their_intents() -> None:
    mapping = {"question_pricing": "price_question", "needs_clarification": "unclear"}
    cases = [
        Case(1, "давайте короче: почём это всё?", {}, ("question_pricing",)),
        Case(2, "ыыы", {}, ("needs_clarification", "unclear")),
        Case(3, "да", {}, ("agreement",)),
    ]
    resolved = canonical_cases(cases, lambda name: mapping.get(name, name))
    assert [case.expected for case in resolved] == [("price_question",), ("unclear",), ("agreement",)]
    assert resolved[2] is cases[2]


def test_the_shipped_taxonomy_names_the_original_systems_labels() -> None:
    from tests.nodes.nlu_support import classify_runtime

    taxonomy = classify_runtime().bundle.section("intents")
    assert taxonomy.canonical("question_pricing") == "price_question"
    assert taxonomy.canonical("needs_clarification") == "unclear"
