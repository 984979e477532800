"""The semantic stage's own model: trained from a config dir's intent examples with
sentence-transformers, cached by a key of examples + settings, served through ``classify.cascade``;
without it the pretrained embedder serves and the record says why."""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from sentence_transformers import SentenceTransformer

from engine.config import ConfigBundle
from engine.errors import ConfigError
from engine.executor import Executor
from engine.graph import compile_graph
from engine.resources import Resources
from engine.state import ConversationState
from nodes.classify.intent_encoder import trained_model_status
from nodes.classify.trained_model import model_key, training_examples
from tests.nodes.nlu_support import SHIPPED, FakeEmbedder

INTENTS = """\
version: 1
category: tiny
description: A few intents for training tests.
intents:
  price_question:
    description: Client asks what it costs.
    examples:
      - сколько стоит касса
      - какая цена программы
      - сколько стоит подписка в месяц
      - какая стоимость тарифа
      - цена за год какая
      - сколько платить за программу
  delivery_question:
    description: Client asks about delivery of equipment.
    examples:
      - есть доставка оборудования
      - как быстро доставите сканер
      - доставка в астану есть
      - привезете кассу в офис
      - сколько дней идет доставка
      - доставляете ли по казахстану
  greeting:
    description: Client says hello.
    examples:
      - здравствуйте
      - добрый день
      - привет
      - доброе утро
      - приветствую вас
      - добрый вечер
  farewell:
    description: Client says goodbye.
    examples:
      - до свидания
      - всего доброго
      - пока
      - до встречи
      - хорошего дня
      - всего хорошего, до связи
"""

#: Paraphrases that are not examples (other word forms and word order) → expected intent.
HELD_OUT = {
    "а сколько стоят ваши кассы?": "price_question",
    "подскажите цену подписки": "price_question",
    "доставку сканеров делаете?": "delivery_question",
    "приветствую, доброго утра": "greeting",
    "до свидания, хорошего вечера": "farewell",
}

GRAPH = """\
version: 1
name: tiny
nodes:
  normalize:
    type: normalize.text
  classify:
    type: classify.cascade
    after: [normalize]
    config: {stages: [semantic]}
"""


def model_settings(cache: Path, *, train_on_first_use: bool = True, epochs: int = 60) -> str:
    return (
        f"version: 1\nenabled: true\ncache_dir: {cache}\ntrain_on_first_use: {str(train_on_first_use).lower()}\n"
        "tokenizer: {vocab_size: 2000}\n"
        f"training: {{dimension: 64, epochs: {epochs}, batch_size: 4, learning_rate: 0.02, seed: 7, threads: 1}}\n"
        "calibration: {floor: 0.2, ceiling: 0.9, rescue: 0.3}\n"
    )


def tiny_config(root: Path, *, train_on_first_use: bool = True) -> Path:
    (root / "graphs").mkdir(parents=True)
    (root / "yaml_config/intents").mkdir(parents=True)
    (root / "yaml_config/nlu").mkdir(parents=True)
    shutil.copy(SHIPPED / "yaml_config/settings.yaml", root / "yaml_config/settings.yaml")
    (root / "graphs/tiny.yaml").write_text(GRAPH, encoding="utf-8")
    (root / "yaml_config/intents/tiny.yaml").write_text(INTENTS, encoding="utf-8")
    (root / "yaml_config/nlu/semantic_model.yaml").write_text(model_settings(root / "models", train_on_first_use=train_on_first_use), encoding="utf-8")
    return root


class TinyGraph:
    """The tiny graph compiled and run by the executor. (``Runtime`` would refuse this config dir:
    it lacks the dialogue, knowledge and pattern files a full config must have.)"""

    def __init__(self, config: Path) -> None:
        bundle = ConfigBundle(config)
        compiled, issues = compile_graph(bundle, bundle.file("graphs/tiny.yaml"))
        assert compiled is not None and issues == []
        self.graph = compiled
        self.resources = compiled.resources
        self.resources.settings = bundle.settings.model_copy(update={"embeddings": bundle.settings.embeddings.model_copy(update={"cache_dir": str(config / "embeddings")})})
        self.flags = {**bundle.flags().snapshot(), "semantic_stage": True}
        self.executor = Executor(compiled, [])

    def understand(self, message: str) -> dict[str, Any]:
        state = ConversationState(conversation_id="test-semantic-model", flow="spin_selling")
        return self.executor.run_turn(state, message, flags=self.flags).values


def tiny_runtime(config: Path) -> TinyGraph:
    return TinyGraph(config)


