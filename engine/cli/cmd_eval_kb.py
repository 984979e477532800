"""``spinflow eval kb FILE.jsonl``: knowledge-base retrieval quality and latency.

Each line is a question with either expected section ids (``expected_section``: an id or a
list of acceptable ids) or answer phrases (``must_contain_any``: the answer must contain at
least one, case-insensitive; ``must_not_contain``: it must contain none). Reports hit@1,
hit@3, the share of questions answered at all, per-category and per-stage tables and the
retrieval latency p50/p95. ``--reply`` judges the bot's whole reply through the turn graph
instead of the retriever's top sections (hit@1 only; a section hit must also be the one the
reply was grounded in).
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.table import Table

from engine.cli.common import add_config_args, console, err_console, parse_flag_args
from engine.errors import ConfigError, EngineError

__all__ = ["register_eval", "load_cases", "judge", "percentile"]


def register_eval(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("kb", help="knowledge-base retrieval: hit@1, hit@3, latency")
    parser.add_argument("file", metavar="FILE.jsonl", help="questions with expected_section or must_contain_any / must_not_contain")
    parser.add_argument("--reply", action="store_true", help="judge the full reply of the turn graph, not the retriever's sections")
    parser.add_argument("--graph", metavar="G", help="graph for --reply (default: settings default_graph)")
    parser.add_argument("--json", metavar="OUT", help="write the summary (and misses) as JSON")
    parser.add_argument("--misses", type=int, default=10, metavar="N", help="show up to N misses (default 10)")
    add_config_args(parser)
    parser.set_defaults(func=run)


def load_cases(path: str | Path) -> list[dict[str, Any]]:
    """Read and check the JSONL file; a bad line is an ``EngineError`` naming it."""
    cases = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EngineError(f"{path}:{number}: not JSON ({exc.msg})") from exc
        if not isinstance(row, dict) or not isinstance(row.get("question"), str):
            raise EngineError(f"{path}:{number}: each line needs a 'question' string")
        expected = row.get("expected_section")
        if isinstance(expected, str):
            row["expected_section"] = [expected]
        if not row.get("expected_section") and not row.get("must_contain_any"):
            raise EngineError(f"{path}:{number}: give 'expected_section' or 'must_contain_any'")
        row["_line"] = number
        cases.append(row)
    return cases


def judge(case: dict[str, Any], section_id: str | None, text: str) -> bool:
    """Does this section (or reply text) satisfy the case?"""
    if case.get("expected_section"):
        return section_id in case["expected_section"]
    lowered = text.lower()
    if not any(str(phrase).lower() in lowered for phrase in case.get("must_contain_any") or []):
        return False
    return not any(str(phrase).lower() in lowered for phrase in case.get("must_not_contain") or [])


def percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    position = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[position]


def run(args: argparse.Namespace) -> int:
    cases = load_cases(args.file)
    if args.reply:
        rows = _through_graph(args, cases)
    else:
        rows = _through_retriever(args, cases)
    summary = _summarise(rows)
    _print(summary, rows, args.misses)
    if args.json:
        Path(args.json).write_text(json.dumps({**summary, "misses": [_miss(row) for row in rows if not row["hit1"]]}, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


def _through_retriever(args: argparse.Namespace, cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from engine.config import ConfigBundle
    from engine.registry import load_builtin_nodes
    from nodes.normalize.text import normalize

    load_builtin_nodes()
    bundle = ConfigBundle(args.config_dir)
    flags = bundle.flags()
    for name, value in parse_flag_args(args.flag).items():
        flags.set_override(name, value)
    semantic = bool(flags.snapshot().get("kb_semantic", False))
    # Only the knowledge files matter here: an unrelated half-edited intent file elsewhere
    # must not block measuring retrieval.
    bundle.section("knowledge")
    bundle.section("knowledge_retrieval")
    own = [issue for issue in bundle.issues if issue.file.startswith(("yaml_config/knowledge", "yaml_config/settings"))]
    if own:
        raise ConfigError(own)
    retriever = bundle.resources.get("knowledge_retriever")
    kb = retriever.kb
    retriever.warm(semantic)  # load the lazy parts (model, corpus embeddings) outside the timings
    rows = []
    for case in cases:
        text, _changes = normalize(case["question"])
        started = time.perf_counter()
        result = retriever.search(text, semantic=semantic)
        latency_ms = (time.perf_counter() - started) * 1e3
        top = [candidate.section_id for candidate in result.candidates] if result.section_id else []

        def answer_of(section_id: str) -> str:
            section = kb.get(section_id)
            return section.answer if section else ""

        hits = [judge(case, section_id, answer_of(section_id)) for section_id in top[:3]]
        rows.append({
            "case": case, "section_id": result.section_id, "stage": result.stage, "score": result.score,
            "top": top[:3], "hit1": bool(hits[:1] and hits[0]), "hit3": any(hits), "latency_ms": latency_ms,
        })
    return rows


def _through_graph(args: argparse.Namespace, cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from engine.cli.common import make_runtime

    scratch = tempfile.TemporaryDirectory(prefix="spinflow-eval-kb-")  # one fresh conversation per question, nothing kept
    runtime = make_runtime(args, graph=args.graph, trace=False, sessions_dir=Path(scratch.name))
    rows = []
    try:
        for index, case in enumerate(cases):
            state, _ = runtime.open(f"eval-kb-{index}")
            started = time.perf_counter()
            result = runtime.run(state, case["question"])
            latency_ms = (time.perf_counter() - started) * 1e3
            knowledge = result.get("knowledge") or {}
            section_id = knowledge.get("section_id")
            plan = result.get("reply_plan") or {}
            grounded = plan.get("kb_section") == section_id and section_id is not None
            # A section hit counts only when the reply actually used it (answer or composite).
            hit = judge(case, section_id, result.response) if not case.get("expected_section") else grounded and section_id in case["expected_section"]
            rows.append({"case": case, "section_id": section_id, "stage": knowledge.get("stage", "none"), "score": knowledge.get("score", 0.0),
                         "top": [item["id"] for item in knowledge.get("candidates", [])], "hit1": hit, "hit3": hit, "latency_ms": latency_ms,
                         "reply": result.response})
    finally:
        runtime.close()
        scratch.cleanup()
    return rows


def _summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    count = len(rows) or 1
    latencies = [row["latency_ms"] for row in rows]
    per_category: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        per_category[row["case"].get("category", "-")].append(row)
    stages = Counter(row["stage"] for row in rows)
    return {
        "n": len(rows),
        "hit_at_1": sum(row["hit1"] for row in rows) / count,
        "hit_at_3": sum(row["hit3"] for row in rows) / count,
        "answered": sum(1 for row in rows if row["section_id"]) / count,
        "latency_ms": {"p50": percentile(latencies, 0.5), "p95": percentile(latencies, 0.95), "mean": statistics.fmean(latencies) if latencies else 0.0},
        "per_stage": {stage: {"n": n, "hit_at_1": sum(row["hit1"] for row in rows if row["stage"] == stage) / n} for stage, n in stages.most_common()},
        "per_category": {name: {"n": len(items), "hit_at_1": sum(r["hit1"] for r in items) / len(items), "hit_at_3": sum(r["hit3"] for r in items) / len(items)} for name, items in sorted(per_category.items())},
    }


def _miss(row: dict[str, Any]) -> dict[str, Any]:
    case = row["case"]
    return {"line": case["_line"], "question": case["question"], "got": row["section_id"], "top": row["top"], "stage": row["stage"], "score": round(row["score"], 3)}


def _print(summary: dict[str, Any], rows: list[dict[str, Any]], misses: int) -> None:
    latency = summary["latency_ms"]
    console.print(f"[bold]{summary['n']} questions[/]  hit@1 [bold]{summary['hit_at_1']:.3f}[/]  hit@3 [bold]{summary['hit_at_3']:.3f}[/]  answered {summary['answered']:.3f}  latency p50 {latency['p50']:.2f} ms  p95 {latency['p95']:.2f} ms")
    if len(summary["per_category"]) > 1:
        table = Table("category", "n", "hit@1", "hit@3", title="per category")
        for name, item in summary["per_category"].items():
            table.add_row(name, str(item["n"]), f"{item['hit_at_1']:.2f}", f"{item['hit_at_3']:.2f}")
        console.print(table)
    stages = Table("stage", "n", "hit@1", title="per deciding stage")
    for name, item in summary["per_stage"].items():
        stages.add_row(name, str(item["n"]), f"{item['hit_at_1']:.2f}")
    console.print(stages)
    shown = [row for row in rows if not row["hit1"]][:misses]
    if shown:
        console.print(f"[bold]misses[/] (first {len(shown)}): line, question → got \\[top 3] stage score")
        for row in shown:
            miss = _miss(row)
            line = f"  {miss['line']:>4}  {miss['question']}  → {miss['got']}  [{', '.join(miss['top'])}]  {miss['stage']} {miss['score']:.2f}"
            console.print(escape(line), soft_wrap=True)
    if not rows:
        err_console.print("[yellow]no questions in the file[/]")
