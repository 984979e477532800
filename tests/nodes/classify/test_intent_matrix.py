"""DIET-style intent vectors of the trained semantic model: trained jointly with the token table,
saved beside the sentence-transformers files, loaded back and used by ``classify.cascade``."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nodes.classify.intent_encoder import StaticModelEncoder
from nodes.classify.trained_model import SemanticModelSettings, load_intent_matrix, train_and_save, train_model, with_char_ngrams
from tests.nodes.classify.test_semantic_model import HELD_OUT, INTENTS, tiny_config, tiny_runtime

EXAMPLES = [
    ("price_question", "сколько стоить касса"),
    ("price_question", "какой цена программа"),
    ("price_question", "сколько стоить подписка"),
    ("greeting", "здравствуйте"),
    ("greeting", "добрый день"),
    ("greeting", "привет"),
    ("farewell", "до свидание"),
    ("farewell", "всего добрый"),
    ("farewell", "пока"),
]


def settings(cache: Path, objective: str = "intents") -> SemanticModelSettings:
    return SemanticModelSettings.model_validate(
        {
            "cache_dir": str(cache),
            "tokenizer": {"vocab_size": 500},
            "training": {"dimension": 16, "epochs": 40, "batch_size": 4, "learning_rate": 0.05, "intent_learning_rate": 0.05, "seed": 3, "threads": 1, "objective": objective},
        }
    )


def test_intent_matrix_round_trips_through_save_and_load(tmp_path: Path) -> None:
    folder, report = train_and_save(EXAMPLES, settings(tmp_path), "k1")
    assert (report.examples, report.intents) == (9, 3)
    loaded = load_intent_matrix(folder)
    assert loaded is not None
    labels, matrix = loaded
    assert labels == ["farewell", "greeting", "price_question"]
    assert matrix.shape == (3, 16)
    assert np.allclose(np.linalg.norm(matrix, axis=1), 1.0, atol=1e-5)
    # The encoder serving the folder exposes the same matrix, and every training example is
    # nearest to its own intent's vector.
    encoder = StaticModelEncoder("trained/k1", str(folder))
    served = encoder.intent_matrix
    assert served is not None and served[0] == labels and np.array_equal(served[1], matrix)
    vectors = encoder.encode([text for _intent, text in EXAMPLES])
    predicted = [labels[int(np.argmax(matrix @ vector))] for vector in vectors]
    assert predicted == [intent for intent, _text in EXAMPLES]


def test_pairs_objective_saves_no_intent_matrix(tmp_path: Path) -> None:
    folder, _report = train_and_save(EXAMPLES, settings(tmp_path, "pairs"), "k2")
    assert load_intent_matrix(folder) is None
    assert StaticModelEncoder("trained/k2", str(folder)).intent_matrix is None


def test_training_is_deterministic(tmp_path: Path) -> None:
    first, _ = train_model(EXAMPLES, settings(tmp_path))
    second, _ = train_model(EXAMPLES, settings(tmp_path))
    assert np.array_equal(first.intent_matrix, second.intent_matrix)


def test_mismatched_matrix_is_refused(tmp_path: Path) -> None:
    folder, _report = train_and_save(EXAMPLES, settings(tmp_path), "k3")
    (folder / "intent_labels.json").write_text('["greeting"]', encoding="utf-8")
    with pytest.raises(ValueError, match="3 rows for 1 intents"):
        load_intent_matrix(folder)


@pytest.mark.parametrize("scoring", ["intents", "mix"])
def test_cascade_scores_held_out_paraphrases_by_intent_vectors(tmp_path: Path, scoring: str) -> None:
    config = tiny_config(tmp_path / "config")
    path = config / "yaml_config/nlu/semantic_model.yaml"
    # The shipped recipe: both objectives, letter trigrams as extra tokens.
    text = (
        path.read_text(encoding="utf-8")
        .replace("seed: 7,", "seed: 7, objective: both,")
        .replace("{vocab_size: 2000}", "{vocab_size: 2000, char_ngrams: 3}")
        .replace("rescue: 0.3}", f"rescue: 0.3, scoring: {scoring}}}")
    )
    path.write_text(text, encoding="utf-8")
    assert "objective: both" in text and "char_ngrams: 3" in text and f"scoring: {scoring}" in text and INTENTS
    runtime = tiny_runtime(config)
    results = {message: runtime.understand(message) for message in HELD_OUT}
    assert {message: values["intent"] for message, values in results.items()} == HELD_OUT
    folders = list((config / "models").glob("intents-*"))
    assert len(folders) == 1 and (folders[0] / "intent_matrix.npy").exists()
    # The stage's similarities are the intent-vector cosines (or their mix with the examples).
    record = results["подскажите цену подписки"]["classification"]["stages"]["semantic"]
    assert record["source"] == "trained" and record["similarity"][0][0] == "price_question"


def test_letter_ngrams_are_whole_tokens_for_the_tokenizer() -> None:
    from tokenizers import pre_tokenizers

    assert with_char_ngrams("касса", 0) == "касса"
    text = with_char_ngrams("каса не_работать", 3)
    words = [word for word, _span in pre_tokenizers.Whitespace().pre_tokenize_str(text)]
    assert words[:2] == ["каса", "не_работать"]
    assert words[2:6] == ["x_ка", "xкас", "xаса", "xса_"]
    # A typo shares most of its grams with the right word.
    right = set(with_char_ngrams("касса", 3).split()[1:])
    assert len(right & set(words[2:6])) == 3


#: Deliberately weak and wrong keyword evidence, to exercise how the stage treats it.
ROOTS = """\
version: 1
intents:
  delivery_question:
    roots: {доставк: 1.0}
  farewell:
    roots: {приветству: 3.0}
