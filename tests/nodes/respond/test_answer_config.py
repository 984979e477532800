"""Bad answer-side YAML fails at load time with file:line, the problem and the fix — one message each."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.config import ConfigBundle
from tests.nodes.answers_support import copy_shipped

MINE = ("yaml_config/templates/", "yaml_config/cta.yaml", "yaml_config/fallback.yaml")
#: Where the error must point when it is not the first line of the edit.
ANCHORS = {
    "  - id: presentation_trial\n": "  - id: presentation_trial\n    states: [handle_objection]",  # the second definition
    "  Сообщение клиента: {mesage}\n": "user: |",  # a block scalar is reported at its key
}


def problems_after(tmp_path: Path, relative: str, old: str, new: str) -> list[str]:
    root = copy_shipped(tmp_path / "config")
    path = root / relative
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {relative}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    bundle = ConfigBundle(root)
    return [issue.render() for issue in bundle.validate() if issue.file.startswith(MINE)]


def test_the_shipped_answer_config_is_clean() -> None:
    assert [issue.render() for issue in ConfigBundle().validate() if issue.file.startswith(MINE)] == []


@pytest.mark.parametrize(
    ("relative", "old", "new", "expected"),
    [
        ("yaml_config/templates/composition.yaml", "  spin_problem: ask_problem\n", "  spin_problem: ask_problme\n",
         "yaml_config/templates/composition.yaml:{line}: followups.spin_problem: no templates for action 'ask_problme'. Did you mean 'ask_problem'?"),
        ("yaml_config/templates/composition.yaml", "  spin_problem: ask_problem\n", "  spin_problme: ask_problem\n",
         "yaml_config/templates/composition.yaml:{line}: followups.spin_problme: unknown dialogue state 'spin_problme'. Did you mean 'spin_problem'?"),
        ("yaml_config/templates/composition.yaml", "answer_min_score: 0.45", "answer_min_score: 1.45",
         "yaml_config/templates/composition.yaml:{line}: answer_min_score: Input should be less than or equal to 1. Use a value inside the allowed range."),
        ("yaml_config/cta.yaml", "  - id: objection_case\n", "  - id: presentation_trial\n",
         "yaml_config/cta.yaml:{line}: state_ctas[4].id: duplicate CTA id 'presentation_trial'. Give every CTA a unique id."),
        ("yaml_config/cta.yaml", "    states: [spin_problem, spin_implication]\n", "    states: [spin_situation, spin_implication]\n",
         "yaml_config/cta.yaml:{line}: state_ctas[0].states: CTA 'problem_solution_peek' is offered in early states ['spin_situation'], where CTAs are never shown. Remove those states or take them out of early_states."),
        ("yaml_config/cta.yaml", "    when: {field: competitor, present: true}\n", "    when: {field: competitor, present: true, equals: iiko}\n",
         "yaml_config/cta.yaml:{line}: dynamic[0].when[0]: give exactly one of present, equals, in. Correct the value."),
        ("yaml_config/templates/prompts/spin_selling.yaml", "  Сообщение клиента: {message}\n", "  Сообщение клиента: {mesage}\n",
         "yaml_config/templates/prompts/spin_selling.yaml:{line}: user: unknown slots ['mesage']; use ['directives', 'draft', 'facts', 'flow', 'goal', 'instruction', 'max_words', 'message', 'state']. Correct the value."),
        ("yaml_config/fallback.yaml", "  unclear_intent: [knowledge, generic, apology]", "  unclear_intent: [knowledge, generik, apology]",
         "yaml_config/fallback.yaml:{line}: triggers.unclear_intent[1]: Input should be 'knowledge', 'company_facts', 'generic' or 'apology'. Use one of the allowed values."),
        ("yaml_config/templates/responses_sales.yaml", "  apology:\n", "  apology: []\n  apologies:\n",
         "yaml_config/templates/responses_sales.yaml:{line}: templates.apology: empty variation. Give every variation some reply text."),
    ],
    ids=["followup-action", "followup-state", "threshold", "cta-duplicate", "cta-early-state", "cta-condition", "prompt-slot", "fallback-tier", "empty-template"],
)
def test_each_mistake_has_its_message(tmp_path: Path, relative: str, old: str, new: str, expected: str) -> None:
    problems = problems_after(tmp_path, relative, old, new)
    text = (tmp_path / "config" / relative).read_text(encoding="utf-8")
    anchor = ANCHORS.get(new, new.strip("\n").split("\n")[0])
    line = text[: text.index(anchor)].count("\n") + 1
    assert expected.format(line=line) in problems, problems
