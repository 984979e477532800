"""Dialogue file format: valid files load; every problem is reported with file:line and a fix."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.config import ConfigBundle, default_config_dir
from engine.errors import ConfigError
from engine.evaluation.spec import as_tuple, check_names, load_suite

GOOD = """\
version: 1
dialogues:
  - id: first
    persona: happy_path
    turns:
      - client: Здравствуйте
        expect: {state: greeting, intent: [greeting, small_talk]}
      - client: "87011112233"
    outcome: {reaches: [greeting], final_state: greeting, max_turns_in_state: 2}
  - id: second
    persona: rude
    turns:
      - client: отстаньте
"""


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_valid_file_loads_with_lines_and_conversation_ids(tmp_path: Path) -> None:
    suite = load_suite([write(tmp_path / "a.yaml", GOOD)])
    assert suite.issues == []
    assert [d.id for d in suite.dialogues] == ["first", "second"]
    first = suite.dialogues[0]
    assert (first.line, first.turn_lines) == (3, (6, 8))
    assert first.conversation_id == "eval-first"
    assert as_tuple(first.spec.turns[0].expect.intent) == ("greeting", "small_talk")
    assert as_tuple(first.spec.turns[0].expect.state) == ("greeting",)
    assert first.spec.turns[1].expect is None
    assert suite.turns == 3


def test_folder_is_searched_recursively_in_path_order(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    write(tmp_path / "sub" / "b.yaml", GOOD.replace("first", "third").replace("second", "fourth"))
    write(tmp_path / "a.yaml", GOOD)
    suite = load_suite([tmp_path])
    assert [d.id for d in suite.dialogues] == ["first", "second", "third", "fourth"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (GOOD.replace("{state: greeting,", "{stat: greeting,"), r"a\.yaml:7: dialogues\[0\]\.turns\[0\]\.expect\.stat: unknown key"),
        (GOOD.replace('client: "87011112233"', "client: 87011112233"), r"a\.yaml:8: dialogues\[0\]\.turns\[1\]\.client: YAML read this message as the number 87011112233; quote it"),
        (GOOD.replace("max_turns_in_state: 2", "max_turns_in_state: 0"), r"a\.yaml:9: dialogues\[0\]\.outcome\.max_turns_in_state: Input should be greater than or equal to 1"),
        (GOOD.replace("intent: [greeting, small_talk]", "intent: []"), r"a\.yaml:7: dialogues\[0\]\.turns\[0\]\.expect\.intent: empty list"),
        (GOOD.replace("    persona: rude\n", ""), r"a\.yaml:10: dialogues\[1\]: missing required key 'persona'"),
        (GOOD.replace("id: second", "id: first"), r"a\.yaml:10: dialogues\[1\]\.id: dialogue id 'first' is used twice \(first at .*a\.yaml:3\)"),
        (GOOD.replace("version: 1", "version: 2"), r"a\.yaml:1: version: Input should be 1"),
        ("dialogues: [\n", r"a\.yaml:2: <root>: invalid YAML"),
    ],
)
def test_each_problem_has_its_line(tmp_path: Path, text: str, expected: str) -> None:
    suite = load_suite([write(tmp_path / "a.yaml", text)])
    with pytest.raises(ConfigError, match=expected):
        suite.raise_if_invalid()


def test_every_problem_of_every_file_is_listed_at_once(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", GOOD.replace("{state: greeting,", "{stat: greeting,"))
    write(tmp_path / "b.yaml", GOOD.replace("first", "x1").replace("second", "x2").replace("turns:\n      - client: отстаньте", "turns: []"))
    suite = load_suite([tmp_path, tmp_path / "missing.yaml"])
    rendered = [issue.render() for issue in suite.issues]
    assert len(rendered) == 3
    assert any("a.yaml:7:" in line for line in rendered)
    assert any("b.yaml:12: dialogues[1].turns: List should have at least 1 item" in line for line in rendered)
    assert any("missing.yaml: <root>: no such file or folder" in line for line in rendered)


def test_names_are_checked_against_the_config(tmp_path: Path) -> None:
    text = GOOD.replace("{state: greeting,", "{state: greting, action: ask_situaton,").replace("[greeting, small_talk]", "[greeting, smal_talk]")
    text = text.replace("reaches: [greeting]", "reaches: [spin_problem, presentaton]")
    suite = load_suite([write(tmp_path / "a.yaml", text)])
    assert suite.issues == []
    issues = [issue.render() for issue in check_names(suite, ConfigBundle(default_config_dir()))]
    issues = [line[line.index("a.yaml"):] for line in issues]
    assert "a.yaml:7: dialogues[0].turns[0].expect.state: unknown state 'greting'. Did you mean 'greeting'?" in issues
    assert "a.yaml:7: dialogues[0].turns[0].expect.action: unknown action 'ask_situaton'. Did you mean 'ask_situation'?" in issues
    assert "a.yaml:7: dialogues[0].turns[0].expect.intent[1]: unknown intent 'smal_talk'. Did you mean 'small_talk'?" in issues
    assert "a.yaml:9: dialogues[0].outcome.reaches[1]: unknown state 'presentaton'. Did you mean 'presentation'?" in issues
    assert len(issues) == 4


def test_shipped_evals_load_and_name_only_known_things() -> None:
    root = default_config_dir()
    suite = load_suite([root / "evals" / "dialogues"])
    assert suite.issues == []
    assert len(suite.dialogues) >= 40
    personas = {dialogue.spec.persona for dialogue in suite.dialogues}
    assert personas == {"happy_path", "price_sensitive", "skeptic", "busy", "competitor_user", "frustrated", "rude", "tire_kicker",
                        "ready_buyer", "off_topic", "mixed_question_data"}
    assert all(4 <= len(dialogue.spec.turns) <= 12 for dialogue in suite.dialogues)
    assert [issue.render() for issue in check_names(suite, ConfigBundle(root))] == []
