"""Morphology: lemmas kept on disk between processes, read back without parsing again."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.resources import Resources, persist_resources
from nodes.classify.morphology import Morphology, build_morphology, lemma_cache_file

WORDS = ["магазины", "кассами", "продаж", "складах"]
LEMMAS = ["магазин", "касса", "продажа", "склад"]


def test_lemmas_parsed_once_are_written_and_a_new_process_reads_them_instead_of_parsing(tmp_path: Path) -> None:
    cache = tmp_path / "lemmas.json"
    first = Morphology(cache_file=cache)
    assert first.lemmas(WORDS) == LEMMAS
    assert first.lemma("2024") == "2024"  # no letters: the word itself, never stored
    assert not cache.exists()  # nothing is written before persist()
    assert first.persist() is True
    assert json.loads(cache.read_text(encoding="utf-8")) == dict(zip(WORDS, LEMMAS, strict=True))
    assert first.persist() is False  # nothing new since

    second = Morphology(cache_file=cache)

    def no_parse(word: str) -> str:
        raise AssertionError(f"{word!r} was parsed although the cache holds it")

    second._parse_lemma = no_parse  # type: ignore[method-assign]
    assert second.lemmas(WORDS) == LEMMAS
    second._parse_lemma = Morphology._parse_lemma.__get__(second)  # type: ignore[method-assign]
    assert second.lemma("терминалов") == "терминал"
    assert second.persist() is True
    assert json.loads(cache.read_text(encoding="utf-8"))["терминалов"] == "терминал"
    assert len(json.loads(cache.read_text(encoding="utf-8"))) == len(WORDS) + 1


@pytest.mark.parametrize("content", [b"{not json", b"[1, 2]", b'{"\xd0\xba\xd0\xb0\xd1\x81\xd1\x81\xd1\x8b": 7}'])
def test_a_damaged_cache_file_is_parsed_around_and_rewritten(tmp_path: Path, content: bytes) -> None:
    cache = tmp_path / "lemmas.json"
    cache.write_bytes(content)
    morph = Morphology(cache_file=cache)
    assert morph.lemma("кассы") == "касса"
    assert morph.persist() is True
    assert json.loads(cache.read_text(encoding="utf-8")) == {"кассы": "касса"}


def test_without_a_cache_file_nothing_is_kept(tmp_path: Path) -> None:
    morph = Morphology()
    assert morph.lemma("кассы") == "касса"
    assert morph.persist() is False
    assert list(tmp_path.iterdir()) == []


def test_the_resource_caches_under_the_embeddings_cache_dir_by_pymorphy_versions(tmp_path: Path) -> None:
    class Settings:
        class embeddings:  # noqa: N801 - stands in for the settings section
            cache_dir = str(tmp_path / "cache")

    class Bundle:
        settings = Settings

    morph = build_morphology(Resources(Bundle))
    path = lemma_cache_file(tmp_path / "cache")
    assert path.parent == tmp_path / "cache" and path.name.startswith("morphology-lemmas-v1-") and path.suffix == ".json"
    assert morph._cache_file == path
    assert morph.lemma("магазинах") == "магазин"
    assert morph.persist() and path.exists()


def test_persist_resources_persists_per_process_resources_and_survives_a_failing_one(monkeypatch: pytest.MonkeyPatch) -> None:
    import engine.resources as resources_module

    calls: list[str] = []

    class Keeps:
        def persist(self) -> bool:
            calls.append("kept")
            return True

    class Breaks:
        def persist(self) -> bool:
            calls.append("broke")
            raise OSError("read-only file system")

    monkeypatch.setattr(resources_module, "_PROCESS_CACHE", {"broken": Breaks(), "plain": object(), "kept": Keeps()})
    persist_resources()
    assert calls == ["broke", "kept"]
