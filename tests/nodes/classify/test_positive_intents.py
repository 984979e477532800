"""The positive / informative / question side of the taxonomy through the classify_only graph:
SPIN answers, requests, comparisons, corrections and product questions. Each group holds
phrasings a shop owner would write, plus nearby phrasings of other intents the same patterns
must leave alone."""
from __future__ import annotations

import pytest

from engine.runtime import Runtime
from tests.nodes.nlu_support import SHIPPED, intent_and_stage, understand

classify = intent_and_stage


POSITIVE = {
    "comparison": [
        "вы или Умаг?",
        "Poster или вы, что лучше?",
        "почему именно вы, а не iiko?",
        "чем вы, а не Бексар, лучше для аптеки",
        "а ваша программа или МойСклад?",
    ],
    "pricing_details": [
        "сколько за одну точку в год?",
        "а цена за каждую дополнительную кассу какая?",
        "почём за ещё одного кассира?",
        "сколько стоит на одно рабочее место",
    ],
    "demo_request": [
        "а триал у вас есть?",
        "демо-версия у вас есть?",
        "а пробная версия бывает?",
        "дайте тестовую версию",
        "давайте взглянем",
        "можно глянуть?",
        "хочу глянуть на систему",
    ],
    "question_trial_period": [
        "пробный период сколько длится?",
        "триал на сколько дней?",
        "сколько дней длится тестовый период",
    ],
    "question_features": [
        "что такое Вайпон?",
        "а что это за программа у вас?",
        "что вы можете предложить магазину?",
        "расскажите вкратце о вашей системе",
        "скиньте описание, посмотрю",
        "пришлите мне материалы по программе",
        "стоит ли вообще переходить на кассу?",
        "имеет ли смысл переходить на вашу систему",
        "нужно ли это в маленьком магазине?",
    ],
    "question_implementation": [
        "кто у вас устанавливает оборудование?",
        "поможете с установкой?",
        "за какой срок можно внедрить?",
        "какие сроки запуска?",
        "а вы сами настраиваете программу?",
    ],
    "question_data_migration": [
        "можно перетащить номенклатуру из Умага?",
        "вы мигрируете базу сами?",
        "как мигрировать остатки?",
    ],
    "situation_provided": [
        "3 официанта",
        "у нас 12 работников",
        "два бухгалтера",
        "выручка где-то 5 млн в месяц",
        "средний чек около 3000",
        "оборот небольшой, тысяч 800",
        "мы стартап",
        "только открылись",
        "мы по франшизе",
        "в основном b2b",
    ],
    "info_provided": [
        "занимаемся доставкой воды",
        "оказываем услуги по ремонту",
        "работаем с госучреждениями",
        "основной канал продаж — инстаграм",
        "продаём в основном через Kaspi магазин",
    ],
    "problem_revealed": [
        "продавцы забывают пробить чек",
        "не успеваем отвечать на заявки",
        "покупатели уходят к соседям",
        "не видим реальных остатков",
        "непонятно, сколько мы заработали",
        "заказы теряются",
    ],
    "implication_acknowledged": [
        "продавцы устали от этого бардака",
        "персонал выгорает",
        "осознаю, что надо что-то менять",
        "согласен, что надо это решать",
    ],
    "need_expressed": [
        "нужна надёжная система для аптеки",
        "ищем удобную систему учёта",
        "нам нужно решение для трёх точек",
        "хотим современную платформу для магазина",
    ],
    "correct_info": [
        "ой, перепутала, у нас пекарня",
        "извините, я напутал с адресом",
        "на самом деле у нас три магазина",
        "давайте заново: нас шесть человек",
        "уточню: ИП, а не ТОО",
    ],
    # A running or ended trial asked to go on is not a new demo request.
    "request_trial_extension": [
        "пробный доступ истекает в пятницу, продлите ещё на неделю",
        "можно продлить демо-версию, не успели всё проверить",
        "тестовый период уже закончился, а бухгалтер только вышла из отпуска",
    ],
    # Training owed to a client who already bought is support, not a pre-sales question.
    "misroute_training_support": [
        "обучение по кассе так и не провели, хотя оплатили в начале месяца",
        "нужно повторное обучение для новой кассирши",
        "оплатили тариф две недели назад, когда будет обучение?",
    ],
    "agreement": [
        "нет, продолжайте дальше",
        "нет, расскажите ещё",
        "нет, я хотел бы узнать подробнее",
        "неа, интересно дальше",
    ],
}


