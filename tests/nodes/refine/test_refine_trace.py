"""Every layer's decision, reason code and metadata land in the DuckDB trace."""
from __future__ import annotations

import json
from pathlib import Path

from engine.config import default_config_dir
from engine.runtime import Runtime


def test_refinement_chain_is_in_the_node_outputs_of_the_trace(tmp_path: Path) -> None:
    runtime = Runtime(default_config_dir(), "understand", trace=True, trace_db=tmp_path / "trace.duckdb", sessions_dir=tmp_path / "sessions")
    try:
        runtime.turn("trace-refine", "второй вариант", dialogue_context={"last_bot_message": "1) Wipon Desktop 2) Wipon Pro"})
        runtime.store.flush()
        rows = {row["node_id"]: row for row in runtime.store.node_runs("trace-refine", 1)}
    finally:
        runtime.close()
    layer_rows = {node_id: row for node_id, row in rows.items() if row["node_type"].startswith("refine.") and node_id != "refine_begin"}
    assert len(layer_rows) == 12
    for row in layer_rows.values():
        last = json.loads(row["outputs"])["refinement_chain"][-1]
        assert last["decision"] in ("pass_through", "refined", "skipped", "error")
        assert last["reason"]
    options = json.loads(rows["refine_options"]["outputs"])
    assert options["intent"] == "info_provided"
    assert options["refinement_chain"][-1]["reason"] == "option_selected:numbered_list"
    assert options["refinement_chain"][-1]["meta"]["option"] == "Wipon Pro"
