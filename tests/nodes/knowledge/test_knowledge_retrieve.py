"""``knowledge.retrieve`` through a graph: the cascade's stages, thresholds from YAML, the trace."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from engine.state import ConversationState
from tests.nodes.answers_support import copy_shipped, small_graph, write

KB = """
version: 1
topic: demo
sections:
  - id: tariffs.lite
    title: Тариф Lite
    keywords: [lite, тариф lite, один магазин, цена lite]
    questions: [сколько стоит тариф lite, что входит в lite]
    answer: Lite стоит 150 000 ₸ в год.
    priority: 4
  - id: tariffs.overview
    title: Тарифы Wipon
    keywords: [тариф, тарифы, цена, lite, standard, pro]
    questions: [какие есть тарифы]
    answer: Тарифы — Mini, Lite, Standard и Pro.
    priority: 8
  - id: delivery.overview
    title: Доставка оборудования
    keywords: [доставка, курьер]
    questions: [как получить оборудование]
    answer: Доставляем по всему Казахстану.
  - id: reliability.offline
    title: Работа без интернета
    keywords: [офлайн, без интернета, интернет пропал]
    questions: [касса работает без интернета]
    answer: Офлайн-режим есть на всех тарифах.
  - id: support.hours
    title: Часы работы поддержки
    keywords: [поддержка, техподдержка, график]
    questions: [до скольки работает поддержка]
    answer: Поддержка работает каждый день.
"""

GRAPH = """
version: 1
name: kb_only
inputs: [intent]
nodes:
  normalize: {type: normalize.text}
  knowledge: {type: knowledge.retrieve, after: [normalize]}
"""


class KeywordEmbedder:
    """A fake sentence model (process boundary): a text's vector marks which topic words it contains."""

    name = "fake-keywords"
    topics = (("связ", "звон", "чат", "поддерж"), ("интернет", "офлайн", "сеть"), ("тариф", "цен", "стоим"))

    def __init__(self) -> None:
        self.calls: list[int] = []

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(len(texts))
        rows = []
        for text in texts:
            lowered = text.lower()
            vector = np.array([1.0 if any(stem in lowered for stem in topic) else 0.0 for topic in self.topics] + [0.05], dtype=np.float32)
            rows.append(vector / np.linalg.norm(vector))
        return np.stack(rows)


@pytest.fixture
def kb_root(tmp_path: Path) -> Path:
    root = copy_shipped(tmp_path / "config")
    for path in (root / "yaml_config" / "knowledge").glob("*.yaml"):
        if not path.name.startswith("_retrieval"):
            path.unlink()
    write(root, "yaml_config/knowledge/demo.yaml", KB)
    return root


def ask(root: Path, messages: list[str], *, semantic: bool = False, embedder: object | None = None) -> list[dict]:
    bundle, executor = small_graph(root, GRAPH, "kb_only")
    if embedder is not None:
        bundle.resources.provide("embedder", embedder)
    flags = {**bundle.settings.feature_flags, "kb_semantic": semantic}
    out = []
    for index, message in enumerate(messages):
        result = executor.run_turn(ConversationState(conversation_id=f"kb-{index}"), message, flags=flags)
        [run] = [run for run in result.runs if run.node_id == "knowledge"]
        assert run.status == "ok", run.error
        out.append(result.values["knowledge"])
    return out


def test_a_verbatim_example_question_is_decided_by_the_exact_stage(kb_root: Path) -> None:
    [found] = ask(kb_root, ["Сколько стоит тариф Lite?"])
    assert (found["section_id"], found["stage"], found["score"]) == ("tariffs.lite", "exact", 1.0)
    assert found["is_question"] is True
    assert found["title"] == "Тариф Lite"


