"""Flows as data: extends/mixins resolution, and one bad-config fixture per error message."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.config import ConfigBundle
from nodes.fsm.flow_checks import check_flow_graph, check_flow_references
from tests.nodes.dialogue_support import SHIPPED, copy_config, edit_yaml

STATES = "yaml_config/flows/spin_selling/states.yaml"
FLOW = "yaml_config/flows/spin_selling/flow.yaml"


def flow_issues(root: Path) -> list[str]:
    """Problems of the flows section and the flow checks only (other sections are not under test)."""
    bundle = ConfigBundle(root)
    bundle.section("flows")
    issues = list(bundle.issues) + list(check_flow_references(bundle)) + list(check_flow_graph(bundle))
    return sorted({issue.render() for issue in issues if issue.file.startswith(("yaml_config/flows", "yaml_config/settings"))})


@pytest.fixture(scope="module")
def shipped_flows():
    bundle = ConfigBundle(SHIPPED)
    return bundle.section("flows")


def test_the_shipped_flows_load_without_problems() -> None:
    assert flow_issues(SHIPPED) == []


def test_extends_then_mixins_then_own_keys(shipped_flows) -> None:
    problem = shipped_flows["spin_selling"].states["spin_problem"]
    assert problem.lineage == ("mixin exit_intents", "mixin escalation", "mixin conversation_control", "_base_state", "mixin price_handling", "mixin objection_handling", "_base_phase")
    assert problem.max_turns == 2  # from _base_phase
    assert problem.transitions["rejection"].to == "soft_close" and problem.transitions["rejection"].origin == "mixin exit_intents"
    assert problem.rules["price_question"].action == "answer_price"
    assert problem.category_transitions["objection"].action_from == "objection"
    assert problem.transitions["problem_revealed"].origin == "state spin_problem"
    implication = shipped_flows["spin_selling"].states["spin_implication"]
    assert implication.max_turns == 2 and implication.next == "spin_need_payoff"
    close = shipped_flows["spin_selling"].states["close"]
    assert close.max_turns == 3 and close.next == "soft_close"  # _base_close overrides _base_state's nothing


def test_two_flows_share_the_base(shipped_flows) -> None:
    assert set(shipped_flows) >= {"spin_selling", "bant"}
    bant = shipped_flows["bant"]
    assert bant.phases == ("need", "budget", "authority", "timeline")
    assert bant.states["bant_budget"].rules["price_question"].origin == "mixin price_handling"
    assert [priority.name for priority in bant.priorities][:3] == ["final_state", "rejection", "escalation"]


def test_a_null_removes_an_inherited_move(tmp_path: Path) -> None:
    root = copy_config(tmp_path)
    edit_yaml(root, STATES, "  spin_problem:\n    extends: _base_phase\n", "  spin_problem:\n    extends: _base_phase\n    rules: {price_question: null}\n")
    flows = ConfigBundle(root).section("flows")
    assert "price_question" not in flows["spin_selling"].states["spin_problem"].rules
    assert "price_question" in flows["spin_selling"].states["spin_situation"].rules


BAD_CASES = [
    (
        "unknown target state",
        STATES, "      problem_revealed: spin_implication\n      need_expressed: spin_need_payoff\n      no_problem:",
        "      problem_revealed: spin_implicaton\n      need_expressed: spin_need_payoff\n      no_problem:",
        "states.spin_problem.transitions.problem_revealed: unknown state 'spin_implicaton'. Did you mean 'spin_implication'?",
    ),
    (
        "unknown mixin",
        STATES, "    mixins: [price_handling, objection_handling]\n    rules:\n      greeting: {action: greet}",
        "    mixins: [price_handlng, objection_handling]\n    rules:\n      greeting: {action: greet}",
        "states.greeting.mixins[0]: unknown mixin 'price_handlng'. Did you mean 'price_handling'?",
    ),
    (
        "unknown intent",
        STATES, "      implication_acknowledged: spin_need_payoff\n      problem_revealed: spin_need_payoff",
        "      implication_acknowledged: spin_need_payoff\n      problem_reveled: spin_need_payoff",
        "states.spin_implication.transitions.problem_reveled: unknown intent 'problem_reveled'. Did you mean 'problem_revealed'?",
    ),
    (
        "a category under an intent key",
        STATES, "      implication_acknowledged: spin_need_payoff\n      problem_revealed: spin_need_payoff",
        "      implication_acknowledged: spin_need_payoff\n      objection: spin_need_payoff",
        "states.spin_implication.transitions.objection: unknown intent 'objection'. 'objection' is a category",
    ),
    (
        "unknown action",
        STATES, "    on_enter: ask_situation",
        "    on_enter: ask_situaton",
        "states.spin_situation.on_enter: unknown action 'ask_situaton'. Did you mean 'ask_situation'?",
    ),
    (
        "unknown fact in a gate",
        FLOW, "        - {fact: essentials_known}",
        "        - {fact: essentials_knwon}",
        "gates.close.when.any[0].fact: unknown fact 'essentials_knwon'. Did you mean 'essentials_known'?",
    ),
    (
        "unknown temperature in skipping",
        FLOW, "    when: {fact: lead_temperature, eq: hot}",
        "    when: {fact: lead_temperature, eq: hott}",
        "skipping[0].when.eq: unknown temperature 'hott'. Did you mean 'hot'?",
    ),
    (
        "unknown state in skipping",
        FLOW, "    from: [spin_situation, spin_problem]\n    to: spin_need_payoff",
        "    from: [spin_situation, spin_problme]\n    to: spin_need_payoff",
        "skipping[0].from[1]: unknown state 'spin_problme'. Did you mean 'spin_problem'?",
    ),
    (
        "unknown priority override",
        FLOW, "objection_limit: {to: soft_close, action: soft_close_after_objections}",
        "objection_limit: {to: soft_close, action: soft_close_after_objections}\npriority_overrides:\n  go_bak: {enabled: false}",
        "priority_overrides.go_bak: unknown priority 'go_bak'. Did you mean 'go_back'?",
    ),
    (
        "two targets in one move",
        FLOW, "  skip_phase: {next: true}",
        "  skip_phase: {next: true, to: close}",
        "interventions.skip_phase: a move has one target, found to, next",
    ),
    (
        "resume without back",
        FLOW, "  skip_phase: {next: true}",
        "  skip_phase: {next: true, resume: true}",
        "interventions.skip_phase: resume: true needs back: true (it resumes in the state the detour returns to)",
    ),
]


@pytest.mark.parametrize(("case", "file", "old", "new", "expected"), BAD_CASES, ids=[case[0] for case in BAD_CASES])
def test_each_bad_flow_is_reported_with_file_line_and_fix(tmp_path: Path, case: str, file: str, old: str, new: str, expected: str) -> None:
    root = copy_config(tmp_path)
    edit_yaml(root, file, old, new)
    issues = flow_issues(root)
    matching = [issue for issue in issues if expected in issue and issue.startswith(file + ":")]
    assert matching, "\n".join(issues)
    line = int(matching[0].split(":")[1])
    text = (root / file).read_text(encoding="utf-8").splitlines()[line - 1]
    assert any(word in text for word in ("spin_implicaton", "price_handlng", "problem_reveled", "objection", "ask_situaton", "essentials_knwon", "hott", "spin_problme", "go_bak", "skip_phase")), (line, text)


def write_mini_flow(root: Path, states: str) -> None:
    (root / "yaml_config/flows/mini").mkdir(parents=True)
    (root / "yaml_config/flows/mini/flow.yaml").write_text("version: 1\nname: mini\ninitial: a\nstates:\n" + states, encoding="utf-8")


def test_unreachable_states_and_dead_ends_are_reported(tmp_path: Path) -> None:
    root = copy_config(tmp_path)
    write_mini_flow(root, (
        "  a: {on_enter: greet, transitions: {agreement: b}}\n"
        "  b: {on_enter: ask_problem}\n"
        "  orphan: {on_enter: ask_situation, default: a}\n"
        "  done: {on_enter: confirm_contact, final: true}\n"
    ))
    issues = flow_issues(root)
    assert any("flow.yaml:6: states.b: flow 'mini': state 'b' has no way out" in issue for issue in issues), issues
    assert any("flow.yaml:7: states.orphan: flow 'mini': state 'orphan' is unreachable from 'a'" in issue for issue in issues), issues
    assert any("state 'done' is unreachable" in issue for issue in issues), issues


def test_an_extends_cycle_is_reported(tmp_path: Path) -> None:
    root = copy_config(tmp_path)
    write_mini_flow(root, (
        "  a: {on_enter: greet, transitions: {agreement: done}}\n"
        "  _x: {extends: _y}\n"
        "  _y: {extends: _x}\n"
        "  b: {extends: _x, on_enter: greet}\n"
        "  done: {on_enter: confirm_contact, final: true}\n"
    ))
    issues = flow_issues(root)
    assert any("extends cycle: b -> _x -> _y -> _x" in issue for issue in issues), issues


def test_a_missing_flow_named_in_settings_is_reported(tmp_path: Path) -> None:
    root = copy_config(tmp_path)
    edit_yaml(root, "yaml_config/settings.yaml", "flow: spin_selling", "flow: spin_seling")
    issues = flow_issues(root)
    assert any(issue.startswith("yaml_config/settings.yaml:4: flow: unknown flow 'spin_seling'. Did you mean 'spin_selling'?") for issue in issues), issues
