"""extract.data: phones in every spelling, numbers in words, ₸ amounts, business facts, merging."""
from __future__ import annotations

import pytest

from engine.config import ConfigBundle
from nodes.classify.morphology import Morphology
from nodes.extract.data import Extractor
from nodes.normalize.text import Normalizer
from tests.nodes.nlu_support import SHIPPED, classify_runtime, understand


@pytest.fixture(scope="module")
def extract():
    bundle = ConfigBundle(SHIPPED)
    normalizer = Normalizer(bundle.section("normalization"), Morphology())
    extractor = Extractor(bundle.section("extract"))
    return lambda message: extractor.extract(normalizer(message)[0])


@pytest.mark.parametrize(
    "message",
    [
        "мой номер +7 707 123 45 67",
        "звоните 8(707)1234567",
        "87071234567",
        "8-707-123-45-67",
        "+7 (707) 123-45-67",
        "+77071234567",
        "7071234567",
        "8 707 123 4567",
        "тел. 8.707.123.45.67 Айгуль",
    ],
)
def test_kazakhstan_phones_in_all_spellings(extract, message: str) -> None:
    found = extract(message)
    assert found["phone"] == "+77071234567"
    assert found["contact_info"] == "+77071234567"
    assert "financial_impact_kzt" not in found and "company_size" not in found


def test_foreign_or_short_numbers_are_not_phones(extract) -> None:
    assert "phone" not in extract("+1 415 555 01 23")
    assert "phone" not in extract("артикул 1234567")


def test_email(extract) -> None:
    found = extract("пишите на Ivan.Petrov@Mail.kz или позвоните")
    assert found["email"] == "ivan.petrov@mail.kz"
    assert found["contact_info"] == "ivan.petrov@mail.kz"


@pytest.mark.parametrize(
    "message, field, value",
    [
        ("у нас пятнадцать человек", "company_size", 15),
        ("нас 10 человек, теряем клиентов", "company_size", 10),
        ("команда из 5", "company_size", 5),
        ("работают три кассира", "company_size", 3),
        ("двадцать пять сотрудников", "company_size", 25),
        ("у нас два магазина", "points_count", 2),
        ("сеть из двадцати пяти аптек", "points_count", 25),
        ("3 точки в Шымкенте", "points_count", 3),
        ("одна точка на рынке", "points_count", 1),
    ],
)
def test_counts_in_digits_and_words(extract, message: str, field: str, value: int) -> None:
    assert extract(message)[field] == value


@pytest.mark.parametrize(
    "message, amount, period",
    [
        ("теряем 200 тысяч в месяц", 200_000, "month"),
        ("теряем 200к в месяц", 200_000, "month"),
        ("недостачи на 1,5 млн тенге в год", 1_500_000, "year"),
        ("уходит 50 000 ₸ в неделю", 50_000, "week"),
        ("теряем полтора миллиона", 1_500_000, None),
        ("минус сто двадцать тысяч каждый месяц", 120_000, "month"),
    ],
)
def test_tenge_amounts(extract, message: str, amount: int, period: str | None) -> None:
    found = extract(message)
    assert found["financial_impact_kzt"] == amount
    assert found.get("financial_period") == period
    assert found["financial_impact"].startswith(f"{amount:,}".replace(",", " ") + " ₸")


def test_budget_is_not_a_loss(extract) -> None:
    found = extract("бюджет 300 тысяч")
    assert found["budget_kzt"] == 300_000
    assert "financial_impact_kzt" not in found


def test_business_tools_competitor_city(extract) -> None:
    found = extract("У нас аптека в Караганде, учёт в Excel и тетради, касса iiko")
    assert found["business_type"] == "pharmacy"
    assert found["city"] == "Караганда"
    assert found["current_tools"] == ["excel", "notebook", "iiko"]
    assert found["competitor"] == "iiko"


@pytest.mark.parametrize(
    "message, category",
    [
        ("теряем клиентов из-за очередей", "losing_clients"),
        ("продавцы воруют, постоянно недостачи", "no_control"),
        ("всё считаем вручную, очень долго", "manual_work"),
    ],
)
def test_pain_category_and_point(extract, message: str, category: str) -> None:
    found = extract(message)
    assert found["pain_category"] == category
    assert found["pain_point"]


def test_pain_impact_outcome_value(extract) -> None:
    found = extract("теряем около 10 клиентов в месяц, хотим автоматизировать учёт")
    assert found["pain_impact"] == "10 клиентов в месяц"
    assert found["desired_outcome"] == "хотим автоматизировать учет"
    assert extract("это было бы удобно")["value_acknowledged"] is True


def test_questions_extract_nothing_about_the_client(extract) -> None:
    assert extract("сколько стоит ваша программа?") == {}


def test_through_the_node_merges_into_collected_data() -> None:
    runtime = classify_runtime()
    first = understand(runtime, "нас 12 человек, два магазина")
    assert first.values["extracted"] == {"company_size": 12, "points_count": 2, "business_type": "retail"}
    conversation = first.conversation_after
    assert conversation.collected_data == {"company_size": 12, "points_count": 2, "business_type": "retail"}
    second = runtime.run(conversation, "мой номер 87011234567")
    assert second.values["extracted"] == {"phone": "+77011234567", "contact_info": "+77011234567"}
    assert second.conversation_after.collected_data["company_size"] == 12
    assert second.conversation_after.collected_data["phone"] == "+77011234567"
    assert conversation.collected_data == {"company_size": 12, "points_count": 2, "business_type": "retail"}  # not mutated
