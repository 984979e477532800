"""Compare two evaluation reports (``--json`` outputs): metrics and dialogues, better or worse."""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["MetricDelta", "Comparison", "compare_reports", "failing_checks"]

# +1: higher is better, -1: lower is better, 0: a change is worth showing but not judged.
_HEADLINE = (
    ("pass_rate", 1),
    ("turns_per_s", 1),
    ("stall_rate", -1),
    ("loop_rate", -1),
    ("fallback_rate", -1),
    ("soft_close_rate", 0),
    ("success_rate", 1),
    ("latency_ms.p50", -1),
    ("latency_ms.p95", -1),
    ("latency_ms.p99", -1),
)


@dataclass(frozen=True)
class MetricDelta:
    name: str
    before: float | None
    after: float | None
    direction: int

    @property
    def delta(self) -> float | None:
        if self.before is None or self.after is None:
            return None
        return self.after - self.before

    @property
    def verdict(self) -> str:
        """``better``, ``worse``, ``same`` or ``changed`` (no preferred direction / missing)."""
        delta = self.delta
        if delta is None:
            return "same" if self.before == self.after else "changed"
        if abs(delta) < 1e-9:
            return "same"
        if self.direction == 0:
            return "changed"
        return "better" if delta * self.direction > 0 else "worse"


@dataclass
class Comparison:
    metrics: list[MetricDelta] = field(default_factory=list)
    fixed: list[str] = field(default_factory=list)  # failed before, pass now
    broken: list[str] = field(default_factory=list)  # passed before, fail now
    changed: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # still failing, differently: {id: {gone, new}}
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    @property
    def regressed(self) -> bool:
        return bool(self.broken) or any(m.verdict == "worse" and m.name == "pass_rate" for m in self.metrics)

    def to_json(self) -> dict[str, Any]:
        return {
            "metrics": [{"name": m.name, "before": m.before, "after": m.after, "delta": m.delta, "verdict": m.verdict} for m in self.metrics],
            "fixed": self.fixed, "broken": self.broken, "changed": self.changed, "added": self.added, "removed": self.removed,
            "regressed": self.regressed,
        }


def _get(report: Mapping[str, Any], dotted: str) -> float | None:
    value: Any = report
    for part in dotted.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _metric_names(before: Mapping[str, Any], after: Mapping[str, Any]) -> Iterator[tuple[str, int]]:
    yield from _HEADLINE
    for key in sorted(set(before.get("per_expectation", {})) | set(after.get("per_expectation", {}))):
        yield f"per_expectation.{key}.accuracy", 1
    for key in sorted(set(before.get("per_persona", {})) | set(after.get("per_persona", {}))):
        yield f"per_persona.{key}.pass_rate", 1
    for key in sorted(set(before.get("phases_reached", {})) | set(after.get("phases_reached", {}))):
        yield f"phases_reached.{key}", 0


def failing_checks(result: Mapping[str, Any]) -> list[str]:
    """Stable one-line descriptions of a dialogue's failed checks (turn, key, expected)."""
    out = []
    for turn in result.get("turns", []):
        for check in turn.get("checks", []):
            if not check["passed"]:
                out.append(f"turn {turn['turn']} {check['key']}: expected {check['expected']}, got {check['got']}")
    for check in result.get("outcome_checks", []):
        if not check["passed"]:
            out.append(f"{check['key']}: expected {check['expected']}, got {check['got']}")
    return out


def compare_reports(before: Mapping[str, Any], after: Mapping[str, Any]) -> Comparison:
    comparison = Comparison()
    for name, direction in _metric_names(before, after):
        comparison.metrics.append(MetricDelta(name, _get(before, name), _get(after, name), direction))
    old = {result["id"]: result for result in before.get("results", [])}
    new = {result["id"]: result for result in after.get("results", [])}
    comparison.added = sorted(set(new) - set(old))
    comparison.removed = sorted(set(old) - set(new))
    for dialogue_id in sorted(set(old) & set(new)):
        was, now = old[dialogue_id], new[dialogue_id]
        if not was["passed"] and now["passed"]:
            comparison.fixed.append(dialogue_id)
        elif was["passed"] and not now["passed"]:
            comparison.broken.append(dialogue_id)
        elif not was["passed"] and not now["passed"]:
            gone = [line for line in failing_checks(was) if line not in failing_checks(now)]
            new_lines = [line for line in failing_checks(now) if line not in failing_checks(was)]
            if gone or new_lines:
                comparison.changed[dialogue_id] = {"gone": gone, "new": new_lines}
    return comparison
