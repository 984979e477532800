"""classify.cascade through the classify_only graph: every stage decides something, context,
thresholds, the semantic stage (fake embedder at the process boundary) and its disk cache."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine.runtime import Runtime
from nodes.classify.semantic import SemanticIndex
from tests.nodes.nlu_support import FakeEmbedder, classify_runtime, copy_config, understand


def classification(message: str, context: dict | None = None, runtime: Runtime | None = None, **conversation: object) -> tuple[str, float, dict]:
    result = understand(runtime or classify_runtime(), message, context, **conversation)
    return result.values["intent"], result.values["intent_confidence"], result.values["classification"]


def test_patterns_decide_with_the_matched_pattern() -> None:
    intent, confidence, record = classification("Скок стоит?")
    assert (intent, record["stage"]) == ("price_question", "patterns")
    assert confidence >= 0.85
    assert "сколько" in record["matched"] and record["pattern"]
    assert set(record["stages"]) == {"patterns"}  # early exit: later stages did not run
    assert record["timings_us"]["patterns"] > 0 and record["timings_us"]["total"] >= record["timings_us"]["patterns"]
    assert record["alternatives"][0] == ["price_question", confidence]


def test_roots_decide_when_no_pattern_is_sure() -> None:
    intent, confidence, record = classification("вебхуки и апи для интеграции")
    assert (intent, record["stage"]) == ("question_integrations", "roots")
    assert confidence >= 0.85
    assert record["stages"]["patterns"]["top"][0][1] < 0.85
    assert any(hit.endswith("→question_integrations") for hit in record["stages"]["roots"]["hits"])


def test_lemmas_decide_by_the_nearest_example() -> None:
    intent, confidence, record = classification("подписка на Умаг оплачена до марта")
    assert (intent, record["stage"]) == ("objection_contract_bound", "lemmas")
    assert 0.65 <= confidence <= 0.9
    assert record["stages"]["lemmas"]["examples"][0][0] == "objection_contract_bound"
    assert "подписка" in record["stages"]["lemmas"]["lemmas"]


def test_fallback_gives_unclear_below_min_confidence() -> None:
    intent, confidence, record = classification("лучшие люди")
    assert (intent, record["stage"]) == ("unclear", "fallback")
    assert confidence < 0.3
    intent, _confidence, record = classification("")
    assert (intent, record["stage"]) == ("unclear", "fallback")


def test_fallback_keeps_a_weak_best_guess() -> None:
    intent, confidence, record = classification("филиал откроем, планируем")
    assert (intent, record["stage"]) == ("expansion_planned", "fallback")
    assert 0.3 <= confidence < 0.65


@pytest.mark.parametrize(
    "context, conversation, expected",
    [
        ({}, {}, "agreement"),
        ({"spin_phase": "problem"}, {}, "problem_revealed"),
        ({"state": "spin_implication"}, {}, "implication_acknowledged"),
        ({}, {"state": "spin_need_payoff"}, "need_expressed"),  # derived from conv.state in a chat
        ({"last_action": "offer_demo"}, {}, "demo_request"),
    ],
)
def test_short_answer_reads_the_dialogue_context(context: dict, conversation: dict, expected: str) -> None:
    intent, _confidence, record = classification("да", context, **conversation)
    assert intent == expected
    assert record["stage"] == "patterns"


def test_thresholds_come_from_the_graph_config(tmp_path: Path) -> None:
    config = copy_config(tmp_path / "config")
    graph = config / "graphs/classify_only.yaml"
    graph.write_text(graph.read_text(encoding="utf-8").replace("    type: classify.cascade\n", "    type: classify.cascade\n    config: {high_threshold: 0.99, medium_threshold: 0.98}\n", 1), encoding="utf-8")
    runtime = Runtime(config, "classify_only", trace=False, flag_overrides={"semantic_stage": False})
    intent, confidence, record = classification("сколько стоит?", runtime=runtime)
    assert intent == "price_question"
    assert record["stage"] == "fallback" and set(record["stages"]) == {"patterns", "roots", "lemmas"}
    assert confidence >= 0.95  # the pattern's 0.95, reinforced by the stages that agree


@pytest.fixture()
def semantic_runtime(tmp_path: Path) -> tuple[Runtime, FakeEmbedder]:
    """classify_only with stages [patterns, semantic] so stage 4 is reached, a fake embedder."""
    config = copy_config(tmp_path / "config")
    graph = config / "graphs/classify_only.yaml"
    graph.write_text(graph.read_text(encoding="utf-8").replace("    type: classify.cascade\n", "    type: classify.cascade\n    config: {stages: [patterns, semantic], semantic_floor: 0.2, semantic_ceiling: 0.9}\n", 1), encoding="utf-8")
    # The pretrained-embedder path (faked here), not the model trained from the examples.
    (config / "yaml_config/nlu/semantic_model.yaml").write_text("version: 1\nenabled: false\n", encoding="utf-8")
    settings = config / "yaml_config/settings.yaml"
    text = re.sub(r"\n  cache_dir: .*", "", settings.read_text(encoding="utf-8"))
    assert "\nembeddings:\n" in text
    settings.write_text(text.replace("\nembeddings:\n", f"\nembeddings:\n  cache_dir: {tmp_path / 'cache'}\n", 1), encoding="utf-8")
    runtime = Runtime(config, "classify_only", trace=False, flag_overrides={"semantic_stage": True})
    embedder = FakeEmbedder()
    runtime.graph.resources.provide("embedder", embedder)
    return runtime, embedder


def test_semantic_stage_decides_by_nearest_example(semantic_runtime: tuple[Runtime, FakeEmbedder]) -> None:
    runtime, embedder = semantic_runtime
    intent, confidence, record = classification("передаёте данные третьим лицам?", runtime=runtime)
    assert (intent, record["stage"]) == ("gdpr_request", "semantic")
    assert confidence == 0.95
    assert record["stages"]["semantic"]["model"] == "fake-trigram-embedder"
    assert record["stages"]["semantic"]["similarity"][0][0] == "gdpr_request"
    assert embedder.calls == 2  # the examples once, then the message


def test_semantic_stage_is_behind_its_flag(semantic_runtime: tuple[Runtime, FakeEmbedder]) -> None:
    runtime, embedder = semantic_runtime
    runtime.flags.set_override("semantic_stage", False)
    intent, _confidence, record = classification("передаёте данные третьим лицам?", runtime=runtime)
    assert "semantic" not in record["stages"]
    assert embedder.calls == 0
    assert intent != "gdpr_request" or record["stage"] != "semantic"


def test_semantic_examples_are_cached_on_disk(tmp_path: Path) -> None:
    examples = [("greeting", "добрый день"), ("farewell", "до свидания"), ("farewell", "всего доброго")]
    first = SemanticIndex(FakeEmbedder(), examples, "abc123", tmp_path)
    assert not first.from_cache and first.cache_file is not None and first.cache_file.exists()
    embedder = FakeEmbedder()
    second = SemanticIndex(embedder, examples, "abc123", tmp_path)
    assert second.from_cache and embedder.calls == 0
    scores = second.scores("до свидания")
    assert max(scores, key=scores.get) == "farewell" and round(scores["farewell"], 4) == 1.0
    other = SemanticIndex(FakeEmbedder(), examples, "def456", tmp_path)  # another examples hash
    assert not other.from_cache
