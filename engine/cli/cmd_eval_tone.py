"""``spinflow eval tone FILE.csv``: the tone cascade on CEDR-format data, negative vs none.

CEDR rows are ``text,labels,source`` with ``labels`` a list of class ids (0 joy, 1 sadness,
2 surprise, 3 fear, 4 anger; ``[]`` no emotion). The binary task: a row is *negative* when
anger or sadness is present and *none* when it has no label; rows with other emotions only
are excluded (the output says how many). Every kept row runs as a fresh one-turn
conversation through the tone graph (default ``tone_only``); the prediction is negative
when the decided tone's polarity is negative (``yaml_config/tone/tones.yaml``). Reports
precision / recall / F1 overall and per deciding tier, each tier's share of decisions, the
all-negative baseline, per-source figures and latency.
"""
from __future__ import annotations

import argparse
import csv
import json
import re
import statistics
import tempfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from engine.cli.common import add_config_args, console, err_console, make_runtime
from engine.errors import EngineError

__all__ = ["CedrRow", "read_cedr", "binary_label", "prf", "register_eval"]

NEGATIVE_IDS = frozenset({1, 4})  # sadness, anger
TIER_ORDER = ("regex", "semantic", "llm", "none")


@dataclass(frozen=True)
class CedrRow:
    line: int
    text: str
    labels: tuple[int, ...]
    source: str


def read_cedr(path: str | Path) -> list[CedrRow]:
    """Read a CEDR csv (``text,labels,source``); labels like ``[]``, ``[4]``, ``[1, 4]``, ``[1 4]``."""
    rows: list[CedrRow] = []
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"text", "labels"} - set(reader.fieldnames or [])
        if missing:
            raise EngineError(f"{path}: not a CEDR file: missing column(s) {', '.join(sorted(missing))} (expected text,labels,source)")
        for number, record in enumerate(reader, start=2):
            raw = (record.get("labels") or "").strip()
            if not re.fullmatch(r"\[\s*(?:\d+(?:\s*,?\s*\d+)*)?\s*\]", raw):
                raise EngineError(f"{path}:{number}: labels {raw!r} is not a list of class ids like [] or [1, 4]")
            labels = tuple(int(item) for item in re.findall(r"\d+", raw))
            rows.append(CedrRow(number, record.get("text") or "", labels, (record.get("source") or "").strip()))
    return rows


def binary_label(labels: Iterable[int]) -> str | None:
    """``negative`` (anger or sadness), ``none`` (no emotion) or None (other emotions only)."""
    labels = tuple(labels)
    if not labels:
        return "none"
    if NEGATIVE_IDS & set(labels):
        return "negative"
    return None


def prf(pairs: Iterable[tuple[bool, bool]]) -> dict[str, Any]:
    """Precision, recall, F1 of the positive class from (gold, predicted) pairs."""
    counts = Counter((gold, predicted) for gold, predicted in pairs)
    tp, fp, fn, tn = counts[(True, True)], counts[(False, True)], counts[(True, False)], counts[(False, False)]
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"n": tp + fp + fn + tn, "tp": tp, "fp": fp, "fn": fn, "tn": tn, "precision": precision, "recall": recall, "f1": f1}


