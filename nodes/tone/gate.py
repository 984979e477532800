"""When the semantic tone tier may embed the message (``yaml_config/tone/semantic_gate.yaml``).

Section ``tone_semantic_gate``. The regex tier is unsure about most messages of a sales chat
simply because they carry no emotion at all («у нас 3 магазина», «да», «+7 701 123 45 67»);
embedding them costs ~10 ms and almost always ends neutral. The gate lets the semantic tier
run only where it can change the answer: the regex tier found some (weak) marker, or the
message is long enough to say something and contains a word that may carry a sentiment
(``sentiment_stems``: word starts, or phrases whose last word is a start, lowercase, ё→е). Whatever it decides is written to
``tone.tiers.semantic`` (``reason``), so a skipped message is visible in the trace.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from engine.config import ConfigBundle, section

__all__ = ["GATE_FILE", "SemanticGate", "GateSettings", "load_gate"]

GATE_FILE = "yaml_config/tone/semantic_gate.yaml"
_WORD = re.compile(r"[a-zа-яе]+")
# Phones, e-mails, links, sums, numbers with units: data, never a sentiment.
_DATA = re.compile(r"\S+@\S+|https?://\S+|\+?\d[\d\s()\-.,]*\d|\d+")


class GateSettings(BaseModel):
    """The whole ``semantic_gate.yaml`` document."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    version: Literal[1] = 1
    enabled: bool = True
    min_words: int = Field(default=2, ge=0, le=50, description="fewer words than this (no regex marker): a short answer, not embedded")
    sentiment_stems: list[str] = Field(default_factory=list, description="word starts that may carry a sentiment; none in the message and no regex marker: not embedded")
    stem_min_length: int = Field(default=3, ge=1, le=10, description="shortest allowed stem (short stems match too many words)")


@dataclass(frozen=True, slots=True)
class SemanticGate:
    """Decides per message whether the semantic tier runs; ``None`` means it does."""

    settings: GateSettings
    stems: tuple[str, ...]
    phrases: tuple[str, ...] = ()  # " не понима": several words, the last one a start

    def skip_reason(self, text: str, tone: Mapping[str, Any] | None) -> str | None:
        """Why the message is not worth embedding (``short_answer``, ``data_only``, ``no_sentiment_words``), or None."""
        if not self.settings.enabled:
            return None
        if tone and tone.get("markers"):
            return None  # the regex tier saw something: let the semantic tier weigh it
        lowered = text.lower().replace("ё", "е")
        words = _WORD.findall(_DATA.sub(" ", lowered))
        if not words:
            return "data_only"
        if len(words) < self.settings.min_words:
            return "short_answer"
        if (self.stems or self.phrases) and not any(word.startswith(self.stems) for word in words):
            joined = " " + " ".join(words)
            if not any(phrase in joined for phrase in self.phrases):
                return "no_sentiment_words"
        return None


def _issues(doc: Any, stems: Sequence[str], minimum: int) -> list[Any]:
    problems = []
    for index, stem in enumerate(stems):
        words = stem.lower().replace("ё", "е").split(" ")
        if not all(_WORD.fullmatch(word) for word in words) or (len(words) == 1 and len(stem) < minimum):
            problems.append(doc.issue(("sentiment_stems", index), f"stem '{stem}' must be a word start of at least {minimum} letters or a phrase of words",
                                      "Write the start of the word, e.g. «раздраж» for раздражает/раздражение, or a phrase like «не понима»"))
    return problems


@section("tone_semantic_gate")
def load_gate(bundle: ConfigBundle) -> SemanticGate:
    """Load the gate; without the file the semantic tier embeds every unsure message (as before)."""
    loaded = bundle.optional_model(GATE_FILE, GateSettings)
    if loaded is None:
        return SemanticGate(GateSettings(enabled=False), ())
    doc, settings = loaded
    bundle.add(_issues(doc, settings.sentiment_stems, settings.stem_min_length))
    cleaned = {stem.lower().replace("ё", "е") for stem in settings.sentiment_stems}
    stems = tuple(sorted(stem for stem in cleaned if " " not in stem))
    phrases = tuple(sorted(" " + stem for stem in cleaned if " " in stem))
    return SemanticGate(settings, stems, phrases)
