"""Trace hook: node inputs stored as references to values recorded elsewhere, resolved on read."""
from __future__ import annotations

import json
from pathlib import Path

import duckdb

from engine.runtime import Runtime
from engine.trace_store import INPUT_REFS, STATE_BEFORE
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
    # classification comes from the classifier's output, the conversation from state_before
    assert refine[INPUT_REFS]["classification"] == "classify"
    assert all(source == STATE_BEFORE for key, source in refine[INPUT_REFS].items() if key.startswith("conv."))
    assert "classification" not in refine
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
    order = [run.node_id for run in result.runs]
    for run in result.runs:
        for key, source in raw[run.node_id].get(INPUT_REFS, {}).items():
            if key in writers and order.index(writers[key]) < order.index(run.node_id):
                assert source != STATE_BEFORE, (run.node_id, key)
    runtime.close()