"""


def gated_runtime(root: Path, calibration: str, roots: str = ROOTS, composed: str | None = None) -> Any:
    config = tiny_config(root)
    (config / "yaml_config/nlu/roots.yaml").write_text(roots, encoding="utf-8")
    if composed is not None:
        (config / "yaml_config/intents/_composed.yaml").write_text(composed, encoding="utf-8")
    graph = config / "graphs/tiny.yaml"
    graph.write_text(graph.read_text(encoding="utf-8").replace("stages: [semantic]", "stages: [roots, semantic]"), encoding="utf-8")
    path = config / "yaml_config/nlu/semantic_model.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("rescue: 0.3}", f"rescue: 0.3, {calibration}}}"), encoding="utf-8")
    return tiny_runtime(config)


def test_stage_stays_silent_where_keyword_evidence_reaches_acts_below(tmp_path: Path) -> None:
    message = "доставку сканеров делаете?"  # one root: delivery_question at ~0.54, not decisive
    silent = gated_runtime(tmp_path / "silent", "acts_below: 0.3").understand(message)
    assert (silent["intent"], silent["classification"]["stage"]) == ("delivery_question", "fallback")
    assert [row[0] for row in silent["classification"]["alternatives"]] == ["delivery_question"]
    speaking = gated_runtime(tmp_path / "speaking", "acts_below: 1.0").understand(message)
    assert speaking["intent"] == "delivery_question"
    assert speaking["classification"]["stage"] == "semantic"


def test_confident_disagreeing_model_overturns_a_roots_decision_only_when_allowed(tmp_path: Path) -> None:
    message = "приветствую, доброго утра"  # the wrong root decides farewell at ~0.87
    kept = gated_runtime(tmp_path / "kept", "overturn: 1.0").understand(message)
    assert (kept["intent"], kept["classification"]["stage"]) == ("farewell", "roots")
    assert "semantic" not in kept["classification"]["stages"]  # roots decided: stage 4 never ran
    overturned = gated_runtime(tmp_path / "overturned", "overturn: 0.5, overturn_margin: 0.2").understand(message)
    record = overturned["classification"]
    assert (overturned["intent"], record["stage"]) == ("greeting", "semantic")
    assert record["stages"]["semantic"]["overturned"] == ["farewell", "roots"]


#: Two weak keyword candidates for a price question; the stronger one is wrong.
VOTE_ROOTS = """\
version: 1
intents:
  delivery_question:
    roots: {касс: 1.0}
  price_question:
    roots: {стоя: 0.9}
