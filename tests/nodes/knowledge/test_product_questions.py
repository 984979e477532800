"""Thirty product questions asked in chat (the full turn graph): grounded answers, named in the trace."""
from __future__ import annotations

import json

import pytest

from engine.runtime import Runtime
from nodes.respond.variations import split_sentences

#: (question as a client would type it, acceptable sections). Our own wording, not evaluation data.
QUESTIONS = [
    ("Сколько стоит тариф Стандарт?", {"tariffs.standard"}),
    ("Что такое ТИС и зачем она нужна?", {"tis.overview"}),
    ("Вы работаете с терминалами Каспи?", {"integrations.kaspi_pos"}),
    ("Можно купить оборудование в рассрочку?", {"billing.installment_equipment"}),
    ("Где находится ваш офис в Алматы?", {"regions.offices"}),
    ("Касса будет работать если пропадёт интернет?", {"reliability.offline"}),
    ("Как вы храните данные, есть резервные копии?", {"reliability.data_safety"}),
    ("У вас есть мобильное приложение?", {"mobile.app"}),
    ("Сколько стоит ОФД в месяц?", {"fiscal.ofd_price"}),
    ("Как закрыть смену и снять Z-отчёт?", {"fiscal.z_report"}),
    ("Есть интеграция с 1С?", {"integrations.onec"}),
    ("Чем вы лучше чем iiko?", {"competitors.iiko_rkeeper"}),
    ("Можно ли выписывать ЭСФ из программы?", {"accounting.esf"}),
    ("Что входит в комплект PRO?", {"equipment.kit_pro"}),
    ("Сколько стоит моноблок POS DUO?", {"equipment.pos_duo"}),
    ("Есть ли пробный период?", {"onboarding.trial"}),
    ("Как перенести товары из Excel?", {"onboarding.migration"}),
    ("Во сколько работает техподдержка?", {"support.hours"}),
    ("Какие ставки розничного налога?", {"taxes.retail_tax_rates"}),
    ("Можно проводить ревизию не закрывая магазин?", {"inventory.revision"}),
    ("Как настроить права доступа для кассира?", {"employees.roles"}),
    ("Работает ли Wipon с маркировкой DataMatrix?", {"marking.overview"}),
    ("Какая гарантия на оборудование?", {"equipment.warranty"}),
    ("Можно печатать ценники из программы?", {"inventory.labels"}),
    ("Есть программа лояльности с бонусами для покупателей?", {"promo.cashback"}),
    ("Что будет если не продлить лицензию?", {"billing.expiry"}),
    ("Кому подходит ТИС, для ТОО можно?", {"tis.eligibility"}),
    ("Сколько стоит дополнительная точка?", {"tariffs.extra_outlet"}),
    ("Программа работает на Маке?", {"mobile.platforms"}),
    ("Чем отличается Lite от Standard?", {"tariffs.comparison"}),
]


@pytest.fixture(scope="module")
def asked(tmp_path_factory: pytest.TempPathFactory) -> tuple[list, list[dict], object]:
    root = tmp_path_factory.mktemp("product-questions")
    runtime = Runtime(None, "turn", trace=True, trace_db=root / "trace.duckdb", sessions_dir=root / "sessions", flag_overrides={"llm_generation": False})
    results = [runtime.turn(f"product-q-{index:02d}", question) for index, (question, _expected) in enumerate(QUESTIONS)]
    runtime.store.flush()
    traced = [{run["node_id"]: run for run in runtime.store.node_runs(f"product-q-{index:02d}", 1)} for index in range(len(QUESTIONS))]
    kb = runtime.bundle.section("knowledge")
    yield results, traced, kb
    runtime.close()


def test_thirty_distinct_questions() -> None:
    assert len(QUESTIONS) == 30 and len({question for question, _ in QUESTIONS}) == 30


@pytest.mark.parametrize("index", range(len(QUESTIONS)), ids=[question for question, _ in QUESTIONS])
def test_each_question_gets_the_answer_of_the_right_section(asked: tuple, index: int) -> None:
    results, traced, kb = asked
    question, expected = QUESTIONS[index]
    result = results[index]
    knowledge = result.values["knowledge"]
    assert knowledge["section_id"] in expected, (question, knowledge["candidates"])
    section = kb.get(knowledge["section_id"])
    # Grounded: the reply carries the section's own answer, word for word, and says which one.
    assert split_sentences(section.answer)[0] in result.response
    assert result.values["reply_plan"]["kb_section"] == section.id
    assert f"kb:{section.id}" in result.values["template_id"]
    # Named in the trace: the knowledge node's recorded output and the responder's template id.
    recorded = json.loads(traced[index]["knowledge"]["outputs"])["knowledge"]
    assert recorded["section_id"] == section.id and recorded["stage"] in ("exact", "lemma", "semantic", "best")
    assert f"kb:{section.id}" in json.loads(traced[index]["respond"]["outputs"])["template_id"]


def test_answers_are_russian_and_no_fallback_was_needed(asked: tuple) -> None:
    results, _traced, _kb = asked
    for result in results:
        letters = [ch for ch in result.response.lower() if ch.isalpha()]
        cyrillic = [ch for ch in letters if "а" <= ch <= "я" or ch == "ё"]
        assert len(cyrillic) / len(letters) > 0.7, result.response
        assert not result.values.get("fallback", {}).get("triggered"), result.values.get("fallback")
