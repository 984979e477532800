"""One evaluation run end to end: load and check, split, run on an engine, merge, summarise."""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from engine.errors import ConfigError, EngineError
from engine.evaluation.engines import partition, run_local, run_ray
from engine.evaluation.latency import LatencyHistogram
from engine.evaluation.metrics import MetricDefinitions, load_metric_definitions, summarise
from engine.evaluation.runner import ChunkJob, RunSpec, runtime_for
from engine.evaluation.spec import DialogueSuite, check_names, load_suite

__all__ = ["EvaluationOptions", "Prepared", "prepare", "evaluate", "shard_paths", "default_metrics_path"]

SHARD_GLOB = "shard-*.duckdb"


@dataclass
class EvaluationOptions:
    paths: Sequence[str | Path]
    config_dir: str | Path | None = None
    graph: str | None = None
    flags: dict[str, bool] = field(default_factory=dict)
    workers: int = 1
    engine: Literal["local", "ray"] = "local"
    ray_address: str | None = None
    trace_dir: str | Path | None = None  # None: no traces
    metrics: str | Path | None = None  # None: evals/metrics.yaml of the project, if present
    start_method: str | None = None  # local engine with workers > 1: fork | spawn | forkserver


@dataclass
class Prepared:
    options: EvaluationOptions
    spec: RunSpec
    runtime: Any
    suite: DialogueSuite
    definitions: MetricDefinitions


def default_metrics_path() -> Path | None:
    from engine.config import default_config_dir

    path = default_config_dir() / "evals" / "metrics.yaml"
    return path if path.exists() else None


def shard_paths(trace_dir: str | Path) -> list[Path]:
    """The trace shards of an evaluation run, in worker order (``TraceStore.open_shards`` them)."""
    return sorted(Path(trace_dir).glob(SHARD_GLOB), key=lambda p: int(p.stem.split("-")[1]) if p.stem.split("-")[1].isdigit() else 0)


def prepare(options: EvaluationOptions) -> Prepared:
    """Build the runtime (validating the config), load the dialogues, check every name.

    Raises ``ConfigError`` listing every problem of the config, the dialogue files and the
    metrics file at once.
    """
    if options.workers < 1:
        raise EngineError("--workers must be at least 1")
    spec = RunSpec.make(str(options.config_dir) if options.config_dir else None, options.graph, options.flags)
    runtime = runtime_for(spec)
    suite = load_suite(options.paths)
    issues = list(suite.issues) + check_names(suite, runtime.bundle)
    metrics_path = options.metrics if options.metrics is not None else default_metrics_path()
    definitions, more = load_metric_definitions(metrics_path, runtime.bundle)
    issues += more
    if issues:
        raise ConfigError(issues)
    if not suite.dialogues:
        raise EngineError("no dialogues to evaluate")
    return Prepared(options, spec, runtime, suite, definitions)


def _clear_shards(trace_dir: Path) -> None:
    trace_dir.mkdir(parents=True, exist_ok=True)
    for stale in trace_dir.glob(SHARD_GLOB + "*"):  # shards and their journals of an earlier run
        stale.unlink()


def _count_traced(shards: list[str], run_id: str) -> int | None:
    """Turns of this run found in the shards read as one store (None: no shards here)."""
    if not shards or not all(Path(shard).exists() for shard in shards):
        return None  # no traces, or a remote cluster wrote them on its own nodes
    from engine.trace_store import TraceStore

    store = TraceStore.open_shards(shards)
    try:
        _columns, rows = store.query("SELECT count(*) FROM turns WHERE run_id = ?", [run_id])
    finally:
        store.close()
    return int(rows[0][0])


def evaluate(prepared: Prepared, progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Run every dialogue and return the report (see ``metrics.summarise``)."""
    options = prepared.options
    chunks = partition(prepared.suite.dialogues, options.workers)
    trace_dir = Path(options.trace_dir) if options.trace_dir else None
    if trace_dir is not None:
        _clear_shards(trace_dir)
    from engine.tracing import new_run_id

    run_id = "eval-" + new_run_id()
    jobs = [ChunkJob(k, prepared.spec, chunk, str(trace_dir / f"shard-{k}.duckdb") if trace_dir else None, run_id) for k, chunk in enumerate(chunks)]
    started = time.perf_counter()
    if options.engine == "ray":
        outcomes = run_ray(jobs, workers=options.workers, address=options.ray_address, progress=progress)
    else:
        outcomes = run_local(jobs, start_method=options.start_method, progress=progress)
    wall_s = time.perf_counter() - started
    turn_latency = LatencyHistogram()
    node_latency: dict[str, LatencyHistogram] = {}
    results: list[dict[str, Any]] = []
    for outcome in outcomes:
        results += outcome.results
        turn_latency.merge(outcome.turn_latency)
        for node, histogram in outcome.node_latency.items():
            node_latency.setdefault(node, LatencyHistogram()).merge(histogram)
    graph = prepared.runtime.graph
    order = {node.node_id: index for index, node in enumerate(graph.order)}
    node_latency = dict(sorted(node_latency.items(), key=lambda item: order.get(item[0], len(order))))
    writes: set[str] = set().union(*(node.writes for node in graph.order)) if graph.order else set()
    meta = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "run_id": run_id,
        "engine": options.engine,
        "workers": len(jobs),
        "graph": graph.name,
        "config_hash": graph.config_hash,
        "flags": dict(options.flags),  # the overrides given; flags_in_force is what every worker ran with
        "flags_in_force": dict(prepared.runtime.flags.snapshot()),
        "files": sorted({dialogue.file for dialogue in prepared.suite.dialogues}),
        "trace_dir": str(trace_dir) if trace_dir else None,
        "shards": [job.shard for job in jobs if job.shard],
        "worker_startup_s": round(max(outcome.startup_s for outcome in outcomes), 3),
        "worker_run_s": [round(outcome.run_s, 3) for outcome in outcomes],  # per worker: spot an unbalanced split
    }
    meta["traced_turns"] = _count_traced(meta["shards"], run_id)
    return summarise(results, definitions=prepared.definitions, turn_latency=turn_latency, node_latency=node_latency, wall_s=wall_s,
                     fallback_in_graph="fallback" in writes, meta=meta)
