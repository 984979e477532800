"""Terminal rendering (rich) of an evaluation report and of a comparison of two."""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.table import Table

from engine.evaluation.compare import Comparison

__all__ = ["print_report", "print_comparison"]

_VERDICT_STYLE = {"better": "green", "worse": "bold red", "same": "dim", "changed": "yellow"}


def _short(value: Any, limit: int = 90) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"


def print_report(console: Console, report: Mapping[str, Any], *, failures: int = 10) -> None:
    latency = report["latency_ms"]
    style = "green" if report["passed"] == report["dialogues"] else "yellow"
    console.print(
        f"[bold]{report['dialogues']} dialogues[/], [{style}]{report['passed']} passed ({_pct(report['pass_rate'])})[/], "
        f"{report['turns']} turns in {report['wall_s']:.2f} s = [bold]{report['turns_per_s']:.0f} turns/s[/] "
        f"({report['engine']}, {report['workers']} worker{'s' if report['workers'] != 1 else ''}); "
        f"turn p50 {latency['p50']:.2f} ms, p95 {latency['p95']:.2f} ms, p99 {latency['p99']:.2f} ms")
    expectations = Table("expectation", "checked", "passed", "accuracy", title="per expectation")
    for key, item in report["per_expectation"].items():
        expectations.add_row(key, str(item["checked"]), str(item["passed"]), _pct(item["accuracy"]))
    personas = Table("persona", "dialogues", "passed", "pass rate", title="per persona")
    for key, item in report["per_persona"].items():
        personas.add_row(key, str(item["dialogues"]), str(item["passed"]), _pct(item["pass_rate"]))
    console.print(expectations)
    console.print(personas)
    rates = Table("metric", "value", title="dialogue metrics")
    for phase, share in report["phases_reached"].items():
        rates.add_row(f"reached {phase}", _pct(share))
    definitions = report.get("definitions", {})
    rates.add_row(f"stall rate (same state ≥ {definitions.get('stall_turns', 3)} turns, no progress)", _pct(report["stall_rate"]))
    rates.add_row("loop rate (back to an earlier phase)", _pct(report["loop_rate"]))
    tiers = ", ".join(f"{tier} {count}" for tier, count in report["fallback_tiers"].items())
    rates.add_row("fallback rate (turns)" + (f" — {tiers}" if tiers else ""), _pct(report["fallback_rate"]) if report["fallback_rate"] is not None else "n/a (no fallback node)")
    rates.add_row("soft-close rate", _pct(report["soft_close_rate"]))
    rates.add_row("success rate", _pct(report["success_rate"]))
    console.print(rates)
    nodes = Table("node", "runs", "p50 ms", "p95 ms", title="per-node latency")
    for node, item in report["node_latency_ms"].items():
        nodes.add_row(node, str(item["runs"]), f"{item['p50']:.3f}", f"{item['p95']:.3f}")
    console.print(nodes)
    _print_failures(console, report, failures)
    if report.get("shards"):
        traced = report.get("traced_turns")
        console.print(f"[dim]traces: {traced if traced is not None else '?'} turns in {len(report['shards'])} shard(s) in {report['trace_dir']} — "
                      f"spinflow trace show eval-<dialogue id> --trace-db {report['shards'][0]}[/]")


def _print_failures(console: Console, report: Mapping[str, Any], limit: int) -> None:
    failed = [result for result in report["results"] if not result["passed"]]
    if not failed or limit <= 0:
        return
    console.print(f"[bold]failed dialogues[/] ({len(failed)}; first {min(limit, len(failed))}):")
    for result in failed[:limit]:
        console.print(f"[bold]{result['file']}:{result['line']}[/] {result['id']} ({result['persona']})", soft_wrap=True)
        lines = result.get("turn_lines") or []
        for turn in result["turns"]:
            for check in turn["checks"]:
                if check["passed"]:
                    continue
                where = f"{result['file']}:{lines[turn['turn'] - 1]}" if len(lines) >= turn["turn"] else f"turn {turn['turn']}"
                got = check["got"] if check["key"] not in ("contains", "not_contains") else turn["reply"]
                console.print(f"  {where}: turn {turn['turn']} «{_short(turn['client'], 50)}» {check['key']}: expected {_short(check['expected'], 60)}, got {_short(got)}", soft_wrap=True)
        for check in result["outcome_checks"]:
            if not check["passed"]:
                console.print(f"  {check['key']}: expected {_short(check['expected'], 60)}, got {_short(check['got'])}", soft_wrap=True)


def print_comparison(console: Console, comparison: Comparison, *, show_same: bool = False) -> None:
    table = Table("metric", "A", "B", "Δ", "", title="metrics (A → B)")
    for metric in comparison.metrics:
        verdict = metric.verdict
        if verdict == "same" and not show_same:
            continue
        delta = metric.delta
        table.add_row(metric.name, _num(metric.before), _num(metric.after), "" if delta is None else f"{delta:+.4g}", f"[{_VERDICT_STYLE[verdict]}]{verdict}[/]")
    console.print(table if table.row_count else "[dim]no metric changed[/]")
    for label, ids, style in (("fixed (fail → pass)", comparison.fixed, "green"), ("broken (pass → fail)", comparison.broken, "bold red"),
                              ("added", comparison.added, "cyan"), ("removed", comparison.removed, "cyan")):
        if ids:
            console.print(f"[{style}]{label}: {len(ids)}[/] " + ", ".join(ids), soft_wrap=True)
    for dialogue_id, change in comparison.changed.items():
        console.print(f"[yellow]still failing, differently:[/] {dialogue_id}", soft_wrap=True)
        for line in change["gone"]:
            console.print(f"  [green]- {_short(line, 140)}[/]", soft_wrap=True)
        for line in change["new"]:
            console.print(f"  [red]+ {_short(line, 140)}[/]", soft_wrap=True)
    if not (comparison.fixed or comparison.broken or comparison.changed or comparison.added or comparison.removed):
        console.print("[dim]no dialogue changed its verdict[/]")


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"