def test_inflected_words_and_synonyms_are_matched_by_lemmas(kb_root: Path) -> None:
    found = ask(kb_root, ["Сколько стоят тарифы лайт?", "а касса без интернета будет работать?", "вы доставляете оборудование?"])
    assert [(item["section_id"], item["stage"]) for item in found] == [
        ("tariffs.lite", "lemma"),  # стоят → стоить, лайт → lite (synonym); the specific section beats the overview
        ("reliability.offline", "lemma"),  # «без интернета» is a keyword, «касса» is not: exact covers too little
        ("delivery.overview", "lemma"),  # доставлять ~ доставка (stem), оборудование (title)
    ]
    assert found[1]["stage_scores"]["exact"] < found[1]["stage_scores"]["lemma"]


def test_candidates_are_the_top_three_in_descending_order(kb_root: Path) -> None:
    [found] = ask(kb_root, ["какие тарифы есть и что входит в lite"])
    scores = [item["score"] for item in found["candidates"]]
    assert len(found["candidates"]) <= 3 and scores == sorted(scores, reverse=True)
    assert found["section_id"] == found["candidates"][0]["id"]
    assert {item["id"] for item in found["candidates"][:2]} == {"tariffs.lite", "tariffs.overview"}


def test_an_off_topic_message_finds_nothing(kb_root: Path) -> None:
    found = ask(kb_root, ["какая завтра погода в астане", "привет", ""])
    assert [item["section_id"] for item in found] == [None, None, None]
    assert [item["stage"] for item in found] == ["none", "none", "none"]
    assert [item["is_question"] for item in found] == [True, False, False]


def test_the_semantic_stage_decides_when_words_do_not_match(kb_root: Path) -> None:
    retrieval = (kb_root / "yaml_config/knowledge/_retrieval.yaml").read_text(encoding="utf-8")
    assert "lexical_weight: 0.6" in retrieval
    write(kb_root, "yaml_config/knowledge/_retrieval.yaml", retrieval.replace("lexical_weight: 0.6", "lexical_weight: 0.2"))
    embedder = KeywordEmbedder()
    [found] = ask(kb_root, ["как мне с вами связаться, если что-то сломается?"], semantic=True, embedder=embedder)
    assert (found["section_id"], found["stage"]) == ("support.hours", "semantic")
    assert "semantic" in found["stage_scores"] and "lemma" in found["stage_scores"]


def test_section_embeddings_are_cached_on_disk_by_model_and_content(kb_root: Path, tmp_path: Path) -> None:
    write(kb_root, "yaml_config/settings.yaml", (kb_root / "yaml_config/settings.yaml").read_text(encoding="utf-8").replace(
        "embeddings:\n", f"embeddings:\n  cache_dir: {tmp_path / 'emb'}\n", 1))
    first, second = KeywordEmbedder(), KeywordEmbedder()
    ask(kb_root, ["как с вами связаться?"], semantic=True, embedder=first)
    ask(kb_root, ["как с вами связаться?"], semantic=True, embedder=second)
    assert first.calls[0] > 1  # the corpus, then the question
    assert second.calls == [1]  # only the question: the corpus came from the cache
    assert len(list((tmp_path / "emb").glob("knowledge-*.npy"))) == 1


def test_without_the_semantic_flag_no_model_is_touched(kb_root: Path) -> None:
    embedder = KeywordEmbedder()
    [found] = ask(kb_root, ["как мне с вами связаться, если что-то сломается?"], semantic=False, embedder=embedder)
    assert embedder.calls == []
    assert found["stage"] in ("best", "none")


def test_thresholds_come_from_yaml(kb_root: Path) -> None:
    write(kb_root, "yaml_config/knowledge/_retrieval.yaml", """
    version: 1
    stages:
      exact: {enabled: false, threshold: 0.9}
      lemma: {threshold: 1.0}
      semantic: {enabled: false, threshold: 0.5}
    min_score: 0.2
    """)
    [found] = ask(kb_root, ["Сколько стоит тариф Lite?"])
    assert (found["section_id"], found["stage"]) == ("tariffs.lite", "best")
    assert "exact" not in found["stage_scores"]


