"""Mergeable latency histogram: percentiles within ~1% without keeping every sample.

Workers (processes, Ray tasks) each fill their own and the driver merges them, so a run of
millions of turns ships a few hundred integers per node instead of every duration.
"""
from __future__ import annotations

import math
from typing import Any

__all__ = ["LatencyHistogram"]

_RATIO = 1.02  # bucket width: a reported percentile is within 2% of the true sample
_LOG_RATIO = math.log(_RATIO)
_FLOOR_US = 0.1


class LatencyHistogram:
    """Log-spaced buckets of durations in microseconds."""

    __slots__ = ("buckets", "count", "total_us", "max_us")

    def __init__(self) -> None:
        self.buckets: dict[int, int] = {}
        self.count = 0
        self.total_us = 0.0
        self.max_us = 0.0

    def add(self, duration_us: float) -> None:
        value = max(duration_us, _FLOOR_US)
        index = int(math.log(value / _FLOOR_US) / _LOG_RATIO)
        self.buckets[index] = self.buckets.get(index, 0) + 1
        self.count += 1
        self.total_us += duration_us
        if duration_us > self.max_us:
            self.max_us = duration_us

    def merge(self, other: LatencyHistogram) -> None:
        for index, count in other.buckets.items():
            self.buckets[index] = self.buckets.get(index, 0) + count
        self.count += other.count
        self.total_us += other.total_us
        self.max_us = max(self.max_us, other.max_us)

    def percentile_us(self, share: float) -> float:
        """The ``share`` (0..1) percentile: the upper edge of the bucket holding it."""
        if not self.count:
            return 0.0
        rank = max(1, math.ceil(share * self.count))
        seen = 0
        for index in sorted(self.buckets):
            seen += self.buckets[index]
            if seen >= rank:
                return min(_FLOOR_US * _RATIO ** (index + 1), self.max_us)
        return self.max_us

    def summary_ms(self, shares: tuple[float, ...] = (0.5, 0.95, 0.99)) -> dict[str, float]:
        out = {f"p{round(share * 100)}": round(self.percentile_us(share) / 1000, 4) for share in shares}
        out["mean"] = round(self.total_us / self.count / 1000, 4) if self.count else 0.0
        out["max"] = round(self.max_us / 1000, 4)
        return out

    def to_json(self) -> dict[str, Any]:
        return {"buckets": {str(k): v for k, v in sorted(self.buckets.items())}, "count": self.count, "total_us": self.total_us, "max_us": self.max_us}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LatencyHistogram:
        histogram = cls()
        histogram.buckets = {int(k): int(v) for k, v in data.get("buckets", {}).items()}
        histogram.count = int(data.get("count", 0))
        histogram.total_us = float(data.get("total_us", 0.0))
        histogram.max_us = float(data.get("max_us", 0.0))
        return histogram
