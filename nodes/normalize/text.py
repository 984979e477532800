"""``normalize.text``: Russian chat message clean-up before any understanding happens.

Steps (each recorded in ``normalization`` when it changed something): Unicode NFC,
lowercase, ё→е, protected spans (e-mails, URLs, phone numbers and other digit runs are never
touched), emoji and emoticons removed but recorded with a tone hint (``emoji``), latin
look-alike letters inside Russian words, keyboard-layout slips («ghbdtn» → «привет»),
letters repeated for emphasis («дааааа» → «да»), glued words («сколькостоит»), typo and
abbreviation fixes («скок» → «сколько»), punctuation and spacing, length cap.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from pydantic import Field

from engine.node import NodeConfig, NodeContext
from engine.registry import register
from nodes.normalize.lexicon import Lexicon

__all__ = ["NormalizeText", "NormalizeTextConfig", "Normalizer", "normalize"]

_SPACES = re.compile(r"\s+")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([,.!?;:])")
_REPEATED_PUNCT = re.compile(r"([!?.,])\1+")
_MIXED_PUNCT = re.compile(r"[!?]*\?[!?]*")
# E-mails, URLs and digit runs (phones, amounts, dates) are kept byte for byte.
_PROTECTED = re.compile(
    r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"
    r"|(?:https?://|www\.)\S+"
    r"|\+?\d[\d\s()\-.,]*\d"
)
_EMOJI = re.compile(
    "(?:[\U0001F000-\U0001FAFF\u2600-\u27BF\u2B00-\u2BFF\u2300-\u23FF\u2190-\u21FF\u3030\u303D\u3297\u3299]"
    "[\uFE0E\uFE0F\U0001F3FB-\U0001F3FF]*"
    "(?:\u200D[\U0001F000-\U0001FAFF\u2600-\u27BF][\uFE0E\uFE0F\U0001F3FB-\U0001F3FF]*)*)"
    "|[\uFE0F\u200D]"
)
_WORD = re.compile(r"[a-zа-я0-9]+(?:-[a-zа-я0-9]+)*")
_CYRILLIC = re.compile(r"[а-я]")
_LATIN = re.compile(r"[a-z]")
_LAYOUT_TOKEN = re.compile(r"(?<![\w@])[a-z;'\[\]`,.]*[a-z][a-z;'\[\]`,.]*(?![\w@])")
_REPEAT = re.compile(r"([a-zа-я])\1{2,}")
_PLACEHOLDER = "\x00{}\x00"
_PLACEHOLDER_RE = re.compile(r"\x00(\d+)\x00")


class NormalizeTextConfig(NodeConfig):
    max_chars: int = Field(1000, ge=16, description="longer messages are cut (at a word boundary)")
    lowercase: bool = True
    fix_layout: bool = Field(True, description="convert words typed in the latin layout when the Russian word is known")


class Normalizer:
    """Pure text → (text, report, emoji) transformation over a :class:`Lexicon`.

    ``morph`` (the ``morph`` resource) is used only to decide keyboard-layout slips and
    repeated letters, and only when such a word appears.
    """

    def __init__(self, lexicon: Lexicon, morph: Any = None, *, max_chars: int = 1000, lowercase: bool = True, fix_layout: bool = True) -> None:
        self.lexicon = lexicon
        self._morph = morph
        self.max_chars = max_chars
        self.lowercase = lowercase
        self.fix_layout = fix_layout and bool(lexicon.layout)
        self._lookalike_table = str.maketrans(lexicon.lookalikes) if lexicon.lookalikes else None
        self._layout_table = str.maketrans(lexicon.layout) if lexicon.layout else None

    def __call__(self, raw: str) -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
        report: dict[str, Any] = {"changes": []}
        changes: list[str] = report["changes"]
        text = unicodedata.normalize("NFC", raw)
        protected: list[str] = []

        def protect(match: re.Match[str]) -> str:
            protected.append(match.group(0))
            return _PLACEHOLDER.format(len(protected) - 1)

        # Protected first: an e-mail or a phone number keeps its exact spelling.
        text = _PROTECTED.sub(protect, text)
        if self.lowercase and text != text.lower():
            text = text.lower()
            changes.append("lowercase")
        if "ё" in text or "Ё" in text:
            text = text.replace("ё", "е").replace("Ё", "Е")
            changes.append("yo")
        emoji: list[dict[str, Any]] = []
        text = self._strip_emoji(text, emoji)
        text = self._strip_emoticons(text, emoji)
        if emoji:
            changes.append("emoji")
        text = self._lookalikes(text, report)
        if self.fix_layout:
            text = self._layout(text, report)
        text = self._repeats(text, report)
        text = self._splits(text, report)
        text = self._typos(text, report)
        text = self._punctuation(text, changes)
        if protected:
            text = _PLACEHOLDER_RE.sub(lambda m: protected[int(m.group(1))], text)
            report["protected"] = protected
        if len(text) > self.max_chars:
            cut = text.rfind(" ", 0, self.max_chars)
            text = text[: cut if cut > self.max_chars // 2 else self.max_chars]
            changes.append("truncated")
        report["empty"] = not text
        return text, report, emoji

    # -- steps -----------------------------------------------------------------------------
    def _strip_emoji(self, text: str, found: list[dict[str, Any]]) -> str:
        if text.isascii() or not _EMOJI.search(text):
            return text
        tones = self.lexicon.emoji_tones

        def take(match: re.Match[str]) -> str:
            symbol = match.group(0)
            if symbol in ("\ufe0f", "\u200d"):
                return ""
            base = symbol.rstrip("\ufe0e\ufe0f")
            found.append({"emoji": symbol, "tone": tones.get(symbol, tones.get(base, tones.get(base[:1], self.lexicon.default_tone)))})
            return " "

        return _EMOJI.sub(take, text)

    def _strip_emoticons(self, text: str, found: list[dict[str, Any]]) -> str:
        regex = self.lexicon.emoticon_regex
        if regex is None or not any(ch in text for ch in ")(:;=^*<xд"):
            return text
        out: list[str] = []
        position = 0
        for match in regex.finditer(text):
            symbol = match.group(0)
            start = match.start()
            # A ")" closing an earlier "(" is a parenthesis, not a smile.
            if symbol.startswith(")") and text.count("(", 0, start) > text.count(")", 0, start):
                continue
            out.append(text[position:start])
            out.append(" ")
            position = match.end()
            found.append({"emoji": symbol, "tone": self.lexicon.emoticons.get(symbol)})
        if not out:
            return text
        out.append(text[position:])
        return "".join(out)

    def _lookalikes(self, text: str, report: dict[str, Any]) -> str:
        table = self._lookalike_table
        if table is None or text.isascii() or not _LATIN.search(text):
            return text
        fixed: list[list[str]] = []

        def fix(match: re.Match[str]) -> str:
            # Each hyphen-joined part separately: «x-отчет» keeps its latin «x».
            word = match.group(0)
            parts = word.split("-")
            changed = False
            for index, part in enumerate(parts):
                if _CYRILLIC.search(part) and _LATIN.search(part):
                    new = part.translate(table)
                    if not _LATIN.search(new):
                        parts[index] = new
                        changed = True
            if not changed:
                return word
            new_word = "-".join(parts)
            fixed.append([word, new_word])
            return new_word

        text = _WORD.sub(fix, text)
        if fixed:
            report["changes"].append("lookalikes")
            report["lookalikes"] = fixed
        return text

    def _layout(self, text: str, report: dict[str, Any]) -> str:
        table = self._layout_table
        if table is None or not _LATIN.search(text) or self._morph is None:
            return text
        keep = self.lexicon.keep_latin
        fixed: list[list[str]] = []

        def fix(match: re.Match[str]) -> str:
            token = match.group(0)
            stripped = token.strip(",.")
            if stripped in keep or len(stripped) < 3:
                return token
            for candidate in (token, token.rstrip(",."), stripped):
                converted = candidate.translate(table)
                if len(converted) >= 3 and self._known(converted):
                    fixed.append([candidate, converted])
                    return token.replace(candidate, converted, 1)
            return token

        text = _LAYOUT_TOKEN.sub(fix, text)
        if fixed:
            report["changes"].append("layout")
            report["layout"] = fixed
        return text

    def _known(self, word: str) -> bool:
        if word in self.lexicon.typos:
            return True
        if self._morph is None:
            return False
        try:
            return bool(self._morph.is_known(word))
        except Exception:  # noqa: BLE001 - a morphology failure must not break normalisation
            return False

    def _repeats(self, text: str, report: dict[str, Any]) -> str:
        if not _REPEAT.search(text):
            return text
        fixed: list[list[str]] = []

        def fix(match: re.Match[str]) -> str:
            word = match.group(0)
            single = _REPEAT.sub(r"\1", word)
            double = _REPEAT.sub(r"\1\1", word)
            chosen = single
            if double != single and self._morph is not None and not self._known(single) and self._known(double):
                chosen = double
            fixed.append([word, chosen])
            return chosen

        text = _WORD.sub(lambda m: fix(m) if _REPEAT.search(m.group(0)) and not m.group(0).isdigit() else m.group(0), text)
        if fixed:
            report["changes"].append("repeats")
            report["repeats"] = fixed
        return text

    def _splits(self, text: str, report: dict[str, Any]) -> str:
        fixed: list[list[str]] = []
        words = self.lexicon.split_words
        if words:
            def fix(match: re.Match[str]) -> str:
                word = match.group(0)
                new = words.get(word)
                if new is None:
                    return word
                fixed.append([word, new])
                return new

            text = _WORD.sub(fix, text)
        for rule in self.lexicon.split_rules:
            new_text, count = rule.regex.subn(rule.replace, text)
            if count:
                fixed.append([rule.source, rule.replace])
                text = new_text
        if fixed:
            report["changes"].append("splits")
            report["splits"] = fixed
        return text

    def _typos(self, text: str, report: dict[str, Any]) -> str:
        fixed: list[list[str]] = []
        regex = self.lexicon.phrase_regex
        if regex is not None and regex.search(text):
            def phrase(match: re.Match[str]) -> str:
                new = self.lexicon.phrases[match.group(0)]
                fixed.append([match.group(0), new])
                return new

            text = regex.sub(phrase, text)
        typos = self.lexicon.typos

        def fix(match: re.Match[str]) -> str:
            word = match.group(0)
            new = typos.get(word)
            if new is None:
                return word
            fixed.append([word, new])
            return new

        text = _WORD.sub(fix, text)
        if fixed:
            report["changes"].append("typos")
            report["typos"] = fixed
        return text

    @staticmethod
    def _punctuation(text: str, changes: list[str]) -> str:
        collapsed = _SPACE_BEFORE_PUNCT.sub(r"\1", _SPACES.sub(" ", text)).strip()
        collapsed = _REPEATED_PUNCT.sub(r"\1", collapsed)
        collapsed = _MIXED_PUNCT.sub("?", collapsed)
        if collapsed != text:
            changes.append("spacing")
        return collapsed


def normalize(text: str, *, max_chars: int = 1000, lowercase: bool = True, lexicon: Lexicon | None = None, morph: Any = None) -> tuple[str, list[str]]:
    """Return the normalised text and the list of changes made (for quick use and tests)."""
    result, report, _emoji = Normalizer(lexicon or Lexicon(), morph, max_chars=max_chars, lowercase=lowercase)(text)
    return result, report["changes"]


class _LazyMorph:
    """Defers building the ``morph`` resource until a word actually needs it."""

    def __init__(self, resources: Any) -> None:
        self._resources = resources
        self._morph: Any = None

    def is_known(self, word: str) -> bool:
        if self._morph is None:
            self._morph = self._resources.get("morph")
        return bool(self._morph.is_known(word))


@register("normalize.text")
class NormalizeText:
    """Lowercase, ё→е, typos, glued words, layout slips, repeats, emoji, spacing, length cap."""

    Config = NormalizeTextConfig
    reads = frozenset({"message"})
    writes = frozenset({"text", "normalization", "emoji"})

    def __init__(self, config: NormalizeTextConfig, resources: Any) -> None:
        self.config = config
        lexicon = resources.bundle.section("normalization") or Lexicon()
        self.normalizer = Normalizer(lexicon, _LazyMorph(resources), max_chars=config.max_chars, lowercase=config.lowercase, fix_layout=config.fix_layout)

    def run(self, state: Mapping[str, Any], ctx: NodeContext) -> dict[str, Any]:
        text, report, emoji = self.normalizer(state.get("message") or "")
        return {"text": text, "normalization": report, "emoji": emoji}
