"""Intent-evaluation metrics: accuracy, per-intent P/R/F1, macro-F1, confusions, stages, latency.

Pure functions over :class:`CaseResult` rows so tests and benchmarks can use them without a
CLI. A case may accept several intents (``expected`` is a set); for the per-intent tables
its gold label is the predicted intent when that was acceptable, else the first listed.
"""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import EngineError

__all__ = ["Case", "CaseResult", "load_cases", "canonical_cases", "percentile", "summarize"]


@dataclass(frozen=True)
class Case:
    """One evaluation row: message, dialogue context, acceptable intents."""

    line: int
    message: str
    context: dict[str, Any]
    expected: tuple[str, ...]


@dataclass
class CaseResult:
    case: Case
    predicted: str
    confidence: float
    stage: str
    classify_ms: float
    turn_ms: float
    alternatives: list[Any] = field(default_factory=list)

    @property
    def correct(self) -> bool:
        return self.predicted in self.case.expected

    @property
    def gold(self) -> str:
        return self.predicted if self.correct else self.case.expected[0]


def load_cases(path: str | Path) -> list[Case]:
    """Read a JSONL file of ``{message, context?, expected_intent}``; errors name the line."""
    cases: list[Case] = []
    problems: list[str] = []
    source = Path(path)
    try:
        lines = source.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise EngineError(f"{path}: cannot read ({exc.strerror})") from exc
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"{path}:{number}: invalid JSON ({exc.msg})")
            continue
        if not isinstance(row, dict) or not isinstance(row.get("message"), str):
            problems.append(f"{path}:{number}: expected an object with a string 'message'")
            continue
        expected = row.get("expected_intent")
        if isinstance(expected, str):
            expected_tuple: tuple[str, ...] = (expected,)
        elif isinstance(expected, list) and expected and all(isinstance(item, str) for item in expected):
            expected_tuple = tuple(expected)
        else:
            problems.append(f"{path}:{number}: 'expected_intent' must be a string or a non-empty list of strings")
            continue
        context = row.get("context") or {}
        if not isinstance(context, dict):
            problems.append(f"{path}:{number}: 'context' must be an object")
            continue
        cases.append(Case(number, row["message"], context, expected_tuple))
    if problems:
        raise EngineError("\n".join(problems[:20]) + (f"\n… and {len(problems) - 20} more" if len(problems) > 20 else ""))
    return cases


def canonical_cases(cases: Sequence[Case], canonical: Callable[[str], str]) -> list[Case]:
    """Cases whose expected labels are mapped through ``canonical`` (intent aliases → intents)."""
    out: list[Case] = []
    for case in cases:
        expected = tuple(dict.fromkeys(canonical(label) for label in case.expected))
        out.append(case if expected == case.expected else Case(case.line, case.message, case.context, expected))
    return out


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(round(q / 100 * len(ordered) + 0.5))))
    return float(ordered[rank - 1])


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def summarize(results: Sequence[CaseResult], top_confusions: int = 15) -> dict[str, Any]:
    """The report ``spinflow eval intents --json`` writes."""
    n = len(results)
    correct = sum(result.correct for result in results)
    gold = Counter(result.gold for result in results)
    predicted = Counter(result.predicted for result in results)
    hits = Counter(result.gold for result in results if result.correct)
    per_intent: dict[str, dict[str, float]] = {}
    for intent in sorted(set(gold) | set(predicted)):
        precision = hits[intent] / predicted[intent] if predicted[intent] else 0.0
        recall = hits[intent] / gold[intent] if gold[intent] else 0.0
        per_intent[intent] = {
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(_f1(precision, recall), 4),
            "support": gold[intent],
            "predicted": predicted[intent],
        }
    macro_f1 = sum(item["f1"] for item in per_intent.values()) / len(per_intent) if per_intent else 0.0
    confusions = Counter((result.gold, result.predicted) for result in results if not result.correct)
    stages: dict[str, list[CaseResult]] = {}
    for result in results:
        stages.setdefault(result.stage, []).append(result)
    per_stage = {
        stage: {
            "count": len(rows),
            "coverage": round(len(rows) / n, 4) if n else 0.0,
            "accuracy": round(sum(row.correct for row in rows) / len(rows), 4),
            "latency_ms_p50": round(percentile([row.classify_ms for row in rows], 50), 4),
            "latency_ms_p95": round(percentile([row.classify_ms for row in rows], 95), 4),
        }
        for stage, rows in sorted(stages.items(), key=lambda item: -len(item[1]))
    }
    latencies = [result.classify_ms for result in results]
    turns = [result.turn_ms for result in results]
    return {
        "n": n,
        "correct": correct,
        "accuracy": round(correct / n, 4) if n else 0.0,
        "macro_f1": round(macro_f1, 4),
        "per_intent": per_intent,
        "confusions": [{"expected": pair[0], "predicted": pair[1], "count": count} for pair, count in confusions.most_common(top_confusions)],
        "per_stage": per_stage,
        "latency_ms": {key: round(percentile(latencies, q), 4) for key, q in (("p50", 50), ("p95", 95), ("p99", 99))},
        "turn_latency_ms": {key: round(percentile(turns, q), 4) for key, q in (("p50", 50), ("p95", 95), ("p99", 99))},
    }
