"""Trace hook: node inputs stored as references to values recorded elsewhere, resolved on read."""
from __future__ import annotations

import json
from pathlib import Path

import duckdb

from engine.runtime import Runtime
from engine.trace_store import INPUT_REFS, OUTPUT_EXTENDS, STATE_BEFORE
from engine.tracing import dumps

OFF = {"semantic_stage": False, "kb_semantic": False, "tone_semantic": False}
MESSAGES = ["Здравствуйте", "у нас 3 магазина продуктов в Алматы", "а сколько стоит тариф Lite?"]


def _plain(value: object) -> object:
    return json.loads(dumps(value))


def test_read_inputs_equal_what_every_node_read_and_stored_ones_are_references(tmp_path: Path) -> None:
    runtime = Runtime(None, trace_db=tmp_path / "t.duckdb", sessions_dir=tmp_path / "s", flag_overrides=OFF)
    results = [runtime.turn("refs", message) for message in MESSAGES]
    store = runtime.store
    assert store is not None
    for result in results:
        stored = {row["node_id"]: row for row in store.node_runs("refs", result.turn_index)}
        assert list(stored) == [run.node_id for run in result.runs]
        for run in result.runs:
            assert json.loads(stored[run.node_id]["inputs"]) == _plain(run.inputs), run.node_id
            assert json.loads(stored[run.node_id]["outputs"]) == _plain(run.outputs), run.node_id
    runtime.close()
    con = duckdb.connect(str(tmp_path / "t.duckdb"), read_only=True)
    raw = dict(con.execute("SELECT node_id, inputs FROM node_runs WHERE turn = 3").fetchall())
    con.close()
    refine = json.loads(raw["refine_calibration"])
    # classification (the classifier's output) and the conversation (state_before) are referenced
    # by key alone: the value as it stood before the node ran
    refs = refine[INPUT_REFS]
    assert isinstance(refs, list) and "classification" in refs and "conv.state" in refs
    assert "classification" not in refine and "conv.state" not in refine
    assert STATE_BEFORE not in raw["refine_calibration"]
    last = results[-1]
    inline = sum(len(dumps(run.inputs)) for run in last.runs)
    assert sum(len(text) for text in raw.values()) * 5 < inline


def test_an_input_changed_in_place_by_no_one_but_written_by_an_earlier_node_is_referenced_to_that_node(tmp_path: Path) -> None:
    runtime = Runtime(None, trace_db=tmp_path / "t.duckdb", sessions_dir=tmp_path / "s", flag_overrides=OFF)
    runtime.turn("conv-writes", "Здравствуйте")
    result = runtime.turn("conv-writes", "у нас аптека, 2 точки")
    writers = {key: run.node_id for run in result.runs for key in run.outputs if key.startswith("conv.")}
    assert writers, "the turn graph writes some conversation field"
    store = runtime.store
    assert store is not None
    raw = {row["node_id"]: json.loads(row["inputs"]) for row in store.node_runs("conv-writes", 2, expand=False)}
    read = {row["node_id"]: json.loads(row["inputs"]) for row in store.node_runs("conv-writes", 2)}
    outputs = {run.node_id: run.outputs for run in result.runs}
    order = [run.node_id for run in result.runs]
    checked = 0
    for run in result.runs:
        for key in raw[run.node_id].get(INPUT_REFS, []):
            if key in writers and order.index(writers[key]) < order.index(run.node_id):
                # resolved to the earlier writer's output, not to the conversation before the turn
                assert read[run.node_id][key] == _plain(outputs[writers[key]][key]), (run.node_id, key)
                checked += 1
    assert checked > 0
    runtime.close()


def test_a_list_output_extending_an_earlier_one_is_stored_as_its_tail_and_read_whole(tmp_path: Path) -> None:
    runtime = Runtime(None, trace_db=tmp_path / "t.duckdb", sessions_dir=tmp_path / "s", flag_overrides=OFF)
    results = [runtime.turn("chain", message) for message in MESSAGES]
    store = runtime.store
    assert store is not None
    layers = [run for run in results[-1].runs if "refinement_chain" in run.outputs]
    assert len(layers) >= 5
    replayed = {row["node_id"]: json.loads(row["outputs"]) for row in store.node_runs("chain", 3, expand=False)}
    for run in layers:  # rebuilt whole, also for replay (expand=False resolves inputs only)
        assert replayed[run.node_id] == _plain(run.outputs), run.node_id
    runtime.close()
    con = duckdb.connect(str(tmp_path / "t.duckdb"), read_only=True)
    raw = {node: json.loads(text) for node, text in con.execute("SELECT node_id, outputs FROM node_runs WHERE turn = 3").fetchall()}
    con.close()
    previous = None
    for run in layers:
        chain = run.outputs["refinement_chain"]
        stored = raw[run.node_id]
        if previous is None or not previous[1]:  # refine.begin opens an empty chain: nothing to extend
            assert OUTPUT_EXTENDS not in stored and stored["refinement_chain"] == _plain(chain)
        else:
            assert stored[OUTPUT_EXTENDS] == {"refinement_chain": previous[0]}
            assert stored["refinement_chain"] == _plain(chain[len(previous[1]):])
            assert len(stored["refinement_chain"]) == len(chain) - len(previous[1]) == 1
        previous = (run.node_id, chain)


def test_only_a_list_extending_another_nodes_output_item_by_item_is_stored_as_a_tail() -> None:
    from types import SimpleNamespace

    from engine.executor import NodeRun
    from engine.state import ConversationState
    from engine.tracing import node_payloads

    before = ConversationState(conversation_id="tails", used_ctas=["demo"])
    first, second = {"layer": "a"}, {"layer": "b"}
    chain_a, chain_b = [first], [first, second]

    def run(seq: int, node: str, outputs: dict) -> NodeRun:
        return NodeRun(seq, node, "family.variant", 0.0, 1.0, "ok", {}, outputs)

    runs = [
        run(0, "a", {"chain": chain_a}),
        run(1, "b", {"chain": chain_b, "other": 1}),  # a's items, the same objects, plus one
        run(2, "c", {"chain": chain_b}),  # the very list b output: nothing to save
        run(3, "d", {"chain": [dict(first), dict(second), {"layer": "d"}]}),  # equal items, not the same objects
        run(4, "e", {"conv.used_ctas": [*before.used_ctas, "call"]}),  # extends the conversation before the turn
    ]
    stored = [outputs for _inputs, outputs in node_payloads(SimpleNamespace(conversation_before=before, runs=runs))]
    assert stored[0] == {"chain": [first]}
    assert stored[1] == {"chain": [second], "other": 1, OUTPUT_EXTENDS: {"chain": "a"}}
    assert stored[2] == {"chain": chain_b} and OUTPUT_EXTENDS not in stored[2]
    assert stored[3] == {"chain": [first, second, {"layer": "d"}]} and OUTPUT_EXTENDS not in stored[3]
    assert stored[4] == {"conv.used_ctas": ["demo", "call"]} and OUTPUT_EXTENDS not in stored[4]
    assert runs[1].outputs == {"chain": [first, second], "other": 1}  # the run itself is untouched
