"""Behaviour changes by editing YAML only: a new state, a new transition and a new policy rule."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.runtime import Runtime
from tests.nodes.dialogue_support import Dialogue, copy_config, edit_yaml, shipped_runtime

NEW_STATE = """
  spin_budget:
    extends: _base_phase
    goal: Узнать бюджет до презентации.
    on_enter: ask_budget
    next: presentation
    transitions:
      budget_approved: presentation
      info_provided: presentation
      agreement: presentation

"""

NEW_RULE = """
  - id: early_price_asks_budget
    description: Цену спросили в самом начале — сначала выясняем бюджет.
    salience: 30
    flows: [spin_selling]
    when:
      all:
        - {fact: intent, in_category: price_related}
        - {fact: state, eq: greeting}
    then:
      set_state: spin_budget
      directives: [{kind: budget_first}]
"""


@pytest.fixture(scope="module")
def edited(tmp_path_factory: pytest.TempPathFactory) -> Runtime:
    root = copy_config(tmp_path_factory.mktemp("edited"))
    states = "yaml_config/flows/spin_selling/states.yaml"
    edit_yaml(root, states, "  presentation:\n    extends: _base_presentation\n", NEW_STATE.lstrip("\n") + "  presentation:\n    extends: _base_presentation\n")
    edit_yaml(root, states, "    transitions:\n      need_expressed: presentation\n", "    transitions:\n      need_expressed: spin_budget\n")
    rules = root / "rules/dialogue_policy.yaml"
    rules.write_text(rules.read_text(encoding="utf-8") + NEW_RULE, encoding="utf-8")
    return Runtime(root, "turn", trace=False)


def walk_to_need_payoff(runtime: Runtime, name: str) -> Dialogue:
    talk = Dialogue(runtime, name)
    talk.say("Здравствуйте", intent="greeting")
    talk.say("у нас 3 продуктовых магазина, 5 продавцов", "у нас магазин продуктов, 5 продавцов", intent="situation_provided")
    talk.say("постоянно недостачи и пересорт", "теряем товар, недостачи постоянно", intent="problem_revealed")
    talk.say("да, теряем прилично", "да, это серьёзно бьёт по выручке", intent=("implication_acknowledged", "agreement"))
    assert talk.state == "spin_need_payoff"
    return talk


def test_a_new_state_and_transition_change_the_path(edited: Runtime) -> None:
    original = walk_to_need_payoff(shipped_runtime(), "original-path")
    original.say("хотим контролировать остатки", "нужна программа для учёта", intent="need_expressed")
    assert original.state == "presentation"

    talk = walk_to_need_payoff(edited, "edited-path")
    talk.say("хотим контролировать остатки", "нужна программа для учёта", intent="need_expressed")
    assert talk.state == "spin_budget" and talk.last("action") == "ask_budget"
    talk.say("да", "хорошо", intent="agreement")
    assert talk.state == "presentation" and talk.last("action") == "present"


def test_a_new_policy_rule_overrides_the_state(edited: Runtime) -> None:
    original = Dialogue(shipped_runtime(), "original-price")
    original.say("Здравствуйте", intent="greeting")
    original.say("сколько стоит?", "а сколько стоит программа?", intent="price_question")
    assert original.state == "greeting" and original.last("action") == "answer_price"

    talk = Dialogue(edited, "edited-price")
    talk.say("Здравствуйте", intent="greeting")
    talk.say("сколько стоит?", "а сколько стоит программа?", intent="price_question")
    assert talk.state == "spin_budget" and talk.last("action") == "ask_budget"
    policy = talk.last("policy")
    assert [item["rule"] for item in policy["fired"]] == ["early_price_asks_budget"]
    assert policy["overrides"]["state"] == ["greeting", "spin_budget"]
    assert {"kind": "budget_first", "source": "early_price_asks_budget"} in talk.last("response_directives")


def test_the_edited_config_validates(edited: Runtime) -> None:
    flows = edited.bundle.section("flows")
    assert "spin_budget" in flows["spin_selling"].states
    assert not [issue for issue in edited.bundle.issues if issue.file.startswith(("yaml_config/flows", "rules"))]


def test_the_shipped_config_is_untouched(tmp_path: Path) -> None:
    assert "spin_budget" not in shipped_runtime().bundle.section("flows")["spin_selling"].states