def test_a_price_question_prefers_sections_that_name_a_price(kb_root: Path) -> None:
    priced, unmet = ask(kb_root, ["Какая цена тарифов?", "Сколько стоит доставка?"])
    assert (priced["section_id"], priced["unmet_focus"]) == ("tariffs.lite", [])  # the overview names no price
    assert (unmet["section_id"], unmet["unmet_focus"]) == ("delivery.overview", ["price"])
    retrieval = (kb_root / "yaml_config/knowledge/_retrieval.yaml").read_text(encoding="utf-8")
    assert "focus_penalty: 0.85" in retrieval
    write(kb_root, "yaml_config/knowledge/_retrieval.yaml", retrieval.replace("focus_penalty: 0.85", "focus_penalty: 1.0"))
    [unfocused] = ask(kb_root, ["Какая цена тарифов?"])
    assert (unfocused["section_id"], unfocused["unmet_focus"]) == ("tariffs.overview", ["price"])


def _semantic_once(root: Path, message: str, intent: str | None) -> tuple[dict, KeywordEmbedder]:
    retrieval = (root / "yaml_config/knowledge/_retrieval.yaml").read_text(encoding="utf-8")
    write(root, "yaml_config/knowledge/_retrieval.yaml", retrieval.replace("lexical_weight: 0.6", "lexical_weight: 0.2"))
    bundle, executor = small_graph(root, GRAPH, "kb_only")
    embedder = KeywordEmbedder()
    bundle.resources.provide("embedder", embedder)
    flags = {**bundle.settings.feature_flags, "kb_semantic": True}
    result = executor.run_turn(ConversationState(conversation_id="kb-gate"), message, flags=flags, extra_inputs={"intent": intent} if intent else None)
    return result.values["knowledge"], embedder


def test_a_statement_is_not_embedded_and_the_trace_says_why(kb_root: Path) -> None:
    found, embedder = _semantic_once(kb_root, "связь с вами у нас плохая бывает", None)
    assert embedder.calls == []
    assert found["semantic_skipped"] == "not_a_question" and "semantic" not in found["stage_scores"]


def test_a_question_intent_without_a_question_mark_is_embedded(kb_root: Path) -> None:
    message = "связь с вами у нас плохая бывает"
    found, embedder = _semantic_once(kb_root, message, "question_support")
    assert embedder.calls and embedder.calls[-1] == 1  # the corpus, then the message once
    assert (found["section_id"], found["stage"]) == ("support.hours", "semantic") and "semantic_skipped" not in found


def test_the_question_gate_can_be_switched_off_in_yaml(kb_root: Path) -> None:
    retrieval = (kb_root / "yaml_config/knowledge/_retrieval.yaml").read_text(encoding="utf-8")
    assert "only_questions: true" in retrieval
    write(kb_root, "yaml_config/knowledge/_retrieval.yaml", retrieval.replace("only_questions: true", "only_questions: false"))
    found, embedder = _semantic_once(kb_root, "связь с вами у нас плохая бывает", None)
    assert embedder.calls and found["stage"] == "semantic"


def test_an_unknown_question_category_is_a_config_error_with_its_line(kb_root: Path) -> None:
    from engine.config import ConfigBundle

    retrieval = (kb_root / "yaml_config/knowledge/_retrieval.yaml").read_text(encoding="utf-8")
    write(kb_root, "yaml_config/knowledge/_retrieval.yaml", retrieval.replace("question_category: all_questions", "question_category: all_question"))
    bundle = ConfigBundle(kb_root)
    bundle.section("knowledge_retrieval")
    line = 1 + next(number for number, text in enumerate(retrieval.splitlines()) if "question_category:" in text)
    [issue] = [issue for issue in bundle.issues if issue.file.endswith("_retrieval.yaml")]
    assert (issue.line, issue.path) == (line, "stages.semantic.question_category")
    assert "unknown intent category 'all_question'" in issue.render() and "all_questions" in issue.render()
