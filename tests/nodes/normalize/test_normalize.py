"""normalize.text: typos, glued words, layout slips, look-alikes, repeats, emoji, protected spans."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.config import ConfigBundle
from engine.errors import ConfigError
from nodes.classify.morphology import Morphology
from nodes.normalize.text import Normalizer, normalize
from tests.nodes.nlu_support import SHIPPED, classify_runtime, understand


@pytest.fixture(scope="module")
def normalizer() -> Normalizer:
    return Normalizer(ConfigBundle(SHIPPED).section("normalization"), Morphology())


@pytest.mark.parametrize(
    "raw, text, change",
    [
        ("Скок стоит ваша прога?", "сколько стоит ваша программа?", "typos"),
        ("щас чо по цене", "сейчас что по цене", "typos"),
        ("скиньте прайс пжлст", "отправьте прайс пожалуйста", "typos"),
        ("спс, ок", "спасибо, ок", "typos"),
        ("т.е. касса нужна", "то есть касса нужна", "typos"),
        ("сколькостоит касса", "сколько стоит касса", "splits"),
        ("незнаю, нехочу", "не знаю, не хочу", "splits"),
        ("какаяцена на кассу", "какая цена на кассу", "splits"),
        ("расскажи те про тарифы", "расскажите про тарифы", "splits"),
        ("покажи те отчет по складу", "покажите отчет по складу", "splits"),
        ("те самые кассы, подскажи те цену", "те самые кассы, подскажите цену", "splits"),
        ("ghbdtn rfr ltkf", "привет как дела", "layout"),
        ("пpивeт", "привет", "lookalikes"),
        ("дааааа", "да", "repeats"),
        ("оооочень дорого", "очень дорого", "repeats"),
        ("классссно", "классно", "repeats"),
        ("Всё ещё думаем", "все еще думаем", "yo"),
        ("Что??? Серьёзно!!!", "что? серьезно!", "spacing"),
    ],
)
def test_fixes(normalizer: Normalizer, raw: str, text: str, change: str) -> None:
    result, report, _emoji = normalizer(raw)
    assert result == text
    assert change in report["changes"]


@pytest.mark.parametrize(
    "raw",
    [
        "мой номер +7 707 123 45 67, звоните",
        "звоните 8(701)1234567",
        "87011234567 или 8-701-123-45-67",
        "почта Ivan.Petrov@Mail.ru и сайт www.Shop.kz",
        "оборот 1 500 000 тенге, чеков 150-200",
    ],
)
def test_phones_emails_numbers_stay_intact(normalizer: Normalizer, raw: str) -> None:
    result, report, _emoji = normalizer(raw)
    for span in ("+7 707 123 45 67", "8(701)1234567", "87011234567", "8-701-123-45-67", "Ivan.Petrov@Mail.ru", "www.Shop.kz", "1 500 000", "150-200"):
        if span in raw:
            assert span in result
            assert span in report["protected"]


def test_emoji_removed_and_recorded_with_tone(normalizer: Normalizer) -> None:
    result, report, emoji = normalizer("Опять не работает 😡😡 👍🏻 спасибо)))")
    assert result == "опять не работает спасибо"
    assert [item["emoji"] for item in emoji] == ["😡", "😡", "👍🏻", ")))"]
    assert [item["tone"] for item in emoji] == ["anger", "anger", "agreement", "positive"]
    assert "emoji" in report["changes"]


def test_parenthesis_is_not_a_smile(normalizer: Normalizer) -> None:
    result, _report, emoji = normalizer("нужна касса (если недорого)")
    assert result == "нужна касса (если недорого)"
    assert emoji == []


def test_latin_words_and_brands_are_kept(normalizer: Normalizer) -> None:
    result, report, _emoji = normalizer("у нас iiko и Poster, выгрузка в csv")
    assert result == "у нас iiko и poster, выгрузка в csv"
    assert "layout" not in report["changes"]


def test_length_cap_and_empty() -> None:
    text, changes = normalize("слово " * 100, max_chars=50)
    assert len(text) <= 50 and "truncated" in changes
    assert normalize("   ")[0] == ""


def test_through_the_node_in_the_graph() -> None:
    result = understand(classify_runtime(), "Скок стоит прога?? 😡")
    assert result.values["text"] == "сколько стоит программа?"
    assert result.values["normalization"]["typos"] == [["скок", "сколько"], ["прога", "программа"]]
    assert result.values["emoji"] == [{"emoji": "😡", "tone": "anger"}]
    run = next(run for run in result.runs if run.node_id == "normalize")
    assert run.status == "ok" and set(run.outputs) == {"text", "normalization", "emoji"}


def test_lexicon_errors_name_file_and_line(tmp_path: Path) -> None:
    from tests.nodes.nlu_support import copy_config

    config = copy_config(tmp_path / "config")
    typos = config / "yaml_config/nlu/typos.yaml"
    typos.write_text(typos.read_text(encoding="utf-8").replace("  скок: сколько\n", "  Скок: сколько\n", 1), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"yaml_config/nlu/typos\.yaml:\d+: words\.Скок: key 'Скок' is never seen: text is lowercased and ё→е first\. Write it as 'скок'"):
        ConfigBundle(config).raise_if_invalid()
