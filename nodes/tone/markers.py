"""Regex tone markers (``yaml_config/tone/markers.yaml``) and the analyzer that scores them.

Section ``tone_markers``. A marker is a set of regular expressions with a tone and a weight,
matched against the normalised ``text`` (lowercase, ё→е, repeats collapsed) or the raw
``message`` (case and «!!!» kept). Emoji hints recorded by the normaliser, capital letters
(«ВЫ ИЗДЕВАЕТЕСЬ») and amplifiers («!!!», «очень») add to the evidence. Per tone the
weights combine as a noisy-or (two independent weak hints make a stronger one); the
confidence is the best score minus a penalty for the runner-up, so mixed signals
(«спасибо, но это ужасно») stay unsure and go to the next tier.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from engine.config import ConfigBundle, section, validate_model
from engine.registry import suggest
from engine.yaml_loader import LoadedYaml
from nodes.classify.pattern_index import PatternIndex
from nodes.tone.catalogue import ToneCatalogue, unknown_tone_issue

__all__ = ["MARKERS_FILE", "MarkerAnalyzer", "RegexVerdict", "load_markers"]

MARKERS_FILE = "yaml_config/tone/markers.yaml"
EMOJI_FILE = "yaml_config/nlu/emoji.yaml"
_LETTER = re.compile(r"[A-Za-zА-Яа-яЁё]")
_UPPER_WORD = re.compile(r"\b[A-ZА-ЯЁ]{2,}\b")


class _Scoring(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    no_marker_confidence: float = Field(default=0.3, ge=0, le=1, description="confidence of the default tone when nothing matched")
    conflict_penalty: float = Field(default=0.5, ge=0, le=1, description="confidence = best − penalty × runner-up")
    negation: str = Field(default=r"(?:^|[^\w])(?:не|ни|нет)\s+(?:\w+\s+)?$", description="matched against the text just before a marker")
    negation_window: int = Field(default=24, ge=1, le=200)


class _Marker(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    weight: float = Field(gt=0, le=1)
    patterns: list[str] = Field(min_length=1)
    source: Literal["text", "message"] = "text"
    when_negated: str = Field(default="drop", description="drop | keep | a tone the marker turns into after «не»")
    note: str = ""


class _Caps(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    tone: str
    weight: float = Field(gt=0, le=1)
    min_letters: int = Field(default=8, ge=1)
    min_ratio: float = Field(default=0.7, gt=0, le=1)
    min_words: int = Field(default=2, ge=1, description="words of two or more capital letters")


class _Amplifier(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    pattern: str
    source: Literal["text", "message"] = "text"
    boost: float = Field(gt=0, le=1)


class _EmojiHint(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    tone: str
    weight: float = Field(gt=0, le=1)


class MarkersFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    version: Literal[1] = 1
    scoring: _Scoring = _Scoring()
    markers: dict[str, list[_Marker]] = Field(default_factory=dict, description="tone → markers")
    caps: _Caps | None = None
    amplifiers: list[_Amplifier] = Field(default_factory=list)
    emoji: dict[str, _EmojiHint] = Field(default_factory=dict, description="normaliser emoji tone hint → tone evidence")


@dataclass(frozen=True)
class _CompiledMarker:
    id: str
    tone: str
    weight: float
    regex: re.Pattern[str]
    source: str
    when_negated: str


@dataclass(frozen=True)
class RegexVerdict:
    """What the regex tier saw: label, confidence, per-tone scores and the evidence."""

    label: str
    confidence: float
    scores: dict[str, float]
    markers: list[dict[str, Any]] = field(default_factory=list)


class MarkerAnalyzer:
    """Scores a message against compiled markers; pure and thread-safe."""

    def __init__(self, spec: MarkersFile, markers: Sequence[_CompiledMarker], amplifiers: Sequence[tuple[_Amplifier, re.Pattern[str]]], negation: re.Pattern[str], default_tone: str) -> None:
        self.spec = spec
        self.markers = list(markers)
        self.amplifiers = list(amplifiers)
        self.negation = negation
        self.default_tone = default_tone
        # Markers indexed by a literal every match must contain: only markers whose literal
        # occurs in the text are run (same results, see pattern_index). A marker compiled with
        # flags of its own is given no literal, so it always runs.
        self._index = PatternIndex([marker.regex.pattern if not marker.regex.flags & re.IGNORECASE else "(?i)" + marker.regex.pattern
                                    for marker in self.markers])
        self._sources = frozenset(marker.source for marker in self.markers)

    def analyze(self, text: str, message: str, emoji: Sequence[Mapping[str, Any]] = ()) -> RegexVerdict:
        evidence: dict[str, list[float]] = {}
        found: list[dict[str, Any]] = []
        sources = {"text": text, "message": message}
        candidates = {source: frozenset(self._index.candidates(haystack)) if haystack and source in self._sources else frozenset()
                      for source, haystack in sources.items()}
        for position, marker in enumerate(self.markers):
            if position not in candidates[marker.source]:
                continue
            haystack = sources[marker.source]
            match = marker.regex.search(haystack)
            if match is None:
                continue
            tone = marker.tone
            negated = self._negated(haystack, match.start())
            if negated and marker.when_negated == "drop":
                found.append({"id": marker.id, "tone": tone, "match": match.group(0), "weight": 0.0, "negated": True})
                continue
            if negated and marker.when_negated != "keep":
                tone = marker.when_negated
            evidence.setdefault(tone, []).append(marker.weight)
            found.append({"id": marker.id, "tone": tone, "match": match.group(0), "weight": marker.weight, "negated": negated})
        for item in emoji or ():
            hint = self.spec.emoji.get(str(item.get("tone") or ""))
            if hint is not None:
                evidence.setdefault(hint.tone, []).append(hint.weight)
                found.append({"id": f"emoji_{item.get('tone')}", "tone": hint.tone, "match": str(item.get("emoji", "")), "weight": hint.weight, "negated": False})
        caps = self.spec.caps
        if caps is not None and self._shouting(message, caps):
            evidence.setdefault(caps.tone, []).append(caps.weight)
            found.append({"id": "caps", "tone": caps.tone, "match": message[:40], "weight": caps.weight, "negated": False})
        scores = {tone: _noisy_or(weights) for tone, weights in evidence.items()}
        if not scores:
            return RegexVerdict(self.default_tone, self.spec.scoring.no_marker_confidence, {}, found)
        ranked = sorted(scores.items(), key=lambda item: -item[1])
        top_tone, top = ranked[0]
        if top_tone != self.default_tone:
            for amplifier, regex in self.amplifiers:
                haystack = sources[amplifier.source]
                match = regex.search(haystack) if haystack else None
                if match is not None:
                    top = _noisy_or([top, amplifier.boost])
                    found.append({"id": amplifier.id, "tone": top_tone, "match": match.group(0), "weight": amplifier.boost, "negated": False, "amplifier": True})
            scores[top_tone] = top
        runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
        confidence = max(0.0, top - self.spec.scoring.conflict_penalty * runner_up)
        return RegexVerdict(top_tone, confidence, scores, found)

    def _negated(self, haystack: str, start: int) -> bool:
        window = haystack[max(0, start - self.spec.scoring.negation_window):start]
        return bool(window) and self.negation.search(window) is not None

    @staticmethod
    def _shouting(message: str, caps: _Caps) -> bool:
        if caps.min_words > 0 and _UPPER_WORD.search(message) is None:
            return False  # the usual message: no capitalised word at all (cheapest test first)
        letters = _LETTER.findall(message)
        if len(letters) < caps.min_letters:
            return False
        upper = sum(1 for letter in letters if letter.isupper())
        return upper / len(letters) >= caps.min_ratio and len(_UPPER_WORD.findall(message)) >= caps.min_words


def _noisy_or(weights: Sequence[float]) -> float:
    remaining = 1.0
    for weight in weights:
        remaining *= 1.0 - weight
    return 1.0 - remaining


def _compile(doc: LoadedYaml, loc: tuple[str | int, ...], pattern: str, problems: list[Any]) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error as exc:
        problems.append(doc.issue(loc, f"bad regular expression: {exc}", "Fix the pattern (YAML single quotes keep backslashes as written)"))
        return None


@section("tone_markers")
def load_markers(bundle: ConfigBundle) -> MarkerAnalyzer | None:
    """Load and check ``markers.yaml``; absent → None."""
    doc = bundle.file(MARKERS_FILE)
    catalogue: ToneCatalogue | None = bundle.section("tone_catalogue")
    if doc is None or catalogue is None:
        return None
    raw: dict[str, Any] = doc.data if isinstance(doc.data, dict) else {}
    markers_value = raw.get("markers")
    raw_markers: dict[Any, Any] = markers_value if isinstance(markers_value, dict) else {}
    # The file without its markers first, then marker by marker: one bad marker hides no
    # other problem of the file.
    spec, issues = validate_model(doc, MarkersFile, {**raw, "markers": {}})
    problems: list[Any] = list(issues)
    if not isinstance(raw.get("markers", {}), dict):
        problems.append(doc.issue(("markers",), "must map a tone to a list of markers", "Write markers: {tone: [{id, weight, patterns}]}"))
    allowed_negated = {"drop", "keep", *catalogue.names}
    compiled: list[_CompiledMarker] = []
    seen: dict[str, str] = {}
    for tone, entries in raw_markers.items():
        tone = str(tone)
        if tone not in catalogue.tones:
            problems.append(unknown_tone_issue(doc, ("markers", tone), tone, catalogue, key=True))
        if not isinstance(entries, list):
            problems.append(doc.issue(("markers", tone), "must be a list of markers", "Write - {id: ..., weight: ..., patterns: [...]}"))
            continue
        for index, entry in enumerate(entries):
            where: tuple[str | int, ...] = ("markers", tone, index)
            marker, marker_issues = validate_model(doc, _Marker, entry, where)
            problems.extend(marker_issues)
            if marker is None:
                continue
            if marker.id in seen:
                problems.append(doc.issue(where + ("id",), f"marker id '{marker.id}' repeats the one under markers.{seen[marker.id]}", "Give every marker its own id"))
            seen.setdefault(marker.id, tone)
            if marker.when_negated not in allowed_negated:
                problems.append(unknown_tone_issue(doc, where + ("when_negated",), marker.when_negated, catalogue))
            parts = [_compile(doc, where + ("patterns", position), pattern, problems) for position, pattern in enumerate(marker.patterns)]
            if all(part is not None for part in parts) and tone in catalogue.tones:
                alternation = "|".join(f"(?:{part.pattern})" for part in parts if part is not None)
                compiled.append(_CompiledMarker(marker.id, tone, marker.weight, re.compile(alternation), marker.source, marker.when_negated))
    if spec is None:
        bundle.add(problems)
        return None
    amplifiers = []
    for index, amplifier in enumerate(spec.amplifiers):
        regex = _compile(doc, ("amplifiers", index, "pattern"), amplifier.pattern, problems)
        if regex is not None:
            amplifiers.append((amplifier, regex))
    if spec.caps is not None and spec.caps.tone not in catalogue.tones:
        problems.append(unknown_tone_issue(doc, ("caps", "tone"), spec.caps.tone, catalogue))
    emoji_doc = bundle.file(EMOJI_FILE)
    hint_names = emoji_doc.data.get("tones") if emoji_doc is not None and isinstance(emoji_doc.data, dict) else None
    for hint_name, hint in spec.emoji.items():
        if hint.tone not in catalogue.tones:
            problems.append(unknown_tone_issue(doc, ("emoji", hint_name, "tone"), hint.tone, catalogue))
        if isinstance(hint_names, list) and hint_name not in hint_names:
            problems.append(doc.issue(("emoji", hint_name), f"the normaliser never gives the emoji hint '{hint_name}'", suggest(hint_name, hint_names) or f"Use a tone listed in {EMOJI_FILE}", key=True))
    negation = _compile(doc, ("scoring", "negation"), spec.scoring.negation, problems)
    bundle.add(problems)
    return MarkerAnalyzer(spec, compiled, amplifiers, negation or re.compile(r"(?!)"), catalogue.default_tone)
