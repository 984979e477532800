"""Section ``normalization``: typo fixes, glued-word splits, look-alikes, layout map, emoji tones.

Files: ``yaml_config/nlu/typos.yaml`` (``words``, ``phrases``, ``lookalikes``, ``layout``),
``yaml_config/nlu/splits.yaml`` (``words``, ``patterns``) and ``yaml_config/nlu/emoji.yaml``
(``emoji``, ``emoticons``). Keys are written as the normaliser sees text: lowercase, ё→е.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

from engine.config import ConfigBundle, Regex, section, validate_model
from engine.errors import ConfigIssue

__all__ = ["Lexicon", "SplitRule", "load_lexicon"]


class _Layout(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    latin: str = Field(description="keys of the latin layout, in keyboard order")
    cyrillic: str = Field(description="the Russian letters on the same keys, same order")
    keep_latin: list[str] = Field(default_factory=list, description="latin words never converted (brands, English)")


class _TyposFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    version: int = 1
    words: dict[str, str] = Field(default_factory=dict)
    phrases: dict[str, str] = Field(default_factory=dict)
    lookalikes: dict[str, str] = Field(default_factory=dict)
    layout: _Layout | None = None


class _SplitPattern(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    pattern: Regex
    replace: str



class _SplitsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    version: int = 1
    words: dict[str, str] = Field(default_factory=dict)
    patterns: list[_SplitPattern] = Field(default_factory=list)


class _EmojiFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    version: int = 1
    tones: list[str] = Field(default_factory=list, description="the tone hints allowed below")
    default_tone: str | None = None
    emoji: dict[str, str] = Field(default_factory=dict)
    emoticons: dict[str, str] = Field(default_factory=dict)


@dataclass(frozen=True)
class SplitRule:
    regex: re.Pattern[str]
    replace: str
    source: str


@dataclass
class Lexicon:
    """Everything the normaliser looks up, ready to use."""

    typos: dict[str, str] = field(default_factory=dict)
    phrase_regex: re.Pattern[str] | None = None
    phrases: dict[str, str] = field(default_factory=dict)
    lookalikes: dict[str, str] = field(default_factory=dict)
    layout: dict[str, str] = field(default_factory=dict)
    keep_latin: frozenset[str] = frozenset()
    split_words: dict[str, str] = field(default_factory=dict)
    split_rules: list[SplitRule] = field(default_factory=list)
    emoji_tones: dict[str, str] = field(default_factory=dict)
    emoticons: dict[str, str] = field(default_factory=dict)
    emoticon_regex: re.Pattern[str] | None = None
    default_tone: str | None = None


def _check_lowercase(bundle: ConfigBundle, doc: object, loc: tuple[str, ...], mapping: dict[str, str]) -> None:
    for key in mapping:
        if key != key.lower().replace("ё", "е"):
            bundle.add([doc.issue(loc + (key,), f"key '{key}' is never seen: text is lowercased and ё→е first", f"Write it as '{key.lower().replace('ё', 'е')}'", key=True)])  # type: ignore[attr-defined]


@section("normalization")
def load_lexicon(bundle: ConfigBundle) -> Lexicon:
    lexicon = Lexicon()
    doc = bundle.file("yaml_config/nlu/typos.yaml")
    if doc is not None:
        typos, issues = validate_model(doc, _TyposFile)
        bundle.add(issues)
        if typos is not None:
            _check_lowercase(bundle, doc, ("words",), typos.words)
            _check_lowercase(bundle, doc, ("phrases",), typos.phrases)
            for key in typos.words:
                if not re.fullmatch(r"[\w-]+", key):
                    bundle.add([doc.issue(("words", key), f"'{key}' is not one word", "Move it under phrases", key=True)])
            lexicon.typos = dict(typos.words)
            lexicon.phrases = dict(typos.phrases)
            if typos.phrases:
                ordered = sorted(typos.phrases, key=len, reverse=True)
                lexicon.phrase_regex = re.compile(r"(?<!\w)(?:" + "|".join(re.escape(p) for p in ordered) + r")(?!\w)")
            lexicon.lookalikes = dict(typos.lookalikes)
            if typos.layout is not None:
                if len(typos.layout.latin) != len(typos.layout.cyrillic):
                    bundle.add([doc.issue(("layout",), f"latin has {len(typos.layout.latin)} keys but cyrillic {len(typos.layout.cyrillic)}", "Give one Russian letter per latin key")])
                else:
                    lexicon.layout = dict(zip(typos.layout.latin, typos.layout.cyrillic, strict=True))
                lexicon.keep_latin = frozenset(word.lower() for word in typos.layout.keep_latin)
    doc = bundle.file("yaml_config/nlu/splits.yaml")
    if doc is not None:
        splits, issues = validate_model(doc, _SplitsFile)
        bundle.add(issues)
        if splits is not None:
            _check_lowercase(bundle, doc, ("words",), splits.words)
            lexicon.split_words = dict(splits.words)
            lexicon.split_rules = [SplitRule(re.compile(rule.pattern), rule.replace, rule.pattern) for rule in splits.patterns]
    doc = bundle.file("yaml_config/nlu/emoji.yaml")
    if doc is not None:
        emoji, issues = validate_model(doc, _EmojiFile)
        bundle.add(issues)
        if emoji is not None:
            allowed = set(emoji.tones)
            for key, mapping in (("emoji", emoji.emoji), ("emoticons", emoji.emoticons)):
                for symbol, tone in mapping.items():
                    if allowed and tone not in allowed:
                        from engine.registry import suggest

                        bundle.add([doc.issue((key, symbol), f"unknown tone '{tone}'", suggest(tone, allowed) or f"Use one of: {', '.join(sorted(allowed))}")])
            lexicon.emoji_tones = dict(emoji.emoji)
            lexicon.emoticons = dict(emoji.emoticons)
            lexicon.default_tone = emoji.default_tone
            if emoji.emoticons:
                ordered = sorted(emoji.emoticons, key=len, reverse=True)
                # Punctuation smileys may be glued to a word («спасибо)))»); letter ones may not.
                parts = [(r"(?<!\w)" if e[:1].isalnum() else "") + re.escape(e) for e in ordered]
                lexicon.emoticon_regex = re.compile(r"(?:" + "|".join(parts) + r")(?=\s|$|[.,!?])")
    if not lexicon.typos and not any(issue.file.startswith("yaml_config/nlu/typos") for issue in bundle.issues):
        bundle.add([ConfigIssue("yaml_config/nlu/typos.yaml", 0, "words", "no typo fixes found", "Create the file with a words: mapping")])
    return lexicon
