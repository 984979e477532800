"""The knowledge base loader: every problem reported with file:line, valid data loaded in order."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.config import ConfigBundle
from engine.errors import ConfigError
from tests.nodes.answers_support import copy_shipped, write

TARIFFS = """
version: 1
topic: tariffs
sections:
  - id: tariffs.mini
    title: Тариф Mini
    keywords: [mini, мини, 5000]
    questions: [сколько стоит тариф mini]
    answer: Mini стоит 5 000 ₸ в месяц.
    facts: {mini_kzt_per_month: 5000}
    priority: 7
  - id: tariffs.lite
    title: Тариф Lite
    keywords: [lite, лайт]
    questions: [что входит в lite]
    answer: Lite стоит 150 000 ₸ в год.
"""


def knowledge_root(tmp_path: Path, files: dict[str, str]) -> Path:
    root = copy_shipped(tmp_path / "config")
    for path in (root / "yaml_config" / "knowledge").glob("*.yaml"):
        if not path.name.startswith("_retrieval"):
            path.unlink()
    for name, text in files.items():
        write(root, f"yaml_config/knowledge/{name}", text)
    return root


def knowledge_issues(root: Path) -> tuple[object, list[str]]:
    bundle = ConfigBundle(root)
    kb = bundle.section("knowledge")
    bundle.section("knowledge_retrieval")
    return kb, [issue.render() for issue in bundle.issues if issue.file.startswith("yaml_config/knowledge")]


def test_valid_files_load_every_section_in_file_order(tmp_path: Path) -> None:
    kb, issues = knowledge_issues(knowledge_root(tmp_path, {"tariffs.yaml": TARIFFS}))
    assert issues == []
    assert kb.ids() == ["tariffs.mini", "tariffs.lite"]
    assert kb.get("tariffs.mini").facts == {"mini_kzt_per_month": 5000}
    assert kb.topics["tariffs.lite"] == "tariffs"
    assert kb.origins["tariffs.lite"] == "yaml_config/knowledge/tariffs.yaml:11"


def test_a_duplicate_id_names_the_first_definition(tmp_path: Path) -> None:
    duplicate = """
    version: 1
    topic: other
    sections:
      - id: tariffs.mini
        title: Ещё раз Mini
        keywords: [mini]
        answer: Дубликат.
    """
    _kb, issues = knowledge_issues(knowledge_root(tmp_path, {"tariffs.yaml": TARIFFS, "zz_other.yaml": duplicate}))
    assert issues == ["yaml_config/knowledge/zz_other.yaml:4: sections[0].id: duplicate section id 'tariffs.mini' "
                      "(first defined at yaml_config/knowledge/tariffs.yaml:4). Give every section a unique id."]


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ("  - {id: a.b, title: T, keywords: [x], answer: '   '}", "yaml_config/knowledge/bad.yaml:4: sections[0].answer: empty answer. Write the answer the bot should give."),
        ("  - {id: a.b, title: T, answer: Ответ.}", "yaml_config/knowledge/bad.yaml:4: sections[0]: section 'a.b' has neither keywords nor questions, so no question can reach it. Add keywords or example questions."),
        ("  - {id: A-B, title: T, keywords: [x], answer: Ответ.}", "yaml_config/knowledge/bad.yaml:4: sections[0].id: section id 'A-B' must be lowercase words joined by dots, like 'tariffs.mini'. Correct the value."),
        ("  - {id: a.b, title: T, keywords: [x], answer: Ответ., priority: 11}", "yaml_config/knowledge/bad.yaml:4: sections[0].priority: Input should be less than or equal to 10. Use a value inside the allowed range."),
        ("  - {id: a.b, title: T, keywords: [x], answer: Ответ., tags: [y]}", "yaml_config/knowledge/bad.yaml:4: sections[0].tags: unknown key. Remove it or check its spelling."),
    ],
)
def test_each_section_problem_has_its_message(tmp_path: Path, section: str, expected: str) -> None:
    text = "version: 1\ntopic: bad\nsections:\n" + section + "\n"
    _kb, issues = knowledge_issues(knowledge_root(tmp_path, {"bad.yaml": text}))
    assert issues == [expected]


def test_numbers_in_keywords_are_words_not_errors(tmp_path: Path) -> None:
    text = "version: 1\nsections:\n  - {id: taxes.form_910, title: Форма 910, keywords: [910, 913.5], answer: Формируем.}\n"
    kb, issues = knowledge_issues(knowledge_root(tmp_path, {"taxes.yaml": text}))
    assert issues == []
    assert kb.get("taxes.form_910").keywords == ["910", "913.5"]


def test_company_facts_and_placeholders_are_checked(tmp_path: Path) -> None:
    company = """
    version: 1
    company_facts:
      - {id: company.since, text: "Wipon работает с 2014 года."}
      - {id: company.since, text: "Дубль."}
      - Строка без id тоже годится.
    """
    placeholders = """
    version: 1
    placeholders:
      - {key: mini_price, value: 5 000 ₸, used_in: [tariffs.mini, company.since]}
      - {key: ghost, value: x, used_in: [tariffs.minni]}
    """
    kb, issues = knowledge_issues(knowledge_root(tmp_path, {"tariffs.yaml": TARIFFS, "_company.yaml": company, "_placeholders.yaml": placeholders}))
    assert [fact.id for fact in kb.company_facts] == ["company.since", "fact_3"]
    assert sorted(kb.placeholders) == ["ghost", "mini_price"]
    assert issues == [
        "yaml_config/knowledge/_company.yaml:4: company_facts[1].id: duplicate company fact id 'company.since'. Give every fact a unique id.",
        "yaml_config/knowledge/_placeholders.yaml:4: placeholders[1].used_in[0]: unknown section 'tariffs.minni'. Did you mean 'tariffs.mini'?",
    ]


def test_retrieval_settings_are_validated_with_lines(tmp_path: Path) -> None:
    root = knowledge_root(tmp_path, {"tariffs.yaml": TARIFFS})
    write(root, "yaml_config/knowledge/_retrieval.yaml", """
    version: 1
    stages:
      lemma: {threshold: 1.5}
      semantic: {threshold: 0.5, fields: [title, body]}
    synonyms: {мини: мини}
    """)
    _kb, issues = knowledge_issues(root)
    assert issues == [
        "yaml_config/knowledge/_retrieval.yaml:3: stages.lemma.threshold: Input should be less than or equal to 1. Use a value inside the allowed range.",
        "yaml_config/knowledge/_retrieval.yaml:4: stages.semantic: unknown fields ['body']; use title, questions, keywords or answer. Correct the value.",
    ]


def test_the_shipped_knowledge_base_validates_and_has_the_main_topics() -> None:
    bundle = ConfigBundle()
    kb = bundle.section("knowledge")
    bundle.section("knowledge_retrieval")
    problems = [issue for issue in bundle.issues if issue.file.startswith("yaml_config/knowledge")]
    if problems:
        raise ConfigError(problems)
    topics = set(kb.topics.values())
    assert {"products", "tariffs", "equipment", "integrations", "fiscal", "taxes", "tis"} <= topics
    assert len(kb) >= 100
    assert len(kb.company_facts) >= 3