@pytest.mark.parametrize(("expected", "message"), [(intent, message) for intent, messages in POSITIVE.items() for message in messages])
def test_positive_intents_are_recognised(expected: str, message: str) -> None:
    intent, stage = classify(message)
    assert intent == expected, (message, intent, stage)


NEARBY = [
    # (message, intent it must NOT get)
    ("команда демотивирована из-за бардака", "demo_request"),
    ("мы забываем перезвонить клиентам", "callback_request"),
    ("перезвоните мне завтра, пожалуйста", "problem_revealed"),
    ("пробный период сколько длится?", "demo_request"),
    ("а пробный период у вас есть?", "request_trial_extension"),
    ("хочу попробовать бесплатно перед покупкой", "request_trial_extension"),
    ("обучение персонала входит в стоимость?", "misroute_training_support"),
    ("как у вас проходит обучение кассиров?", "misroute_training_support"),
    ("сколько стоит?", "pricing_details"),
    ("сколько у вас клиентов в Алматы?", "pricing_details"),
    ("давайте глянем тарифы и цены", "agreement"),
    ("нужна ли касса для ИП на патенте?", "need_expressed"),
    ("стоит ли это 150 тысяч в год?", "question_features"),
    ("занимаемся продажей продуктов, у нас два магазина", "info_provided"),
    ("торгуем одеждой на рынке", "info_provided"),
    ("на самом деле нам это не нужно", "correct_info"),
    ("нет, нам такое не интересно", "agreement"),
    ("нет, спасибо", "agreement"),
    ("сотрудники уходят к конкурентам, это проблема", "comparison"),
    ("кассиры перепутали ценники", "correct_info"),
    ("вы или ваш партнёр приедете ставить кассу?", "agreement"),
]


@pytest.mark.parametrize(("message", "forbidden"), NEARBY)
def test_nearby_phrasings_keep_their_own_intent(message: str, forbidden: str) -> None:
    intent, stage = classify(message)
    assert intent != forbidden, (message, intent, stage)


def test_a_trial_version_question_is_a_demo_request_and_its_length_a_tariff_question() -> None:
    assert classify("а триал версия есть?")[0] == "demo_request"
    assert classify("сколько дней длится триал?")[0] == "question_trial_period"


def test_a_forgotten_callback_is_a_problem_even_with_its_secondary_intents() -> None:
    runtime = Runtime(SHIPPED, "understand", trace=False)
    result = understand(runtime, "часто забываем перезвонить покупателям", {"spin_phase": "problem"})
    assert result.values["intent"] == "problem_revealed"
    assert "callback_request" not in (result.values.get("secondary_intents") or [])


@pytest.mark.parametrize("message", ["особых проблем тут не вижу, если честно", "не вижу никакой проблемы с учётом", "торгуем потихоньку и ладно", "считаем в тетради и ладно", "не замечаем сложностей"])
def test_a_denied_problem_is_no_problem(message: str) -> None:
    assert classify(message)[0] == "no_problem"


@pytest.mark.parametrize(("message", "forbidden"), [("не вижу остатков по складу", "no_problem"), ("проблем много, не вижу выхода", "no_problem")])
def test_a_reported_blind_spot_is_not_a_denial(message: str, forbidden: str) -> None:
    assert classify(message)[0] != forbidden
