"""Stage 4 of the cascade through the classify_only graph: it decides messages the keyword
stages leave unclear, and it encodes transliterated text (fake embedder at the process boundary)."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from engine.config import ConfigBundle
from engine.errors import ConfigError
from engine.runtime import Runtime
from nodes.classify.translit import Transliterator
from tests.nodes.nlu_support import SHIPPED, FakeEmbedder, copy_config, understand

#: A typo ("стоимосьт") the normaliser does not know: no pattern, root or lemma matches it,
#: but it shares most character trigrams with the taxonomy example "какая стоимость?".
TYPO_MESSAGE = "какая стоимосьт?"


class RecordingEmbedder(FakeEmbedder):
    """The trigram fake, remembering every text it was asked to encode."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []

    def encode(self, texts: list[str]) -> np.ndarray:
        self.texts.extend(texts)
        return super().encode(texts)


def full_cascade(tmp_path: Path, *, semantic: bool) -> tuple[Runtime, RecordingEmbedder]:
    """The shipped config with every stage, a private embeddings cache and the fake embedder."""
    config = copy_config(tmp_path / "config")
    # The pretrained-embedder path (faked here), not the model trained from the examples.
    (config / "yaml_config/nlu/semantic_model.yaml").write_text("version: 1\nenabled: false\n", encoding="utf-8")
    settings = config / "yaml_config/settings.yaml"
    text = re.sub(r"\n  cache_dir: .*", "", settings.read_text(encoding="utf-8"))
    settings.write_text(text.replace("\nembeddings:\n", f"\nembeddings:\n  cache_dir: {tmp_path / 'cache'}\n", 1), encoding="utf-8")
    runtime = Runtime(config, "classify_only", trace=False, flag_overrides={"semantic_stage": semantic})
    embedder = RecordingEmbedder()
    runtime.graph.resources.provide("embedder", embedder)
    return runtime, embedder


def test_semantic_stage_decides_a_message_the_keyword_stages_leave_unclear(tmp_path: Path) -> None:
    off, _ = full_cascade(tmp_path / "off", semantic=False)
    before = understand(off, TYPO_MESSAGE).values
    assert before["intent"] == "unclear"
    assert before["classification"]["stage"] == "fallback"

    on, embedder = full_cascade(tmp_path / "on", semantic=True)
    after = understand(on, TYPO_MESSAGE).values
    assert (after["intent"], after["classification"]["stage"]) == ("price_question", "semantic")
    assert after["intent_confidence"] >= 0.55  # the cascade's semantic_threshold
    assert set(after["classification"]["stages"]) == {"patterns", "roots", "lemmas", "semantic"}
    assert embedder.calls == 2  # the taxonomy examples once, then the message


def test_examples_and_message_are_encoded_transliterated(tmp_path: Path) -> None:
    runtime, embedder = full_cascade(tmp_path, semantic=True)
    understand(runtime, TYPO_MESSAGE)
    assert len(embedder.texts) > 1000  # every taxonomy example plus the message
    assert not [text for text in embedder.texts if re.search("[а-яё]", text)]
    assert embedder.texts[-1] == "kakaya stoimost?"


def test_shipped_transliteration_table() -> None:
    translit = ConfigBundle(SHIPPED).section("translit")
    assert translit.active
    assert translit("Сколько стоит касса? Дорого!") == "Skolko stoit kassa? Dorogo!"
    assert translit("щётка, объём, қазақ") == "shchetka, obem, kazak"
    assert Transliterator()("касса") == "касса"  # no table: identity


def test_translit_key_must_be_one_lowercase_letter(tmp_path: Path) -> None:
    config = copy_config(tmp_path / "config")
    path = config / "yaml_config/nlu/translit.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("  б: b\n", "  Бб: b\n", 1), encoding="utf-8")
    bundle = ConfigBundle(config)
    translit = bundle.section("translit")
    assert translit("б") == "б"  # the bad key is dropped, the rest still loads
    assert translit("а") == "a"
    with pytest.raises(ConfigError, match=r"translit\.yaml:\d+: letters\.Бб: key 'Бб' is not one lowercase letter\. Write one lowercase Cyrillic letter"):
        bundle.raise_if_invalid()