"""


def test_model_seconds_a_weaker_keyword_candidate_only_with_vote(tmp_path: Path) -> None:
    message = "а сколько стоят ваши кассы?"
    outcomes = {vote: gated_runtime(tmp_path / f"vote{vote}", f"acts_below: 0.3, vote: {vote}", VOTE_ROOTS).understand(message) for vote in (0.0, 0.5)}
    silent, seconded = outcomes[0.0], outcomes[0.5]
    # Without the vote the stronger wrong root wins the fallback; the stage only looked.
    assert (silent["intent"], silent["classification"]["stage"]) == ("delivery_question", "fallback")
    assert silent["classification"]["stages"]["semantic"]["similarity"][0][0] == "price_question"
    # With it, the model's top intent — also a keyword candidate — wins; still a fallback decision.
    assert (seconded["intent"], seconded["classification"]["stage"]) == ("price_question", "fallback")
    assert [row[0] for row in seconded["classification"]["alternatives"]] == ["delivery_question", "price_question"]


NO_ROOTS = "version: 1\nintents: {}\n"


def test_model_only_votes_on_a_message_of_words_no_example_uses(tmp_path: Path) -> None:
    message = "шмяк брямс кукарямба"  # no example has any of these words: the model reads subword noise
    unguarded = gated_runtime(tmp_path / "unguarded", "rescue: -1.0, min_known: 0.0", NO_ROOTS).understand(message)
    assert unguarded["classification"]["stage"] == "semantic" and unguarded["intent"] != "unclear"
    guarded = gated_runtime(tmp_path / "guarded", "rescue: -1.0, min_known: 0.5", NO_ROOTS).understand(message)
    record = guarded["classification"]
    assert (guarded["intent"], record["stage"]) == ("unclear", "fallback")
    assert record["stages"]["semantic"]["guard"] == "known words 0/3 < 0.5"
    # One unknown word among known ones is no reason to stop listening.
    known = gated_runtime(tmp_path / "known", "rescue: -1.0, min_known: 0.5", NO_ROOTS).understand("сколько стоит шмяк")
    assert known["intent"] == "price_question" and "guard" not in known["classification"]["stages"]["semantic"]


#: A wrong, stronger root reads «касс» as a statement intent (farewell); the right one is weaker.
MOOD_ROOTS = """\
version: 1
intents:
  farewell:
    roots: {касс: 1.0}
  price_question:
    roots: {стои: 0.9, стоя: 0.9}
"""


def test_a_question_intent_is_not_seconded_for_a_message_that_asks_nothing(tmp_path: Path) -> None:
    # The tiny taxonomy has one base category; the questions among its intents, composed.
    composed = "version: 1\ncomposed:\n  asks:\n    include_prefixes: [price_, delivery_]\n"
    messages = ("касса стоит дорого", "а как дорого стоит касса", "касса стоит дорого?")
    outcomes = {}
    for guard in ("", "question_category: asks, "):
        runtime = gated_runtime(tmp_path / f"guard{bool(guard)}", f"acts_below: 0.3, vote: 0.5, {guard}question_markers: [сколько, как]", MOOD_ROOTS, composed)
        outcomes[guard] = {message: runtime.understand(message) for message in messages}
    # Unguarded, the model seconds price_question for the statement as for the questions.
    assert {message: values["intent"] for message, values in outcomes[""].items()} == dict.fromkeys(outcomes[""], "price_question")
    guarded = outcomes["question_category: asks, "]
    statement = guarded["касса стоит дорого"]["classification"]
    assert (statement["stage"], guarded["касса стоит дорого"]["intent"]) == ("fallback", "farewell")
    assert statement["stages"]["semantic"]["guard"].startswith("the keyword stages read a statement (farewell)")
    # A question word or «?» makes it a question again: the vote stands.
    for message in ("а как дорого стоит касса", "касса стоит дорого?"):
        assert guarded[message]["intent"] == "price_question"
        assert "guard" not in guarded[message]["classification"]["stages"]["semantic"]


def test_unknown_question_category_is_a_load_error(tmp_path: Path) -> None:
    from engine.config import ConfigBundle

    config = tiny_config(tmp_path / "config")
    path = config / "yaml_config/nlu/semantic_model.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("rescue: 0.3}", "rescue: 0.3, question_category: all_questons}"), encoding="utf-8")
    bundle = ConfigBundle(config)
    bundle.section("semantic_model")
    problems = [str(issue) for issue in bundle.issues if "question_category" in str(issue)]
    assert len(problems) == 1
    assert "semantic_model.yaml" in problems[0] and "unknown intent category 'all_questons'" in problems[0]
