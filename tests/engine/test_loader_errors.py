"""One broken-config fixture per loader message; every message has file:line and a fix."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from engine.config import ConfigBundle
from engine.errors import ConfigError
from engine.graph import load_graph
from tests.engine.conftest import write_graph

GOOD_NODE = "  normalize:\n    type: normalize.text\n"


def load(config_dir: Path, graph: str = "turn") -> None:
    load_graph(ConfigBundle(config_dir), graph)


def test_shipped_config_is_valid() -> None:
    assert ConfigBundle().validate() == []


@pytest.mark.parametrize(
    "graph_text, expected",
    [
        (
            "version: 1\nnodes:\n  normalize:\n    type: normalise.text\n",
            r"graphs/g\.yaml:4: nodes\.normalize\.type: unknown node type 'normalise\.text'\. Did you mean 'normalize\.text'\?",
        ),
        (
            "version: 1\nnodes:\n" + GOOD_NODE + "  classify:\n    type: classify.patterns\n    after: [normalise]\n",
            r"graphs/g\.yaml:7: nodes\.classify\.after\[0\]: unknown node 'normalise'\. Did you mean 'normalize'\?",
        ),
        (
            "version: 1\nnodes:\n" + GOOD_NODE + "    when: cascade_clasifier\n",
            r"graphs/g\.yaml:5: nodes\.normalize\.when: unknown flag 'cascade_clasifier'\. Did you mean 'cascade_classifier'\?",
        ),
        (
            "version: 1\nnodes:\n" + GOOD_NODE + "    when: cascade_classifier and (\n",
            r"graphs/g\.yaml:5: nodes\.normalize\.when: bad expression: expression ends too early",
        ),
        (
            "version: 1\nnodes:\n" + GOOD_NODE + "    retries: 3\n",
            r"graphs/g\.yaml:5: nodes\.normalize\.retries: unknown key\. Remove it or check its spelling\.",
        ),
        (
            "version: 1\nnodes:\n" + GOOD_NODE + "    config: {max_chars: 1000, lowercased: true}\n",
            r"graphs/g\.yaml:5: nodes\.normalize\.config\.lowercased: unknown key",
        ),
        (
            "version: 1\nnodes:\n" + GOOD_NODE + "    config: {max_chars: 3}\n",
            r"graphs/g\.yaml:5: nodes\.normalize\.config\.max_chars: Input should be greater than or equal to 16\. Use a value inside the allowed range\.",
        ),
        (
            "version: 1\nnodes:\n  a: {type: debug.noop, after: [c], config: {writes: [x]}}\n  b: {type: debug.noop, after: [a]}\n  c: {type: debug.noop, after: [b]}\n",
            r"dependency cycle: a -> b -> c -> a\. Remove one of these after: entries\.",
        ),
        (
            "version: 1\nnodes:\n  fsm:\n    type: fsm.flow\n",
            r"graphs/g\.yaml:4: nodes\.fsm\.type: reads 'intent', which no upstream node writes\. No node writes it",
        ),
        (
            "version: 1\nnodes:\n" + GOOD_NODE + "  classify:\n    type: classify.patterns\n  fsm:\n    type: fsm.flow\n",
            r"graphs/g\.yaml:8: nodes\.fsm\.type: reads 'intent', which no upstream node writes\. Add after: \[classify\]",
        ),
        (
            "version: 1\nnodes:\n  a: {type: debug.noop, config: {writes: [x]}}\n  b: {type: debug.noop, config: {writes: [x]}}\n",
            r"graphs/g\.yaml:4: nodes\.b\.after: both 'a' and 'b' write 'x' but neither runs after the other",
        ),
        (
            "version: 1\nnodes:\n" + GOOD_NODE + "    on_error: default\n    default: {intent: unclear}\n",
            r"graphs/g\.yaml:6: nodes\.normalize\.default\.intent: default for 'intent', which node type normalize\.text does not write",
        ),
        (
            "version: 1\nnodes:\n" + GOOD_NODE + "    on_error: retry\n",
            r"graphs/g\.yaml:5: nodes\.normalize\.on_error: Input should be 'skip', 'default' or 'fallback'",
        ),
        (
            "nodes:\n" + GOOD_NODE,
            r"graphs/g\.yaml:1: <root>: missing required key 'version'\. Add 'version'\.",
        ),
        (
            "version: 1\nnodes:\n" + GOOD_NODE + GOOD_NODE,
            r"graphs/g\.yaml:5: nodes\.normalize: duplicate key \(first defined on line 3\)",
        ),
        (
            "version: 1\nnodes:\n  normalize: [unclosed\n",
            r"graphs/g\.yaml:4: <root>: invalid YAML",
        ),
    ],
    ids=[
        "unknown-type", "unknown-after", "unknown-flag", "bad-when", "extra-node-key", "extra-config-key", "config-range",
        "cycle", "read-not-provided", "read-needs-after", "unordered-writers", "default-not-written", "bad-on-error",
        "missing-version", "duplicate-key", "yaml-syntax",
    ],
)
def test_each_graph_error_message(config_copy: Path, graph_text: str, expected: str) -> None:
    write_graph(config_copy, "g", graph_text)
    with pytest.raises(ConfigError, match=expected):
        load(config_copy, "g")


def test_settings_errors_name_file_and_line(config_copy: Path) -> None:
    settings = config_copy / "yaml_config" / "settings.yaml"
    text = settings.read_text(encoding="utf-8")
    text = text.replace("flag_groups:\n", "flag_groups:\n  typo: [tracing, tracng]\n")
    text = text.replace("flow: spin_selling\n", "flow: spin_selling\nflw: x\n")
    settings.write_text(text, encoding="utf-8")
    issues = ConfigBundle(config_copy).validate()
    rendered = [issue.render() for issue in issues]
    assert any(re.match(r"yaml_config/settings\.yaml:\d+: flag_groups\.typo\[1\]: unknown flag 'tracng'\. Did you mean 'tracing'\?", r) for r in rendered), rendered
    assert any(re.match(r"yaml_config/settings\.yaml:\d+: flw: unknown key", r) for r in rendered), rendered


def test_flow_errors_name_the_state(config_copy: Path) -> None:
    flow = config_copy / "yaml_config" / "flows" / "spin_selling" / "states.yaml"
    text = flow.read_text(encoding="utf-8")
    assert "need_expressed: presentation\n" in text
    flow.write_text(text.replace("need_expressed: presentation\n", "need_expressed: presentaton\n", 1), encoding="utf-8")
    issues = [issue.render() for issue in ConfigBundle(config_copy).validate()]
    assert any("'presentaton'" in line and "Did you mean 'presentation'?" in line and line.startswith("yaml_config/flows/spin_selling/states.yaml:") for line in issues), issues


def test_every_problem_of_a_load_is_listed_sorted(config_copy: Path) -> None:
    write_graph(
        config_copy,
        "turn",
        "version: 1\nnodes:\n  normalize:\n    type: normalise.text\n    retries: 1\n  classify:\n    type: classify.patterns\n    after: [normalize]\n    when: cascade_clasifier\n",
    )
    with pytest.raises(ConfigError) as caught:
        load(config_copy)
    lines = str(caught.value).splitlines()
    ours = [line for line in lines if line.startswith("graphs/turn.yaml")]
    assert len(ours) == 3, lines
    assert [int(line.split(":")[1]) for line in ours] == sorted(int(line.split(":")[1]) for line in ours)


def test_validate_cli_exits_2_with_every_problem(config_copy: Path) -> None:
    """The issue's acceptance check: unknown type, cycle, typo'd flag and extra key at once."""
    write_graph(
        config_copy,
        "turn",
        "version: 1\nnodes:\n"
        "  normalize:\n    type: normalize.txt\n"
        "  a:\n    type: debug.noop\n    after: [b]\n"
        "  b:\n    type: debug.noop\n    after: [a]\n"
        "  c:\n    type: debug.noop\n    when: tracng\n"
        "  d:\n    type: debug.noop\n    colour: red\n",
    )
    done = subprocess.run([sys.executable, "-m", "engine.cli.main", "validate", "--config-dir", str(config_copy)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("graphs/turn.yaml:")]
    assert any(":4: nodes.normalize.type: unknown node type 'normalize.txt'. Did you mean 'normalize.text'?" in e for e in errors), done.stderr
    assert any("dependency cycle: a -> b -> a" in e for e in errors), done.stderr
    assert any(":13: nodes.c.when: unknown flag 'tracng'. Did you mean 'tracing'?" in e for e in errors), done.stderr
    assert any(":16: nodes.d.colour: unknown key" in e for e in errors), done.stderr


def test_validate_cli_exits_0_on_shipped_config() -> None:
    done = subprocess.run([sys.executable, "-m", "engine.cli.main", "validate"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "ok" in done.stdout
