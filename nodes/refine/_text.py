"""Small text tools the refinement layers share: marker sets, word counts, option answers."""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from nodes.classify.pattern_index import required_literals
from nodes.refine.settings import AnswersFile

__all__ = ["MarkerSet", "words", "word_count", "OptionReader"]

_WORD = re.compile(r"[0-9a-zа-яё]+(?:-[0-9a-zа-яё]+)*", re.IGNORECASE)


def words(text: str) -> list[str]:
    """Lowercase word tokens (digits included, punctuation dropped)."""
    return _WORD.findall(text.lower())


def word_count(text: str) -> int:
    return len(_WORD.findall(text))


class MarkerSet:
    """A list of regex markers compiled once into one alternation; ``find`` names the first hit.

    Markers are written in YAML as regular expressions over lowercase text (``\\bда\\b``,
    ``посоветова``). A set of a few dozen markers is matched in one pass; the index of the
    matching alternative tells which marker fired (for the trace).
    """

    __slots__ = ("markers", "_regex", "_groups", "_literals")

    def __init__(self, markers: Iterable[str]) -> None:
        self.markers: tuple[str, ...] = tuple(markers)
        self._regex = re.compile("|".join(f"({marker})" for marker in self.markers)) if self.markers else None
        # A marker may contain groups of its own: remember the group number of each alternative.
        self._groups: list[tuple[int, str]] = []
        group = 1
        for marker in self.markers:
            self._groups.append((group, marker))
            group += 1 + re.compile(marker).groups
        # When every marker needs some literal (``pattern_index``), a text containing none of
        # them cannot match: a few substring tests instead of running the alternation.
        needs = [required_literals(marker) for marker in self.markers]
        self._literals: tuple[str, ...] | None = (
            tuple(sorted(frozenset().union(*needs))) if needs and all(need is not None for need in needs) else None  # type: ignore[arg-type]
        )

    def __bool__(self) -> bool:
        return self._regex is not None

    def find(self, text: str) -> str | None:
        """The first marker (as written) found in ``text``, or None."""
        if self._regex is None or (self._literals is not None and not any(literal in text for literal in self._literals)):
            return None
        match = self._regex.search(text)
        if match is None:
            return None
        for group, marker in self._groups:
            if match.group(group) is not None:
                return marker
        return self.markers[0]

    def search(self, text: str) -> bool:
        if self._regex is None or (self._literals is not None and not any(literal in text for literal in self._literals)):
            return False
        return self._regex.search(text) is not None


class OptionReader:
    """Reads «1», «2)», «второе», «первый вариант», «давайте последний» as an option number.

    Returns the 1-based number, ``-1`` for "the last one", or None when the message is more
    than a bare option answer (longer than ``max_words`` once fillers are dropped).
    """

    def __init__(self, answers: AnswersFile) -> None:
        self.max_words = answers.max_words
        self.fillers = frozenset(word.lower() for word in answers.fillers)
        self._ordinals: list[tuple[int, re.Pattern[str]]] = [
            (number, re.compile(rf"^(?:{'|'.join(patterns)})$")) for number, patterns in sorted(answers.ordinals.items()) if patterns
        ]
        self._last = re.compile(rf"^(?:{'|'.join(answers.last_option)})$") if answers.last_option else None

    def read(self, text: str) -> int | None:
        tokens = words(text)
        if not tokens or len(tokens) > self.max_words:
            return None
        meaningful = [token for token in tokens if token not in self.fillers]
        if len(meaningful) != 1:
            return None
        token = meaningful[0]
        if token.isdigit():
            number = int(token)
            return number if 0 < number < 100 else None
        for number, pattern in self._ordinals:
            if pattern.match(token):
                return number
        if self._last is not None and self._last.match(token):
            return -1
        return None

    @staticmethod
    def pick(number: int, options: Sequence[str]) -> str | None:
        """The option a number names (``-1`` is the last), or None when out of range."""
        if not options:
            return None
        if number == -1:
            return options[-1]
        return options[number - 1] if 1 <= number <= len(options) else None
