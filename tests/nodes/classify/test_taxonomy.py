"""Taxonomy loader (section ``intents``) and the intent-reference check: one bad fixture per message."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.config import ConfigBundle
from engine.errors import ConfigError
from nodes.classify.taxonomy import MIN_EXAMPLES, UNCLEAR, check_intent_references
from tests.nodes.nlu_support import SHIPPED, copy_config

EXAMPLES = "\n".join(f"      - пример номер {i}" for i in range(MIN_EXAMPLES))

BASE_FILES = {
    "yaml_config/settings.yaml": "version: 1\nfeature_flags: {semantic_stage: false}\n",
    "yaml_config/intents/positive.yaml": f"version: 1\ncategory: positive\nintents:\n  agreement:\n    examples:\n{EXAMPLES}\n  demo_request:\n    examples:\n{EXAMPLES}\n",
    "yaml_config/intents/objection.yaml": f"version: 1\ncategory: objection\nintents:\n  objection_price:\n    examples:\n{EXAMPLES}\n",
    "yaml_config/intents/question.yaml": f"version: 1\ncategory: question\nintents:\n  price_question:\n    examples:\n{EXAMPLES}\n  question_features:\n    also_in: [positive]\n    examples:\n{EXAMPLES}\n",
    "yaml_config/intents/_composed.yaml": "version: 1\ncomposed:\n  all_questions:\n    include_prefixes: [question_]\n    include_intents: [price_question]\n    exclude_categories: [positive]\n  negative:\n    include_categories: [objection]\n",
}


def make_config(tmp_path: Path, overrides: dict[str, str] | None = None) -> ConfigBundle:
    """A small config dir holding only taxonomy-related files (plus overrides)."""
    files = dict(BASE_FILES)
    files.update(overrides or {})
    for relative, text in files.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    (tmp_path / "graphs").mkdir(exist_ok=True)
    return ConfigBundle(tmp_path)


def load_or_raise(bundle: ConfigBundle) -> object:
    """Load the taxonomy and run the reference check; raise ConfigError on any problem."""
    taxonomy = bundle.section("intents")
    issues = [issue for issue in bundle.issues if not issue.file.startswith("graphs")] + list(check_intent_references(bundle))
    if issues:
        raise ConfigError(issues)
    return taxonomy


def test_categories_also_in_and_composed(tmp_path: Path) -> None:
    taxonomy = load_or_raise(make_config(tmp_path))
    assert taxonomy.names == ["agreement", "demo_request", "objection_price", "price_question", "question_features", UNCLEAR]
    assert taxonomy.category_of("question_features") == "question"
    assert taxonomy.in_category("question_features", "positive")  # via also_in
    assert not taxonomy.in_category("price_question", "positive")
    # include_prefixes question_ + include_intents price_question − exclude_categories positive
    assert taxonomy.categories["all_questions"] == frozenset({"price_question"})
    assert taxonomy.categories["negative"] == frozenset({"objection_price"})
    assert taxonomy.composed_categories == frozenset({"all_questions", "negative"})
    assert taxonomy.category_of("nonexistent") is None
    assert len(taxonomy.examples()) == 5 * MIN_EXAMPLES


def test_unclear_is_always_present(tmp_path: Path) -> None:
    taxonomy = load_or_raise(make_config(tmp_path))
    assert UNCLEAR in taxonomy.intents
    assert taxonomy.category_of(UNCLEAR) == "meta"


def test_examples_hash_changes_with_examples(tmp_path: Path) -> None:
    first = load_or_raise(make_config(tmp_path / "a")).examples_hash
    changed = dict(BASE_FILES)
    changed["yaml_config/intents/objection.yaml"] = BASE_FILES["yaml_config/intents/objection.yaml"] + "      - дороговато будет\n"
    second = load_or_raise(make_config(tmp_path / "b", changed)).examples_hash
    assert first != second and len(first) == 16


@pytest.mark.parametrize(
    "overrides, expected",
    [
        (
            {"yaml_config/intents/sales.yaml": f"version: 1\ncategory: sales\nintents:\n  agreement:\n    examples:\n{EXAMPLES}\n"},
            r"yaml_config/intents/sales\.yaml:4: intents\.agreement: intent 'agreement' is already defined in yaml_config/intents/positive\.yaml:4\. Keep one definition",
        ),
        (
            {"yaml_config/intents/other.yaml": f"version: 1\ncategory: other\nintents:\n  small_talk:\n    also_in: [positivee]\n    examples:\n{EXAMPLES}\n"},
            r"yaml_config/intents/other\.yaml:5: intents\.small_talk\.also_in\[0\]: unknown category 'positivee'\. Did you mean 'positive'\?",
        ),
        (
            {"yaml_config/intents/_composed.yaml": "version: 1\ncomposed:\n  negative:\n    include_categories: [objections]\n"},
            r"yaml_config/intents/_composed\.yaml:4: composed\.negative\.include_categories\[0\]: unknown category 'objections'\. Did you mean 'objection'\?",
        ),
        (
            {"yaml_config/intents/_composed.yaml": "version: 1\ncomposed:\n  negative:\n    exclude_intents: [objection_prise]\n"},
            r"yaml_config/intents/_composed\.yaml:4: composed\.negative\.exclude_intents\[0\]: unknown intent 'objection_prise'\. Did you mean 'objection_price'\?",
        ),
        (
            {"yaml_config/intents/other.yaml": "version: 1\ncategory: other\nintents:\n  small_talk:\n    examples: [как дела, погода]\n"},
            r"yaml_config/intents/other\.yaml:5: intents\.small_talk\.examples: intent 'small_talk' has 2 example\(s\), at least 5 are needed\. Add natural client phrasings",
        ),
        (
            {"yaml_config/intents/other.yaml": f"version: 1\ncategory: other\nintents:\n  SmallTalk:\n    examples:\n{EXAMPLES}\n"},
            r"yaml_config/intents/other\.yaml:4: intents\.SmallTalk: intent name 'SmallTalk' is not snake_case",
        ),
        (
            {"yaml_config/intents/other.yaml": f"version: 1\ncategory: other\nintents:\n  small_talk:\n    exemples:\n{EXAMPLES}\n"},
            r"yaml_config/intents/other\.yaml:5: intents\.small_talk\.exemples: unknown key\. Remove it or check its spelling",
        ),
        (
            {"yaml_config/nlu/patterns.yaml": "version: 1\npatterns:\n  - {intent: agreemant, pattern: '^да$'}\n"},
            r"yaml_config/nlu/patterns\.yaml:3: patterns\[0\]\.intent: unknown intent 'agreemant'\. Did you mean 'agreement'\?",
        ),
        (
            {"yaml_config/nlu/roots.yaml": "version: 1\nintents:\n  price_questoin:\n    roots: [стоим]\n"},
            r"yaml_config/nlu/roots\.yaml:3: intents\.price_questoin: unknown intent 'price_questoin'\. Did you mean 'price_question'\?",
        ),
        (
            {"yaml_config/nlu/lemmas.yaml": "version: 1\nintents:\n  demo_reqest:\n    lemmas: [демо]\n"},
            r"yaml_config/nlu/lemmas\.yaml:3: intents\.demo_reqest: unknown intent 'demo_reqest'\. Did you mean 'demo_request'\?",
        ),
    ],
    ids=["duplicate", "also_in", "composed_category", "composed_intent", "few_examples", "snake_case", "unknown_key", "patterns_ref", "roots_ref", "lemmas_ref"]  # unknown intents in flows: tests/nodes/fsm/test_flow_config.py,
)
def test_bad_config_messages(tmp_path: Path, overrides: dict[str, str], expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        load_or_raise(make_config(tmp_path, overrides))


def test_shipped_taxonomy_reference_check_is_clean_and_wired_into_validate(tmp_path: Path) -> None:
    """The whole shipped config validates; a misspelt intent in a pattern file fails validate."""
    config = copy_config(tmp_path / "config")
    assert not [issue for issue in ConfigBundle(config).validate() if "unknown intent" in issue.problem]
    (config / "yaml_config/nlu/patterns_zz_test.yaml").write_text("version: 1\npatterns:\n  - {intent: price_questoin, pattern: 'почем'}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"patterns_zz_test\.yaml:3: patterns\[0\]\.intent: unknown intent 'price_questoin'\. Did you mean 'price_question'\?"):
        ConfigBundle(config).raise_if_invalid()


def test_shipped_taxonomy_shape() -> None:
    taxonomy = ConfigBundle(SHIPPED).section("intents")
    assert len(taxonomy.base_categories) == 34
    assert {"negative", "blocking", "all_questions"} <= taxonomy.composed_categories
    assert taxonomy.in_category("objection_price", "negative")
    assert taxonomy.in_category("question_offline", "technical_question")  # membership-only category
    assert all(len(spec.examples) >= MIN_EXAMPLES for name, spec in taxonomy.intents.items() if name != UNCLEAR or spec.examples)
