"""Literal prefilters (pattern index, refinement marker sets, stem index) give exactly the unfiltered results."""
from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from nodes.classify.pattern_index import PatternIndex, required_literals
from nodes.extract.stems import StemIndex
from nodes.refine._text import MarkerSet

PATTERNS = [
    r"\bсколько стоит\b",
    r"^(да|ага|ок)\b",
    r"(?i:каспи) ред",  # the scoped flag makes «каспи» unusable as a literal
    r"(?i)халык",
    r"не (нужно|надо|интересно)",
    r"\d+ (магазин|точ)",
    r"ок",
    r"(?:1с|1c)\b",
    r"[а-я]+@[a-z]+\.kz",
]

TEXTS = [
    "сколько стоит касса?",
    "да, давайте",
    "окей, понял",
    "КАСПИ ред подключается?",
    "Каспи ред",
    "ХАЛЫК банк",
    "нам это не интересно",
    "у нас 3 магазина",
    "работаем в 1с",
    "",
    "ок",
    "пишите на почту магазин@mail.kz",
]


def test_required_literals_respect_case_insensitive_groups() -> None:
    assert required_literals(r"(?i:каспи) ред") == frozenset({" ред"})
    assert required_literals(r"(?i:каспи)") is None
    assert required_literals(r"(?i)халык") is None
    assert required_literals(r"не (хочу|надо)") == frozenset({"хочу", "надо"})  # longer than «не »: more selective


@pytest.mark.parametrize("text", TEXTS)
def test_index_search_equals_trying_every_pattern(text: str) -> None:
    index = PatternIndex(PATTERNS)
    expected = [(position, match.group(0)) for position, pattern in enumerate(PATTERNS) if (match := re.search(pattern, text))]
    found = [(position, match.group(0)) for position, match in index.search(text)]
    assert found == expected
    assert set(index.candidates(text)) >= {position for position, _ in expected}


def test_index_skips_patterns_whose_literal_is_absent() -> None:
    index = PatternIndex(PATTERNS)
    candidates = index.candidates("здравствуйте")
    assert 0 not in candidates and 4 not in candidates  # «сколько стоит», «не …» cannot match
    assert 3 in candidates  # (?i) pattern: always tried


@pytest.mark.parametrize("text", TEXTS)
def test_marker_set_prefilter_finds_what_the_alternation_finds(text: str) -> None:
    with_literals = MarkerSet([r"\bсколько\b", r"стоит", r"не (нужно|надо)"])
    without = MarkerSet([r"\bсколько\b", r"\d+ магазин"])  # «\d+» needs no literal: never prefiltered
    for markers in (with_literals, without):
        alternation = re.compile("|".join(f"(?:{marker})" for marker in markers.markers))
        assert markers.search(text) == (alternation.search(text) is not None)
        found = markers.find(text)
        assert (found is not None) == (alternation.search(text) is not None)
        if found is not None:
            assert re.search(found, text)


@dataclass
class _Token:
    text: str


@pytest.mark.parametrize("words", [["у", "нас", "продуктовый", "магазин"], ["кафе", "и", "магазин"], ["ничего"], []])
def test_stem_index_first_is_the_earliest_hit(words: list[str]) -> None:
    index = StemIndex({"shop": ["магаз", "продукт магаз"], "cafe": ["кафе"]})
    tokens = [_Token(word) for word in words]
    hits = index.hits(tokens)
    assert index.first(tokens) == (min(position for position, _key, _stem in hits) if hits else None)
    assert index.first(tokens, 1) == (min((p for p, _k, _s in index.hits(tokens, 1)), default=None))
