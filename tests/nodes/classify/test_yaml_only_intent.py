"""A designer adds an intent (examples) and a pattern in YAML only; it becomes classifiable."""
from __future__ import annotations

from pathlib import Path

from engine.config import ConfigBundle
from engine.runtime import Runtime
from tests.nodes.nlu_support import classify_runtime, copy_config, understand

INTENT_FILE = """\
# Extra services a shop may ask for.
version: 1
category: extra_services
description: Client asks about services around the purchase itself.
intents:
  request_gift_wrapping:
    description: Client asks whether purchases can be gift-wrapped.
    examples:
      - можно завернуть покупку в подарок
      - делаете подарочную упаковку?
      - упакуйте как подарок, пожалуйста
      - есть ли у вас праздничная упаковка
      - хочу красиво упаковать подарок
      - подарочную обёртку можно заказать?
"""

PATTERN_FILE = """\
version: 1
patterns:
  - {intent: request_gift_wrapping, pattern: '\\bподарочн\\w* (упаковк|обертк)', confidence: 0.93}
"""


def test_new_intent_from_yaml_only(tmp_path: Path) -> None:
    config = copy_config(tmp_path / "config")
    (config / "yaml_config/intents/extra_services.yaml").write_text(INTENT_FILE, encoding="utf-8")
    (config / "yaml_config/nlu/patterns_extra_services.yaml").write_text(PATTERN_FILE, encoding="utf-8")
    assert ConfigBundle(config).validate() == []
    runtime = Runtime(config, "classify_only", trace=False, flag_overrides={"semantic_stage": False})

    by_pattern = understand(runtime, "А подарочная упаковка у вас есть?")
    assert by_pattern.values["intent"] == "request_gift_wrapping"
    assert by_pattern.values["classification"]["stage"] == "patterns"

    # No pattern matches this wording: the nearest example (by lemmas) finds the new intent.
    by_example = understand(runtime, "завернёте покупку в подарок?")
    assert by_example.values["intent"] == "request_gift_wrapping"
    assert by_example.values["classification"]["stage"] == "lemmas"
    assert by_example.values["classification"]["stages"]["lemmas"]["examples"][0][2] == "можно завернуть покупку в подарок"

    taxonomy = runtime.bundle.section("intents")
    assert taxonomy.category_of("request_gift_wrapping") == "extra_services"


def test_shipped_config_does_not_know_the_new_intent() -> None:
    result = understand(classify_runtime(), "А подарочная упаковка у вас есть?")
    assert result.values["intent"] != "request_gift_wrapping"
