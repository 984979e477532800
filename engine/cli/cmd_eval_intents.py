"""``spinflow eval intents FILE.jsonl``: batch intent evaluation through a graph, offline.

Each case runs as one turn of a fresh conversation (no trace, no session file) with its
``context`` passed as ``dialogue_context``. Prints accuracy, macro-F1, per-intent P/R/F1,
top confusions, a per-stage table (coverage, accuracy, latency) and latency percentiles;
``--json OUT`` writes the same numbers.
"""
from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from engine.cli.common import add_config_args, console, make_runtime
from engine.cli.intent_metrics import Case, CaseResult, canonical_cases, load_cases, summarize
from engine.state import ConversationState

__all__ = ["register_eval", "run", "evaluate", "DEFAULT_GRAPH"]

DEFAULT_GRAPH = "graphs/classify_only.yaml"


def register_eval(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("intents", help="intent accuracy, macro-F1, confusions, per-stage table and latency on a JSONL file")
    parser.add_argument("file", help="JSONL: {message, context?, expected_intent: str | [str, ...]}")
    parser.add_argument("--graph", default=DEFAULT_GRAPH, help=f"graph to run (default: {DEFAULT_GRAPH})")
    parser.add_argument("--json", dest="json_out", metavar="OUT", help="write the metrics as JSON")
    parser.add_argument("--limit", type=int, default=0, help="evaluate only the first N cases")
    parser.add_argument("--errors", type=int, default=0, metavar="N", help="also list the first N misclassified cases")
    add_config_args(parser)
    parser.set_defaults(func=run)


def _classify_ms(result: Any) -> float:
    """Duration of the graph's classification nodes (cascade, patterns, LLM) in ms."""
    total = 0.0
    for node_run in result.runs:
        if node_run.node_type.startswith("classify.") and node_run.status != "skipped":
            total += node_run.duration_us
    return total / 1000


def evaluate(runtime: Any, cases: Sequence[Case], on_case: Callable[[CaseResult], None] | None = None) -> list[CaseResult]:
    """Run every case as a one-turn conversation and collect predictions."""
    flow = runtime.bundle.settings.flow
    results: list[CaseResult] = []
    for index, case in enumerate(cases):
        state = ConversationState(conversation_id=f"eval-{index}", flow=flow)
        started = time.perf_counter()
        turn = runtime.run(state, case.message, dialogue_context=case.context)
        turn_ms = (time.perf_counter() - started) * 1000
        classification = turn.values.get("classification") or {}
        result = CaseResult(
            case=case,
            predicted=str(turn.values.get("intent") or ""),
            confidence=float(turn.values.get("intent_confidence") or 0.0),
            stage=str(classification.get("stage") or ("error" if turn.status != "ok" else "none")),
            classify_ms=_classify_ms(turn),
            turn_ms=turn_ms,
            alternatives=list(classification.get("alternatives") or []),
        )
        results.append(result)
        if on_case is not None:
            on_case(result)
    return results


def run(args: argparse.Namespace) -> int:
    cases = load_cases(args.file)
    if args.limit:
        cases = cases[: args.limit]
    runtime = make_runtime(args, graph=args.graph, trace=False)
    # A label the taxonomy lists as an alias (the original system's name) means that intent.
    taxonomy = runtime.bundle.section("intents")
    canonical = getattr(taxonomy, "canonical", None)
    if callable(canonical):
        cases = canonical_cases(cases, canonical)
    with Progress(TextColumn("[bold]eval intents"), BarColumn(), MofNCompleteColumn(), TextColumn("acc {task.fields[accuracy]:.3f}"), TimeRemainingColumn(), console=console, transient=True) as progress:
        task = progress.add_task("cases", total=len(cases), accuracy=0.0)
        seen = {"n": 0, "ok": 0}

        def tick(result: CaseResult) -> None:
            seen["n"] += 1
            seen["ok"] += int(result.correct)
            progress.update(task, advance=1, accuracy=seen["ok"] / seen["n"])

        results = evaluate(runtime, cases, tick)
    report = summarize(results)
    report["file"] = str(args.file)
    report["graph"] = args.graph
    report["flags"] = {name: value for name, value in sorted(runtime.flags.snapshot().items())}
    print_report(report)
    if args.errors:
        print_errors(results, args.errors)
    if args.json_out:
        Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json_out).write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
        console.print(f"metrics written to {args.json_out}")
    return 0


def print_report(report: dict[str, Any]) -> None:
    console.print(f"[bold]{report['n']} cases[/] — accuracy [bold]{report['accuracy']:.3f}[/] ({report['correct']}/{report['n']}), macro-F1 [bold]{report['macro_f1']:.3f}[/]")
    intents = Table(title="per intent (by support)", show_lines=False)
    for column in ("intent", "support", "predicted", "precision", "recall", "F1"):
        intents.add_column(column, justify="left" if column == "intent" else "right")
    ordered = sorted(report["per_intent"].items(), key=lambda item: (-item[1]["support"], item[0]))
    for intent, row in ordered:
        style = "red" if row["support"] and row["f1"] < 0.6 else None
        intents.add_row(intent, str(row["support"]), str(row["predicted"]), f"{row['precision']:.2f}", f"{row['recall']:.2f}", f"{row['f1']:.2f}", style=style)
    console.print(intents)
    if report["confusions"]:
        confusions = Table(title="top confusions")
        for column in ("expected", "predicted", "count"):
            confusions.add_column(column, justify="right" if column == "count" else "left")
        for row in report["confusions"]:
            confusions.add_row(row["expected"], row["predicted"], str(row["count"]))
        console.print(confusions)
    stages = Table(title="per stage")
    for column in ("stage", "decided", "coverage", "accuracy", "p50 ms", "p95 ms"):
        stages.add_column(column, justify="left" if column == "stage" else "right")
    for stage, row in report["per_stage"].items():
        stages.add_row(stage, str(row["count"]), f"{row['coverage']:.1%}", f"{row['accuracy']:.3f}", f"{row['latency_ms_p50']:.3f}", f"{row['latency_ms_p95']:.3f}")
    console.print(stages)
    latency = report["latency_ms"]
    turn = report["turn_latency_ms"]
    console.print(f"classification latency ms: p50 {latency['p50']:.3f} · p95 {latency['p95']:.3f} · p99 {latency['p99']:.3f}   (whole turn p50 {turn['p50']:.3f} · p95 {turn['p95']:.3f})")


def print_errors(results: Sequence[CaseResult], limit: int) -> None:
    table = Table(title=f"first {limit} errors")
    for column in ("line", "message", "expected", "predicted", "stage", "conf"):
        table.add_column(column)
    for result in [item for item in results if not item.correct][:limit]:
        table.add_row(str(result.case.line), result.case.message[:60], "|".join(result.case.expected), result.predicted, result.stage, f"{result.confidence:.2f}")
    console.print(table)
