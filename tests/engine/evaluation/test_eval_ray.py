"""``--engine ray``: the same evaluation as Ray tasks on a local Ray, one shard per task."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.evaluation import EvaluationOptions, evaluate, prepare, shard_paths
from engine.evaluation.runner import strip_timings
from engine.trace_store import TraceStore
from tests.engine.evaluation.support import SMALL, fast_flags

pytest.importorskip("ray")


def test_ray_engine_gives_the_local_results_and_writes_a_shard_per_task(tmp_path: Path) -> None:
    flags = fast_flags()
    local = evaluate(prepare(EvaluationOptions([SMALL], flags=flags, workers=1)))
    on_ray = evaluate(prepare(EvaluationOptions([SMALL], flags=flags, workers=2, engine="ray", trace_dir=tmp_path / "traces")))
    assert (on_ray["engine"], on_ray["workers"]) == ("ray", 2)
    assert strip_timings(on_ray["results"]) == strip_timings(local["results"])
    assert (on_ray["passed"], on_ray["per_expectation"]) == (local["passed"], local["per_expectation"])
    shards = shard_paths(tmp_path / "traces")
    assert [p.name for p in shards] == ["shard-0.duckdb", "shard-1.duckdb"]
    assert on_ray["traced_turns"] == 17
    with TraceStore.open_shards(shards) as store:
        _columns, rows = store.query("SELECT count(DISTINCT conversation_id), count(*) FROM turns")
        assert rows[0] == (4, 17)