def test_trained_model_classifies_held_out_paraphrases_through_the_cascade(tmp_path: Path) -> None:
    config = tiny_config(tmp_path / "config")
    runtime = tiny_runtime(config)
    results = {message: runtime.understand(message) for message in HELD_OUT}
    predicted = {message: values["intent"] for message, values in results.items()}
    assert predicted == HELD_OUT
    record = results["подскажите цену подписки"]["classification"]["stages"]["semantic"]
    assert record["source"] == "trained"
    assert record["model"].startswith("trained/intents-")
    assert "trained on first use" in record["reason"]
    # Only stage 4 runs in this graph: it decides, or its nearest intent is the fallback's best.
    assert all(set(values["classification"]["stages"]) == {"semantic"} for values in results.values())
    assert {values["classification"]["stage"] for values in results.values()} <= {"semantic", "fallback"}

    # What was saved is a plain sentence-transformers model: it loads and encodes on its own.
    folders = list((config / "models").glob("intents-*"))
    assert len(folders) == 1 and (folders[0] / "modules.json").exists()
    vectors = SentenceTransformer(str(folders[0]), device="cpu").encode(["сколько стоить касса", "привет"])
    assert vectors.shape == (2, 64)
    report = json.loads((folders[0] / "spinflow_training.json").read_text(encoding="utf-8"))
    assert (report["examples"], report["intents"]) == (24, 4)

    # A second runtime on the same config finds the cached model instead of training again.
    again = tiny_runtime(config)
    record = again.understand("подскажите цену подписки")["classification"]["stages"]["semantic"]
    assert record["reason"].endswith("(cached)")


def test_model_key_follows_examples_and_settings(tmp_path: Path) -> None:
    config = tiny_config(tmp_path / "config")

    def key() -> str:
        bundle = ConfigBundle(config)
        resources = Resources(bundle)
        morph = resources.get("morph")
        scorer = bundle.section("lemmas")
        examples = training_examples(bundle, lambda text: " ".join(scorer.lemmatize(text, morph.lemma)))
        return model_key(examples, bundle.section("semantic_model"))

    first = key()
    assert key() == first  # deterministic
    path = config / "yaml_config/intents/tiny.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("      - пока\n", "      - пока-пока\n"), encoding="utf-8")
    edited = key()
    assert edited != first
    settings = config / "yaml_config/nlu/semantic_model.yaml"
    settings.write_text(model_settings(config / "models", epochs=61), encoding="utf-8")
    assert key() not in {first, edited}


def test_missing_model_falls_back_to_the_pretrained_embedder_and_says_why(tmp_path: Path) -> None:
    config = tiny_config(tmp_path / "config", train_on_first_use=False)
    runtime = tiny_runtime(config)
    embedder = FakeEmbedder()
    runtime.resources.provide("embedder", embedder)
    values = runtime.understand("сколько стоит касса")
    record = values["classification"]["stages"]["semantic"]
    assert (record["source"], record["model"]) == ("pretrained", "fake-trigram-embedder")
    assert "run `spinflow train`" in record["reason"]
    assert values["intent"] == "price_question"  # the exact example, through the fake embedder
    assert embedder.calls == 2
    assert not (config / "models").exists()
    folder, reason = trained_model_status(runtime.resources, train=False)
    assert folder is None and "is missing" in reason


def test_disabled_model_setting_is_the_stated_reason(tmp_path: Path) -> None:
    config = tiny_config(tmp_path / "config")
    (config / "yaml_config/nlu/semantic_model.yaml").write_text("version: 1\nenabled: false\n", encoding="utf-8")
    runtime = tiny_runtime(config)
    runtime.resources.provide("embedder", FakeEmbedder())
    record = runtime.understand("привет")["classification"]["stages"]["semantic"]
    assert record["source"] == "pretrained"
    assert record["reason"].startswith("semantic_model.enabled is false")


def test_calibration_floor_must_be_below_ceiling(tmp_path: Path) -> None:
    config = tiny_config(tmp_path / "config")
    path = config / "yaml_config/nlu/semantic_model.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("floor: 0.2", "floor: 0.95"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"semantic_model\.yaml:\d+: calibration: floor must be below ceiling"):
        ConfigBundle(config).raise_if_invalid()


def test_train_command_builds_once_then_finds_the_cached_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from engine.cli.main import main
    from tests.nodes.nlu_support import copy_config

    config = copy_config(tmp_path / "config")
    (config / "yaml_config/nlu/semantic_model.yaml").write_text(model_settings(tmp_path / "models", epochs=1), encoding="utf-8")
    assert main(["train", "--config-dir", str(config), "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert "trained on first use" in first["status"]
    assert first["training"]["intents"] == len({intent for intent, _text in ConfigBundle(config).section("intents").examples()})
    assert Path(first["folder"], "modules.json").exists() and first["size_bytes"] > 0
    assert main(["train", "--config-dir", str(config), "--json"]) == 0
    second = json.loads(capsys.readouterr().out)
    assert (second["folder"], second["status"].endswith("(cached)")) == (first["folder"], True)
