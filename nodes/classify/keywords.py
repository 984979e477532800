"""Shared machinery of the keyword stages (roots, lemmas): tokens, negation, scores → confidence.

A word right after a negation word («не», «нет», «ни», «без»; intensifiers like «очень» in
between are skipped) is seen by the stages as ``не_<word>``, so «нужно» and «не нужно» can
point to different intents. Scores are sums of matched weights per intent; the confidence
of the best intent is ``max_confidence · (1 − exp(−(best − ambiguity·second) / scale))``,
so one weak hit stays below the early-exit thresholds, several agreeing hits pass them,
and a close runner-up pulls the winner down.
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Negation", "Scoring", "tokenize", "mark_negations", "rank"]

_TOKEN = re.compile(r"[a-zа-я0-9]+(?:-[a-zа-я]+)*")
NEGATED = "не_"


class Negation(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    words: list[str] = Field(default_factory=lambda: ["не", "ни", "нет", "без"])
    skip: list[str] = Field(default_factory=list, description="words between the negation and the negated word")


class Scoring(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    scale: float = Field(1.2, gt=0, description="score at which confidence reaches ~63% of max_confidence")
    max_confidence: float = Field(0.95, gt=0, le=1)
    ambiguity: float = Field(0.5, ge=0, le=1, description="share of the runner-up's score subtracted from the winner's")


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text)


def mark_negations(tokens: list[str], negation: Negation) -> list[str]:
    """Replace each negated word by ``не_<word>`` (the negation word itself stays)."""
    words = set(negation.words)
    skip = set(negation.skip)
    out: list[str] = []
    pending = False
    for token in tokens:
        if token in words:
            out.append(token)
            pending = True
            continue
        if pending and token in skip:
            out.append(token)
            continue
        out.append(NEGATED + token if pending else token)
        pending = False
    return out


def rank(scores: Mapping[str, float], scoring: Scoring, top: int = 5) -> list[tuple[str, float]]:
    """Intents by score with confidences; only the winner's is reduced by ambiguity."""
    ordered = sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:top]
    if not ordered:
        return []
    out = []
    second = ordered[1][1] if len(ordered) > 1 else 0.0
    for position, (intent, score) in enumerate(ordered):
        effective = score - scoring.ambiguity * second if position == 0 else score - scoring.ambiguity * ordered[0][1]
        confidence = scoring.max_confidence * (1 - math.exp(-max(effective, 0.0) / scoring.scale))
        out.append((intent, round(confidence, 4)))
    out.sort(key=lambda item: -item[1])
    return out
