"""Numbers in Russian chat text: digits («200 000», «1,5»), words («пятнадцать», «двух»),
multipliers («тысяч», «млн», glued «200к»). Positions refer to the (normalised) text."""
from __future__ import annotations

import re
from dataclasses import dataclass

from nodes.extract.spec import NumberWords

__all__ = ["Token", "NumberSpan", "tokenize", "find_numbers"]

_TOKEN = re.compile(r"\d+(?:[.,]\d+)?|[а-яa-z]+(?:-[а-яa-z]+)*|[₸%$]")
_THOUSANDS_GROUP = re.compile(r"\d{3}")


@dataclass(frozen=True)
class Token:
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class NumberSpan:
    value: float
    start: int  # character offsets in the text
    end: int
    first: int  # token indices [first, last]
    last: int


def tokenize(text: str) -> list[Token]:
    return [Token(m.group(0), m.start(), m.end()) for m in _TOKEN.finditer(text)]


def _digits(token: str) -> float | None:
    try:
        return float(token.replace(",", "."))
    except ValueError:
        return None


def find_numbers(tokens: list[Token], text: str, words: NumberWords) -> list[NumberSpan]:
    """Every number in the token stream, left to right, multipliers applied."""
    spans: list[NumberSpan] = []
    i = 0
    count = len(tokens)
    while i < count:
        token = tokens[i]
        value: float | None = None
        first = i
        if token.text[0].isdigit():
            value = _digits(token.text)
            if value is None:
                i += 1
                continue
            # «200 000», «1 500 000»: groups of three digits separated by one space
            while (
                i + 1 < count
                and token.text.isdigit()
                and _THOUSANDS_GROUP.fullmatch(tokens[i + 1].text)
                and text[tokens[i].end:tokens[i + 1].start] in (" ", "\u00a0", "\u202f")
                and len(tokens[first].text) <= 3
            ):
                i += 1
                value = value * 1000 + float(tokens[i].text)
            if i + 1 < count and tokens[i + 1].start == tokens[i].end and tokens[i + 1].text in words.glued_multipliers:
                i += 1
                value *= words.glued_multipliers[tokens[i].text]
            elif i + 1 < count and tokens[i + 1].text in words.multipliers:
                i += 1
                value *= words.multipliers[tokens[i].text]
        elif token.text in words.words:
            total = 0.0
            current = 0.0
            seen_word = False
            while i < count and (tokens[i].text in words.words or (seen_word and tokens[i].text in words.multipliers)):
                word = tokens[i].text
                if word in words.words:
                    current += words.words[word]
                    seen_word = True
                else:
                    total += (current or 1) * words.multipliers[word]
                    current = 0.0
                i += 1
            i -= 1
            value = total + current
        if value is not None:
            spans.append(NumberSpan(value, tokens[first].start, tokens[i].end, first, i))
        i += 1
    return spans
