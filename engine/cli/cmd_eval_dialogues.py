"""``spinflow eval dialogues FILE…`` and ``spinflow eval compare A.json B.json``.

Runs scripted dialogues (``evals/dialogues/*.yaml``) through the turn graph on one process,
N local processes or Ray, judges every expectation, writes one trace shard per worker and
prints pass rate, per-expectation accuracy, dialogue metrics and latency. ``compare`` shows
what got better or worse between two ``--json`` reports.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from engine.cli.common import add_config_args, console, parse_flag_args
from engine.errors import EngineError

__all__ = ["register_eval"]


def register_eval(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("dialogues", help="run scripted dialogues and judge their expectations (pass rate, metrics, latency)")
    parser.add_argument("paths", nargs="+", metavar="FILE.yaml", help="dialogue file(s) or folder(s) of them (e.g. evals/dialogues)")
    parser.add_argument("--workers", type=int, default=1, metavar="N", help="parallel workers, one trace shard each (default 1)")
    parser.add_argument("--engine", choices=("local", "ray"), default="local", help="local processes (default) or Ray tasks")
    parser.add_argument("--ray-address", metavar="ADDR", help="with --engine ray: an existing cluster (default: start a local Ray)")
    parser.add_argument("--start-method", choices=("fork", "spawn", "forkserver"), help="local worker processes (default: fork where available)")
    parser.add_argument("--json", dest="json_out", metavar="OUT", help="write the report (with per-dialogue results) as JSON")
    parser.add_argument("--trace-dir", metavar="DIR", help="where shard-<k>.duckdb go (default .spinflow/eval/<time>); earlier shards there are replaced")
    parser.add_argument("--no-trace", action="store_true", help="do not write traces")
    parser.add_argument("--metrics", metavar="FILE", help="metric definitions (default evals/metrics.yaml)")
    parser.add_argument("--graph", metavar="G", help="graph to run (default: settings default_graph)")
    parser.add_argument("--failures", type=int, default=10, metavar="N", help="show up to N failed dialogues (default 10)")
    parser.add_argument("--fail-under", type=float, metavar="RATE", help="exit 1 if the pass rate is below RATE (0..1)")
    add_config_args(parser)
    parser.set_defaults(func=run_dialogues)

    compare = sub.add_parser("compare", help="what got better or worse between two 'eval dialogues --json' reports")
    compare.add_argument("before", metavar="A.json")
    compare.add_argument("after", metavar="B.json")
    compare.add_argument("--all", action="store_true", help="list unchanged metrics too")
    compare.add_argument("--json", dest="json_out", metavar="OUT", help="write the comparison as JSON")
    compare.add_argument("--fail-on-regression", action="store_true", help="exit 1 if a dialogue went from pass to fail or the pass rate dropped")
    compare.set_defaults(func=run_compare)


class _LazyProgress:
    """A progress bar that starts on the first update: worker processes are forked before
    rich's refresh thread exists."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.progress = Progress(TextColumn("evaluating"), BarColumn(), MofNCompleteColumn(), TextColumn("turns"), TimeElapsedColumn(), console=console, transient=True)
        self.task: Any = None

    def advance(self, turns: int) -> None:
        if self.task is None:
            self.progress.start()
            self.task = self.progress.add_task("evaluating", total=self.total)
        self.progress.advance(self.task, turns)

    def stop(self) -> None:
        if self.task is not None:
            self.progress.stop()


def run_dialogues(args: argparse.Namespace) -> int:
    from engine.evaluation import EvaluationOptions, evaluate, prepare
    from engine.evaluation.report import print_report

    if args.fail_under is not None and not 0 <= args.fail_under <= 1:
        raise EngineError("--fail-under takes a rate between 0 and 1")
    trace_dir = None if args.no_trace else (args.trace_dir or str(Path(".spinflow") / "eval" / time.strftime("%Y%m%d-%H%M%S")))
    options = EvaluationOptions(
        paths=args.paths, config_dir=args.config_dir, graph=args.graph, flags=parse_flag_args(args.flag), workers=args.workers,
        engine=args.engine, ray_address=args.ray_address, trace_dir=trace_dir, metrics=args.metrics, start_method=args.start_method,
    )
    prepared = prepare(options)
    bar = _LazyProgress(prepared.suite.turns)
    try:
        report = evaluate(prepared, progress=bar.advance)
    finally:
        bar.stop()
    print_report(console, report, failures=args.failures)
    if args.json_out:
        Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json_out).write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
        console.print(f"[dim]report written to {args.json_out}[/]")
    if args.fail_under is not None and report["pass_rate"] < args.fail_under:
        console.print(f"[bold red]pass rate {report['pass_rate']:.3f} is below {args.fail_under}[/]")
        return 1
    return 0


def _read_report(path: str) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise EngineError(f"{path}: no such report") from exc
    except json.JSONDecodeError as exc:
        raise EngineError(f"{path}:{exc.lineno}: not JSON ({exc.msg})") from exc
    if not isinstance(data, dict) or "results" not in data or "pass_rate" not in data:
        raise EngineError(f"{path}: not an 'eval dialogues --json' report (no pass_rate/results)")
    return data


def run_compare(args: argparse.Namespace) -> int:
    from engine.evaluation.compare import compare_reports
    from engine.evaluation.report import print_comparison

    before, after = _read_report(args.before), _read_report(args.after)
    comparison = compare_reports(before, after)
    console.print(f"A: {args.before} ({before.get('created', '?')}, config {before.get('config_hash', '?')})  "
                  f"B: {args.after} ({after.get('created', '?')}, config {after.get('config_hash', '?')})", soft_wrap=True)
    print_comparison(console, comparison, show_same=args.all)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(comparison.to_json(), ensure_ascii=False, indent=1), encoding="utf-8")
    return 1 if (args.fail_on_regression and comparison.regressed) else 0
