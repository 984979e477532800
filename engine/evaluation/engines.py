"""Where chunks of dialogues run: in this process, in N local processes, or as Ray tasks.

Every engine gets the same chunks (a deterministic split balanced by turn count) and every
chunk writes its own trace shard ``<trace-dir>/shard-<k>.duckdb``, so results are the same
whatever the engine and the number of workers; only timings differ.
"""
from __future__ import annotations

import logging
import multiprocessing
import os
import queue as queue_module
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any

from engine.errors import EngineError
from engine.evaluation.runner import ChunkJob, ChunkOutcome, run_chunk
from engine.evaluation.spec import Dialogue

__all__ = ["partition", "run_local", "run_ray", "default_start_method"]

Progress = Callable[[int], None]


def partition(dialogues: Sequence[Dialogue], parts: int) -> list[list[Dialogue]]:
    """Split into at most ``parts`` chunks of similar turn counts (longest first, ties by id)."""
    parts = max(1, min(parts, len(dialogues)))
    bins: list[list[Dialogue]] = [[] for _ in range(parts)]
    loads = [0] * parts
    for dialogue in sorted(dialogues, key=lambda d: (-len(d.spec.turns), d.id)):
        target = min(range(parts), key=lambda k: (loads[k], k))
        bins[target].append(dialogue)
        loads[target] += len(dialogue.spec.turns)
    return [chunk for chunk in bins if chunk]


def default_start_method() -> str:
    """``fork`` where it exists: a worker then starts from the config the driver already
    compiled (heavy models still load lazily, in each worker); ``spawn`` elsewhere."""
    return "fork" if "fork" in multiprocessing.get_all_start_methods() and sys.platform != "darwin" else "spawn"


def run_local(jobs: Sequence[ChunkJob], *, start_method: str | None = None, progress: Progress | None = None) -> list[ChunkOutcome]:
    """One job: in this process. Several: one process per job, results over a queue."""
    if len(jobs) == 1:
        return [run_chunk(jobs[0], progress)]
    context: Any = multiprocessing.get_context(start_method or default_start_method())
    channel: Any = context.Queue()
    threads = max(1, (os.cpu_count() or 1) // len(jobs))  # per worker, so N workers do not oversubscribe the cores
    processes = {job.index: context.Process(target=_process_main, args=(job, channel, threads), name=f"spinflow-eval-{job.index}", daemon=True)
                 for job in jobs}
    for process in processes.values():
        process.start()
    outcomes: dict[int, ChunkOutcome] = {}
    try:
        while len(outcomes) < len(jobs):
            try:
                kind, index, payload = channel.get(timeout=0.2)
            except queue_module.Empty:
                dead = [index for index, process in processes.items() if index not in outcomes and not process.is_alive()]
                if dead and channel.empty():
                    codes = ", ".join(f"worker {index} exit code {processes[index].exitcode}" for index in dead)
                    raise EngineError(f"evaluation worker died without a result ({codes})") from None
                continue
            if kind == "progress" and progress is not None:
                progress(payload)
            elif kind == "done":
                outcomes[index] = payload
            elif kind == "error":
                raise EngineError(f"evaluation worker {index} failed:\n{payload}")
    finally:
        for process in processes.values():
            if process.is_alive() and len(outcomes) < len(jobs):
                process.terminate()
            process.join(timeout=10)
    return [outcomes[job.index] for job in jobs]


def _process_main(job: ChunkJob, channel: Any, threads: int) -> None:
    # Read by torch/OpenMP/tokenizers when a worker first loads a model (never in the driver),
    # as Ray does for its one-CPU tasks.
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, str(threads))
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        outcome = run_chunk(job, lambda turns: channel.put(("progress", job.index, turns)))
        channel.put(("done", job.index, outcome))
    except BaseException:  # noqa: BLE001 - reported to the driver, which fails the run
        channel.put(("error", job.index, traceback.format_exc()))


def _ray_task(job: ChunkJob) -> ChunkOutcome:
    return run_chunk(job)


def run_ray(jobs: Sequence[ChunkJob], *, workers: int, address: str | None = None, progress: Progress | None = None) -> list[ChunkOutcome]:
    """Each job is a Ray task (one CPU) writing its own shard.

    Without ``address`` a local Ray instance with ``workers`` CPUs is started (and stopped);
    with one, the tasks go to that cluster — then ``--trace-dir`` must be storage every node
    can write (a shared filesystem), since each task opens its shard where it runs.
    """
    try:
        import ray
    except ImportError as exc:
        raise EngineError("--engine ray needs Ray: pip install 'ray==2.60.0'") from exc
    started_here = not ray.is_initialized()
    if started_here:
        if address:
            ray.init(address=address, logging_level=logging.WARNING)
        else:
            ray.init(num_cpus=workers, include_dashboard=False, logging_level=logging.WARNING)
    try:
        task = ray.remote(num_cpus=1, max_retries=0)(_ray_task)
        turns = {job.index: sum(len(d.spec.turns) for d in job.dialogues) for job in jobs}
        pending = {task.remote(job): job.index for job in jobs}
        outcomes: dict[int, ChunkOutcome] = {}
        waiting = list(pending)
        while waiting:
            done, waiting = ray.wait(waiting, num_returns=1)
            for ref in done:
                try:
                    outcome = ray.get(ref)
                except Exception as exc:  # noqa: BLE001 - a task's failure fails the run, naming it
                    raise EngineError(f"Ray evaluation task {pending[ref]} failed: {exc}") from exc
                outcomes[outcome.index] = outcome
                if progress is not None:
                    progress(turns[outcome.index])
    finally:
        if started_here:
            ray.shutdown()
    return [outcomes[job.index] for job in jobs]
