"""Replay acceptance: an evaluation run replays with no changes on its own config, and an edit
of one policy rule or one flow transition in a copy changes exactly the turns it should.

The evaluation writes its traces (``--trace-dir``, one shard with one worker); ``spinflow
replay --all --trace-db SHARD`` replays them. Which turns *should* change is read from the
recorded trace (the rule that won, the transition's origin), independently of the replayer.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.cli.main import main
from engine.config import default_config_dir
from engine.trace_store import TraceStore
from tests.engine.conftest import copy_config
from tests.engine.evaluation.support import SMALL, fast_flags

FLAG_ARGS = [part for name in fast_flags() for part in ("--flag", f"{name}=off")]


def run_evaluation(paths: list[Path], trace_dir: Path) -> Path:
    code = main(["eval", "dialogues", *map(str, paths), "--trace-dir", str(trace_dir), "--failures", "0", *FLAG_ARGS])
    assert code == 0
    shard = trace_dir / "shard-0.duckdb"
    assert shard.exists()
    return shard


def replay_all(shard: Path, out: Path, config_dir: Path | None = None) -> tuple[int, dict[str, Any]]:
    args = ["replay", "--all", "--trace-db", str(shard), "--fail-on-change", "--json", str(out)]
    if config_dir is not None:
        args += ["--config-dir", str(config_dir)]
    code = main(args)
    return code, json.loads(out.read_text(encoding="utf-8"))


def decision_changes(summary: dict[str, Any]) -> dict[tuple[str, int], set[str]]:
    """Turns whose decision (intent, state, action, reply) changed → the fields that did."""
    out: dict[tuple[str, int], set[str]] = {}
    for item in summary["changed"]:
        fields = {name.split(".", 1)[1] for name in item["fields"] if name.startswith("turn.")}
        if fields:
            out[(item["conversation"], int(item["turn"]))] = fields
    return out


def node_outputs(shard: Path, node_id: str) -> dict[tuple[str, int], dict[str, Any]]:
    with TraceStore(shard, read_only=True) as store:
        _columns, rows = store.query("SELECT conversation_id, turn, outputs FROM node_runs WHERE node_id = ? AND status = 'ok'", [node_id])
    return {(conversation, int(turn)): json.loads(outputs) for conversation, turn, outputs in rows}


@pytest.fixture(scope="module")
def whole_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The whole shipped evaluation set, traced (one worker: one shard)."""
    root = tmp_path_factory.mktemp("whole")
    return run_evaluation([default_config_dir() / "evals" / "dialogues"], root / "traces"), root


@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("small")
    return run_evaluation([SMALL], root / "traces"), root


def test_unchanged_config_changes_no_decision_over_a_whole_evaluation(whole_run: tuple[Path, Path]) -> None:
    shard, root = whole_run
    _code, summary = replay_all(shard, root / "same.json")
    with TraceStore(shard, read_only=True) as store:
        traced = store.query("SELECT count(*) FROM turns")[1][0][0]
    assert summary["turns"] == traced >= 190
    assert summary["by_field"] == {}
    assert decision_changes(summary) == {}


def test_unchanged_config_replays_with_zero_differences(whole_run: tuple[Path, Path]) -> None:
    shard, root = whole_run
    code, summary = replay_all(shard, root / "zero.json")
    assert (summary["changed_turns"], summary["by_node_field"], code) == (0, {}, 0)


def test_one_policy_rule_changed_changes_exactly_the_turns_it_decided(small_run: tuple[Path, Path], tmp_path: Path) -> None:
    shard, _root = small_run
    decided: dict[str, set[tuple[str, int]]] = {}  # rule id → turns where its set_action won
    for key, outputs in node_outputs(shard, "policy").items():
        setters = [fired for fired in sorted(outputs["policy"]["fired"], key=lambda f: f["order"]) if fired["effects"].get("set_action")]
        if setters:
            decided.setdefault(setters[0]["rule"], set()).add(key)
    assert decided, "no policy rule set an action in the small evaluation; its three unclear messages should trigger one"
    rule_id, expected = max(decided.items(), key=lambda item: len(item[1]))
    copy = copy_config(tmp_path / "config")
    rule_file, old_action = edit_rule(copy, rule_id)
    code, summary = replay_all(shard, tmp_path / "rule.json", copy)
    assert code == 1
    changed = decision_changes(summary)
    assert set(changed) == expected, f"{rule_file.name}: rule {rule_id} set_action {old_action} changed"
    assert all("action" in fields for fields in changed.values())
    assert summary["examples"]["action"][0]["before"] == old_action


def edit_rule(config: Path, rule_id: str) -> tuple[Path, str]:
    """Give rule ``rule_id`` another existing action; returns the file and the old action."""
    templates = yaml.safe_load((config / "yaml_config" / "templates" / "responses.yaml").read_text(encoding="utf-8"))["templates"]
    for path in sorted((config / "rules").glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for rule in data.get("rules", []):
            if rule.get("id") == rule_id:
                old = rule["then"]["set_action"]
                rule["then"]["set_action"] = next(name for name in ("gentle_clarification", "offer_exit", "ask_situation") if name in templates and name != old)
                path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
                return path, old
    raise AssertionError(f"rule {rule_id} not found under rules/")


def test_one_flow_transition_changed_changes_exactly_the_turns_that_took_it(small_run: tuple[Path, Path], tmp_path: Path) -> None:
    shard, _root = small_run
    expected = {key for key, outputs in node_outputs(shard, "fsm").items()
                if (outputs.get("transition") or {}).get("origin") == "mixin exit_intents" and outputs["transition"].get("trigger") == "intent:farewell"}
    assert expected, "no turn took the farewell transition of mixin exit_intents; the small set says goodbye in three dialogues"
    copy = copy_config(tmp_path / "config")
    mixins = next(path for path in sorted((copy / "yaml_config" / "flows").rglob("*.yaml"))
                  if "exit_intents" in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("mixins", {}))
    data = yaml.safe_load(mixins.read_text(encoding="utf-8"))
    data["mixins"]["exit_intents"]["transitions"]["farewell"] = {"to": "escalated", "why": "test: goodbye hands over"}
    mixins.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    code, summary = replay_all(shard, tmp_path / "flow.json", copy)
    assert code == 1
    changed = decision_changes(summary)
    assert set(changed) == expected
    assert all("state" in fields for fields in changed.values())
    assert {example["after"] for example in summary["examples"]["state"]} == {"escalated"}
