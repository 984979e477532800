"""Cyrillic → Latin transliteration for the semantic stage (section ``translit``).

The only offline sentence model is English-trained: its WordPiece vocabulary cuts Cyrillic
into single characters, while transliterated Russian shares multi-character subwords
("kassa", "skolko stoit"). The table is data (``yaml_config/nlu/translit.yaml``); the same
function is applied to taxonomy examples and to messages, so the cache key (a hash of the
encoded texts) changes whenever the table does.
"""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from engine.config import ConfigBundle, section, validate_model

__all__ = ["TranslitFile", "Transliterator", "load_translit"]

TRANSLIT_FILE = "yaml_config/nlu/translit.yaml"


class TranslitFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    version: int = 1
    enabled: bool = True
    letters: dict[str, str] = Field(default_factory=dict, description="one lowercase Cyrillic letter → Latin letters")


class Transliterator:
    """``str.translate`` over the table (upper case derived from lower case); identity if empty."""

    def __init__(self, letters: dict[str, str] | None = None) -> None:
        letters = dict(letters or {})
        table: dict[str, str] = {}
        for letter, latin in letters.items():
            table[letter] = latin
            upper = letter.upper()
            if upper != letter and upper not in letters:
                table[upper] = latin.capitalize()
        self.letters = letters
        self._table = str.maketrans(table) if table else None

    @property
    def active(self) -> bool:
        return self._table is not None

    def __call__(self, text: str) -> str:
        return text.translate(self._table) if self._table is not None else text


@section("translit")
def load_translit(bundle: ConfigBundle) -> Transliterator:
    """The table from ``yaml_config/nlu/translit.yaml``; no file or ``enabled: false`` → identity."""
    doc = bundle.file(TRANSLIT_FILE)
    if doc is None:
        return Transliterator()
    parsed, issues = validate_model(doc, TranslitFile)
    bundle.add(issues)
    if parsed is None or not parsed.enabled:
        return Transliterator()
    bad = [letter for letter in parsed.letters if len(letter) != 1 or letter != letter.lower()]
    for letter in bad:
        bundle.add([doc.issue(("letters", letter), f"key '{letter}' is not one lowercase letter", "Write one lowercase Cyrillic letter per key; upper case is derived")])
    return Transliterator({letter: latin for letter, latin in parsed.letters.items() if letter not in bad})