def register_eval(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("tone", help="tone cascade on CEDR-format data: negative (anger/sadness) vs none, per tier")
    parser.add_argument("file", metavar="FILE.csv", help="CEDR format: text,labels,source")
    parser.add_argument("--graph", default="tone_only", metavar="G", help="graph to run (default: tone_only)")
    parser.add_argument("--limit", type=int, metavar="N", help="evaluate only the first N rows of the binary task")
    parser.add_argument("--json", metavar="OUT", help="write the summary and the misses as JSON")
    parser.add_argument("--misses", type=int, default=8, metavar="N", help="show up to N misses (default 8)")
    add_config_args(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    rows = read_cedr(args.file)
    kept = [(row, gold) for row in rows if (gold := binary_label(row.labels)) is not None]
    excluded = len(rows) - len(kept)
    if args.limit is not None:
        kept = kept[: max(0, args.limit)]
    with tempfile.TemporaryDirectory(prefix="spinflow-eval-tone-") as sessions:
        runtime = make_runtime(args, graph=args.graph, trace=False, sessions_dir=sessions)
        try:
            results = _evaluate(runtime, kept)
        finally:
            runtime.close()
    summary = summarise(results, total=len(rows), excluded=excluded)
    summary["file"] = str(args.file)
    summary["graph"] = args.graph
    summary["flags"] = {name: value for name, value in runtime.flags.snapshot().items() if name.startswith("tone")}
    _print(summary, results, args.misses)
    if args.json:
        misses = [_miss(item) for item in results if item["gold"] != item["predicted"]]
        Path(args.json).write_text(json.dumps({**summary, "misses": misses}, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


def _evaluate(runtime: Any, kept: list[tuple[CedrRow, str]]) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    columns = (TextColumn("tone"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err_console, transient=True) as progress:
        task = progress.add_task("rows", total=len(kept))
        for index, (row, gold) in enumerate(kept):
            state, _resumed = runtime.open(f"eval-tone-{index}")
            result = runtime.run(state, row.text)
            tone = result.values.get("tone") or {}
            node_ms = {run.node_type: run.duration_us / 1000 for run in result.runs if run.node_type.startswith("tone.") and run.status != "skipped"}
            tiers = tone.get("tiers") or {}
            regex = tiers.get("regex") or {}
            results.append({
                "row": row,
                "gold": gold,
                "label": tone.get("label"),
                "confidence": tone.get("confidence"),
                "tier": tone.get("tier") or "none",
                "predicted": "negative" if tone.get("polarity") == "negative" else "none",
                "regex_label": regex.get("label"),
                "regex_negative": _polarity(runtime, regex.get("label")) == "negative",
                "markers": [item.get("id") for item in tone.get("markers") or [] if item.get("weight")],
                "turn_ms": result.duration_us / 1000,
                "node_ms": node_ms,
                "used": {f"tone.{name}" for name, entry in tiers.items() if isinstance(entry, dict) and entry.get("used", True)},
            })
            progress.advance(task)
    return results


def _polarity(runtime: Any, label: str | None) -> str:
    catalogue = runtime.bundle.section("tone_catalogue")
    return catalogue.polarity(label) if catalogue is not None and label else "neutral"


def summarise(results: list[dict[str, Any]], *, total: int, excluded: int) -> dict[str, Any]:
    """Overall and per-tier figures (shares of decisions, P/R/F1, latency)."""
    count = len(results) or 1
    pairs = [(item["gold"] == "negative", item["predicted"] == "negative") for item in results]
    tiers: dict[str, Any] = {}
    for tier in TIER_ORDER:
        decided = [item for item in results if item["tier"] == tier]
        if not decided:
            continue
        tiers[tier] = {"share": len(decided) / count, **prf((item["gold"] == "negative", item["predicted"] == "negative") for item in decided)}
    sources = sorted({item["row"].source for item in results})
    per_source = {source: prf((item["gold"] == "negative", item["predicted"] == "negative") for item in results if item["row"].source == source) for source in sources}
    turn_ms = [item["turn_ms"] for item in results]
    node_latency: dict[str, dict[str, float]] = {}
    for node_type in sorted({name for item in results for name in item["node_ms"]}):
        values = [item["node_ms"][node_type] for item in results if node_type in item["node_ms"]]
        # "used": runs where the tier did its work (not the cheap "lower tier was sure" path).
        cascade_tier = node_type.split(".", 1)[-1] in TIER_ORDER
        used = [item["node_ms"][node_type] for item in results if node_type in item["node_ms"] and (not cascade_tier or node_type in item["used"])]
        node_latency[node_type] = {"runs": len(values), "p50": _percentile(values, 0.5), "p95": _percentile(values, 0.95),
                                   "used": len(used), "used_p50": _percentile(used, 0.5), "used_p95": _percentile(used, 0.95)}
    gold = Counter(item["gold"] for item in results)
    return {
        "rows_in_file": total,
        "excluded_other_emotions": excluded,
        "evaluated": len(results),
        "gold": dict(gold),
        "overall": prf(pairs),
        "baseline_all_negative": prf((gold_negative, True) for gold_negative, _ in pairs),
        "regex_alone": prf((item["gold"] == "negative", item["regex_negative"]) for item in results),
        "tiers": tiers,
        "per_source": per_source,
        "labels": dict(Counter(item["label"] for item in results).most_common()),
        "latency_ms": {"turn_p50": _percentile(turn_ms, 0.5), "turn_p95": _percentile(turn_ms, 0.95), "turn_mean": statistics.fmean(turn_ms) if turn_ms else 0.0, "nodes": node_latency},
    }


def _percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def _miss(item: dict[str, Any]) -> dict[str, Any]:
    row: CedrRow = item["row"]
    return {"line": row.line, "text": row.text, "labels": list(row.labels), "source": row.source, "gold": item["gold"], "label": item["label"],
            "confidence": item["confidence"], "tier": item["tier"], "markers": item["markers"]}


def _row(name: str, metrics: dict[str, Any], share: float | None = None) -> list[str]:
    return [name, f"{share:.1%}" if share is not None else "", str(metrics["n"]), f"{metrics['precision']:.3f}", f"{metrics['recall']:.3f}", f"{metrics['f1']:.3f}",
            f"{metrics['tp']}/{metrics['fp']}/{metrics['fn']}/{metrics['tn']}"]


def _print(summary: dict[str, Any], results: list[dict[str, Any]], misses: int) -> None:
    overall = summary["overall"]
    console.print(f"[bold]{summary['evaluated']} rows[/] of {summary['rows_in_file']} evaluated (negative = anger or sadness present: {summary['gold'].get('negative', 0)}; "
                  f"none = no emotion: {summary['gold'].get('none', 0)}); {summary['excluded_other_emotions']} rows with other emotions only are excluded from this binary task.")
    console.print(f"negative vs none: precision [bold]{overall['precision']:.3f}[/]  recall [bold]{overall['recall']:.3f}[/]  F1 [bold]{overall['f1']:.3f}[/]   "
                  f"(all-negative baseline F1 {summary['baseline_all_negative']['f1']:.3f})")
    table = Table("deciding tier", "share", "n", "precision", "recall", "F1", "tp/fp/fn/tn", title="per tier (rows the tier decided)")
    for tier, metrics in summary["tiers"].items():
        table.add_row(*_row(tier, metrics, metrics["share"]))
    table.add_row(*_row("overall", overall, 1.0 if results else 0.0))
    table.add_row(*_row("regex alone*", summary["regex_alone"]))
    console.print(table)
    console.print("* regex alone: the regex tier's own label on every row, as if the cascade stopped there.")
    if len(summary["per_source"]) > 1:
        sources = Table("source", "share", "n", "precision", "recall", "F1", "tp/fp/fn/tn", title="per source")
        for source, metrics in summary["per_source"].items():
            sources.add_row(*_row(source or "-", metrics))
        console.print(sources)
    latency = summary["latency_ms"]
    nodes = "  ".join(f"{name} p50 {item['used_p50']:.2f} ms when used ({item['used']} of {item['runs']} runs)" for name, item in latency["nodes"].items())
    console.print(f"latency: turn p50 {latency['turn_p50']:.2f} ms  p95 {latency['turn_p95']:.2f} ms   {nodes}")
    shown = [item for item in results if item["gold"] != item["predicted"]][:misses]
    if shown:
        console.print(f"[bold]misses[/] (first {len(shown)}): line  gold → label (tier, confidence)  text")
        for item in shown:
            console.print(f"  {item['row'].line:>5}  {item['gold']:>8} → {item['label']} ({item['tier']}, {item['confidence']:.2f})  {item['row'].text[:90]}", soft_wrap=True, markup=False)
    if not results:
        err_console.print("[yellow]no rows of the binary task in the file[/]")
