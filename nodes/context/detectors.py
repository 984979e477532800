"""Pattern detectors over the context window (pure functions; thresholds come from YAML)."""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["oscillation", "stuck", "repeated_question", "confidence_trend", "engagement", "trailing"]

Entry = Mapping[str, Any]


def trailing(values: Sequence[Any], predicate: Callable[[Any], bool]) -> int:
    """How many values at the end of ``values`` satisfy ``predicate``."""
    count = 0
    for value in reversed(values):
        if not predicate(value):
            break
        count += 1
    return count


def oscillation(kinds: Sequence[str], window: int, min_switches: int) -> bool:
    """Interest ↔ objection alternation: ``kinds`` holds 'I', 'O' or '' per turn."""
    marks = [kind for kind in kinds[-window:] if kind]
    switches = sum(1 for before, after in zip(marks, marks[1:], strict=False) if before != after)
    return switches >= min_switches and "I" in marks and "O" in marks


def stuck(entries: Sequence[Entry], turns: int) -> bool:
    """The same state for ``turns`` turns in a row with no new collected data."""
    if len(entries) < turns:
        return False
    last = entries[-turns:]
    return len({entry.get("state") for entry in last}) == 1 and len({entry.get("data_count") for entry in last}) == 1


def repeated_question(entries: Sequence[Entry], is_question: Callable[[str], bool], window: int) -> bool:
    """This turn's question (same intent or same text) was already asked in the last turns."""
    if not entries:
        return False
    current = entries[-1]
    intent = str(current.get("intent") or "")
    if not is_question(intent):
        return False
    earlier = entries[-1 - window:-1]
    text = str(current.get("text") or "").strip()
    return any(entry.get("intent") == intent or (text and str(entry.get("text") or "").strip() == text) for entry in earlier)


def confidence_trend(confidences: Sequence[float], window: int, delta: float) -> str:
    """'rising', 'falling' or 'stable' comparing the older and newer half of the window."""
    values = list(confidences[-window:])
    if len(values) < 2:
        return "stable"
    half = len(values) // 2
    older, newer = values[:half], values[half:]
    change = sum(newer) / len(newer) - sum(older) / len(older)
    if change > delta:
        return "rising"
    if change < -delta:
        return "falling"
    return "stable"


def engagement(texts: Sequence[str], window: int, high_words: float, low_words: float) -> str:
    """'high', 'medium' or 'low' from the average length of the last messages."""
    recent = [len(str(text).split()) for text in texts[-window:]]
    if not recent:
        return "medium"
    average = sum(recent) / len(recent)
    if average >= high_words:
        return "high"
    if average < low_words:
        return "low"
    return "medium"
