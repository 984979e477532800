"""Executor: order, failure policy, patch discipline, flags, hooks, determinism."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.config import ConfigBundle
from engine.executor import Executor
from engine.graph import load_graph
from engine.state import ConversationState
from tests.engine.conftest import write_graph

FAILING = """version: 1
nodes:
  normalize: {{type: normalize.text}}
  boom:
    type: testing.raises
    config: {{message: "kaput"}}
    on_error: {policy}
    {default}
  echo: {{type: testing.echo, after: [boom, normalize]}}
"""


def run(config_dir: Path, graph: str, message: str = "Привет", *, flags: dict[str, bool] | None = None, hooks: list[Any] | None = None):  # type: ignore[no-untyped-def]
    bundle = ConfigBundle(config_dir)
    compiled = load_graph(bundle, graph)
    executor = Executor(compiled, hooks or [])
    effective = bundle.flags(environ={}).snapshot() | (flags or {})
    return executor.run_turn(ConversationState(conversation_id="c1"), message, flags=effective)


def test_skip_policy_keeps_the_turn_and_traces_the_error(config_copy: Path) -> None:
    write_graph(config_copy, "g", FAILING.format(policy="skip", default=""))
    result = run(config_copy, "g")
    runs = {r.node_id: r for r in result.runs}
    assert runs["boom"].status == "error"
    assert runs["boom"].error == "RuntimeError: kaput"
    assert runs["echo"].status == "ok"
    assert result.values["echo"] == {"message": "Привет", "boom_value": None}
    assert result.status == "degraded"


def test_default_policy_writes_the_declared_default(config_copy: Path) -> None:
    write_graph(config_copy, "g", FAILING.format(policy="default", default="default: {boom_value: 42}"))
    result = run(config_copy, "g")
    assert result.values["echo"]["boom_value"] == 42
    assert {r.node_id: r.outputs for r in result.runs}["boom"] == {"boom_value": 42}


def test_fallback_policy_sets_the_error_key(config_copy: Path) -> None:
    write_graph(config_copy, "g", FAILING.format(policy="fallback", default=""))
    result = run(config_copy, "g")
    assert result.values["error"] == {"node": "boom", "type": "testing.raises", "error": "RuntimeError: kaput"}


def test_patch_outside_writes_is_rejected_naming_node_and_key(config_copy: Path) -> None:
    write_graph(config_copy, "g", "version: 1\nnodes:\n  greedy: {type: testing.overreach}\n")
    result = run(config_copy, "g")
    (greedy,) = result.runs
    assert greedy.status == "error"
    assert "node 'greedy' (testing.overreach)" in greedy.error and "'sneaky'" in greedy.error
    assert "sneaky" not in result.values and "declared" not in result.values


def test_when_flag_skips_a_node_and_flags_decide_per_turn(config_copy: Path) -> None:
    write_graph(
        config_copy,
        "g",
        "version: 1\nnodes:\n  normalize: {type: normalize.text, when: 'cascade_classifier and not llm_classifier'}\n",
    )
    on = run(config_copy, "g", "Да", flags={"cascade_classifier": True, "llm_classifier": False})
    off = run(config_copy, "g", "Да", flags={"cascade_classifier": True, "llm_classifier": True})
    assert on.runs[0].status == "ok" and on.values["text"] == "да"
    assert off.runs[0].status == "skipped" and "text" not in off.values


def test_order_is_topological_and_stable(config_copy: Path) -> None:
    write_graph(
        config_copy,
        "g",
        "version: 1\nnodes:\n"
        "  z: {type: debug.noop, after: [b], config: {reads: [vb], writes: [vz]}}\n"
        "  b: {type: debug.noop, after: [a], config: {reads: [va], writes: [vb]}}\n"
        "  a: {type: debug.noop, config: {reads: [message], writes: [va]}}\n"
        "  y: {type: debug.noop, config: {reads: [message], writes: [vy]}}\n",
    )
    result = run(config_copy, "g", "x")
    assert [r.node_id for r in result.runs] == ["a", "b", "z", "y"]
    assert result.values["vz"] == "x"
    assert all(r.duration_us >= 0 and r.start_us >= 0 for r in result.runs)


def test_hooks_get_keyword_arguments_and_tokens(config_copy: Path) -> None:
    seen: list[tuple[str, Any]] = []

    class Recorder:
        def before_node(self, *, node_id: str, node_type: str, inputs: Any, **future: Any) -> str:
            seen.append(("before", node_id))
            return f"token-{node_id}"

        def after_node(self, *, token: str, run: Any, **future: Any) -> None:
            seen.append(("after", token))

        def after_turn(self, *, result: Any, **future: Any) -> None:
            seen.append(("turn", result.turn_index))

    result = run(config_copy, "turn", "Здравствуйте", hooks=[Recorder()])
    executed = [r.node_id for r in result.runs if r.status != "skipped"]
    assert seen[0] == ("before", executed[0]) and seen[1] == ("after", f"token-{executed[0]}")
    assert seen[-1] == ("turn", 1)
    assert len([s for s in seen if s[0] == "before"]) == len(executed)


def test_seed_is_deterministic_per_conversation_turn_and_node(config_copy: Path) -> None:
    write_graph(config_copy, "g", "version: 1\ninputs: [boom_value]\nnodes:\n  echo: {type: testing.echo}\n")
    first = run(config_copy, "g").values["seed"]
    second = run(config_copy, "g").values["seed"]
    assert first == second
    bundle = ConfigBundle(config_copy)
    executor = Executor(load_graph(bundle, "g"))
    other = executor.run_turn(ConversationState(conversation_id="c2"), "x", flags={}).values["seed"]
    assert other != first


def test_conversation_is_not_mutated_and_writes_commit(config_copy: Path) -> None:
    bundle = ConfigBundle(config_copy)
    executor = Executor(load_graph(bundle, "turn"))
    before = ConversationState(conversation_id="c1")
    snapshot = before.model_dump()
    result = executor.run_turn(before, "Здравствуйте", flags=bundle.flags(environ={}).snapshot())
    assert before.model_dump() == snapshot
    assert result.conversation_after.turn_count == 1
    assert result.conversation_after.state == "greeting"
    assert result.conversation_after.used_variants != {}


def test_recorded_outputs_replace_nondeterministic_nodes(config_copy: Path) -> None:
    from nodes.debug.noop import NoOp

    write_graph(config_copy, "g", "version: 1\nnodes:\n  n: {type: debug.noop, config: {reads: [message], writes: [v]}}\n")
    NoOp.nondeterministic = True
    try:
        graph = load_graph(ConfigBundle(config_copy), "g")
        result = Executor(graph).run_turn(ConversationState(conversation_id="c"), "live", flags={}, recorded={"n": {"v": "recorded"}})
    finally:
        del NoOp.nondeterministic
    assert result.values["v"] == "recorded" and result.runs[0].status == "replayed"
