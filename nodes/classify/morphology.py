"""Resource ``morph``: pymorphy3 lemmatisation with a per-process cache (built lazily), kept on disk."""
from __future__ import annotations

import logging
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson

from engine.resources import resource

__all__ = ["Morphology", "build_morphology", "lemma_cache_file"]

log = logging.getLogger(__name__)

#: Bumped when ``Morphology._parse_lemma`` changes what it returns for a word.
_LEMMA_FORMAT = 1
#: Words a cache file may hold; past it, new words are parsed as usual but not written.
_MAX_STORED = 200_000


def lemma_cache_file(cache_dir: str | Path) -> Path:
    """The lemma cache for the installed pymorphy3 and its Russian dictionaries (a lemma is a
    pure function of the word and those two versions)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        versions = f"{version('pymorphy3')}-{version('pymorphy3-dicts-ru')}"
    except PackageNotFoundError:
        versions = "unknown"
    return Path(cache_dir) / f"morphology-lemmas-v{_LEMMA_FORMAT}-{versions}.json"


class Morphology:
    """Lemmas and dictionary checks for Russian words.

    ``MorphAnalyzer()`` costs ~50 ms and 39 MiB, so it is created on first use, once per
    process. A parse costs 38–140 µs; the LRU caches make repeated words nearly free.

    With ``cache_file`` the lemmas parsed in earlier processes are read from that JSON file on
    first use, and ``persist()`` adds the ones parsed since. A fresh process (an evaluation
    worker, a chat) otherwise spent ~0.6 s parsing the ~6,000 words of the taxonomy examples
    and the knowledge base again while building its indexes.
    """

    def __init__(self, cache_size: int = 50_000, cache_file: str | Path | None = None) -> None:
        self._analyzer: Any = None
        self._cache_file = Path(cache_file) if cache_file is not None else None
        self._stored: dict[str, str] | None = None  # the cache file's lemmas, read on first use
        self._added: dict[str, str] = {}  # parsed in this process, not in the file yet
        self.lemma = lru_cache(maxsize=cache_size)(self._lemma)
        self.is_known = lru_cache(maxsize=cache_size)(self._is_known)

    @property
    def analyzer(self) -> Any:
        if self._analyzer is None:
            import pymorphy3

            self._analyzer = pymorphy3.MorphAnalyzer()
        return self._analyzer

    def _lemma(self, word: str) -> str:
        """Normal form of the most probable parse (the word itself if it has no letters)."""
        if not any(ch.isalpha() for ch in word):
            return word
        stored = self._stored if self._stored is not None else self._load()
        lemma = stored.get(word)
        if lemma is None:
            lemma = self._parse_lemma(word)
            if self._cache_file is not None and len(stored) + len(self._added) < _MAX_STORED:
                self._added[word] = lemma
        return lemma

    def _parse_lemma(self, word: str) -> str:
        parses = self.analyzer.parse(word)
        return str(parses[0].normal_form) if parses else word

    def _is_known(self, word: str) -> bool:
        """True if the word is in the dictionary (not merely guessed by suffix)."""
        return bool(self.analyzer.word_is_known(word))

    def lemmas(self, words: list[str]) -> list[str]:
        return [self.lemma(word) for word in words]

    def _load(self) -> dict[str, str]:
        stored: dict[str, str] = {}
        if self._cache_file is not None:
            try:
                loaded = orjson.loads(self._cache_file.read_bytes())
            except FileNotFoundError:
                loaded = {}
            except (OSError, ValueError) as e:  # a damaged cache is rebuilt, never trusted
                log.warning("lemma cache %s unreadable (%s); parsing again", self._cache_file, e)
                loaded = {}
            if isinstance(loaded, dict):
                stored = {word: lemma for word, lemma in loaded.items() if isinstance(word, str) and isinstance(lemma, str)}
        self._stored = stored
        return stored

    def persist(self) -> bool:
        """Write the cache file with the lemmas parsed since it was read; False if nothing was new.

        Written beside and renamed over, so concurrent processes (evaluation workers) never leave
        a torn file: the last one's words win, each a superset of what it read.
        """
        if self._cache_file is None or not self._added:
            return False
        stored = self._stored if self._stored is not None else self._load()
        stored.update(self._added)
        self._added = {}
        self._cache_file.parent.mkdir(parents=True, exist_ok=True)
        scratch = self._cache_file.with_name(f"{self._cache_file.name}.{os.getpid()}.tmp")
        scratch.write_bytes(orjson.dumps(stored))
        os.replace(scratch, self._cache_file)
        return True


@resource("morph", per_process=True)
def build_morphology(resources: Any) -> Morphology:
    return Morphology(cache_file=lemma_cache_file(resources.settings.embeddings.cache_dir))
