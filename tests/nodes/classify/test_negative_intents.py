"""The negative side of the taxonomy through the classify_only graph: objections, refusals,
frustration and dialogue control. Each group holds phrasings a shop owner would write, plus
nearby phrasings of other intents the same patterns must leave alone."""
from __future__ import annotations

import pytest

from tests.nodes.nlu_support import classify_runtime, intent_and_stage, understand

classify = intent_and_stage


POSITIVE = {
    "frustration_expression": [
        "я уже устал вам объяснять",
        "вы вообще нормально отвечать умеете?",
        "да идите вы к черту со своей кассой",
        "пошёл ты нафиг, бот",
        "вы там совсем охренели?",
        "вы вообще читаете, что я пишу?",
        "ты меня слышишь?",
        "ужас какой-то",
        "кошмар, а не сервис",
    ],
    "rejection": [
        "не актуально для нас",
        "магазин продали, нам уже не нужно",
        "мы решили не брать",
        "к сожалению, магазин уже закрылся",
        "магазин закрываем насовсем",
        "бизнес продаём, так что уже не актуально",
        "ИП закрыл, больше не торгую",
        "мы прогорели, извините",
        "да как-то не горю желанием",
        "честно, неохота",
    ],
    "go_back": [
        "вернёмся к предыдущему вопросу",
        "мы ушли от темы",
        "вы не о том говорите",
        "кажется, не туда свернули",
    ],
    "objection_no_need": [
        "мы и без программы нормально торгуем",
        "касса нам ни к чему, торгуем на рынке",
        "тетрадки хватает с головой",
        "работаем без всяких программ и нормально",
        "обхожусь без кассы, всё через Kaspi",
        "тетрадка меня полностью устраивает",
        "нам пока не нужна никакая автоматизация",
        "у нас крошечная точка, так что нам это ни к чему",
        "своими силами справимся",
        "своих инструментов нам хватает",
    ],
    "objection_complexity": [
        "настраивать всё это сами не потянем",
        "пока продавцов научишь, с ума сойдёшь",
        "у нас тысячи товаров, переносить их замучаемся",
        "боюсь, кассиры запутаются в новой программе",
        "переезжать с 1С на вашу систему долго и нудно",
        "внедрять такое у нас некому",
        "перенос базы из 1С будет долгим",
        "внедрение наверняка затянется",
        "столько мороки с настройкой",
        "опять вбивать все товары",
        "обучение кассиров будет тяжёлым",
        "завести весь ассортимент — да это месяц возни",
    ],
    "objection_trust": [
        "что-то не верится мне в ваши обещания",
        "я вас впервые вижу, как вам доверять",
        "в интернете про вас мало информации",
        "а где гарантия что вы не пропадёте",
        "с чего мне вам верить?",
        "почему мы должны доверять вашей компании",
        "а вдруг программа не поможет",
        "что если ваша система не решит наши проблемы",
    ],
    "objection_timing": [
        "в этом году уже не будем",
        "как откроем второй магазин, тогда и поговорим",
        "после инвентаризации",
        "по итогам квартала",
        "когда деньги появятся",
        "как только откроемся",
    ],
    "objection_think": [
        "поговорю с женой и вернёмся к разговору",
        "надо посовещаться с братом, он совладелец",
        "посовещаемся и сообщим",
        "вынесу на совещание в понедельник",
    ],
    "objection_price": [
        "ого, а подешевле нельзя было",
        "нам бы что-то бюджетнее",
        "у меня таких денег на программу нет",
        "для нас это слишком накладно",
        "за такие деньги я лучше продавца найму",
        "свободных денег сейчас нет",
        "не хотим платить каждый месяц",
        "платить за программу не будем, и так расходов много",
    ],
    "request_brevity": [
        "не надо мне длинных текстов",
        "можно покороче",
        "давайте по делу, без лишнего",
    ],
    "impatience_expression": [
        "сколько можно ждать ответа",
        "ну и долго мне ждать",
        "отвечайте быстрее",
    ],
    "request_human": [
        "можно с живым менеджером поговорить",
        "дайте номер вашего специалиста",
        "переключите на оператора пожалуйста",
    ],
    "summary_request": ["подытожьте коротко, что вы предлагаете", "так что в итоге?"],
    "example_request": ["приведите пример, как это работает в аптеке", "например?"],
    "objection_competitor": ["мы уже пользуемся Poster и всё нравится"],
    "objection_risk": ["боюсь, что при переходе всё встанет", "а если данные потеряются при переносе", "вдруг остатки собьются"],
    "objection_security": ["не хочу, чтобы мои данные хранились у вас в облаке", "а налоговая не увидит всё?"],
    "objection_company_policy": ["у нас всё решает головной офис", "мы франчайзи, программу нам выбирают", "франчайзер не разрешает ставить другую кассу"],
    "objection_contract_bound": ["у нас договор с Умаг до конца года", "подписка оплачена на год вперёд"],
    "objection_team_resistance": ["продавцы против любых новых программ", "персонал не захочет переучиваться"],
    "objection_roi_doubt": ["не уверен, что это окупится", "сомневаюсь, что касса себя оправдает", "окупаемость под вопросом", "такое вряд ли окупится"],
    "repeat_request": ["повторите, сколько стоит подключение", "ещё раз про склад, пожалуйста"],
    "data_deletion": ["удалите мои данные из вашей базы", "сотрите наш телефон из рассылки"],
    "contract_dispute": ["будем оспаривать этот штраф", "не согласны с начислением за прошлый месяц"],
    "objection_scale": [
        "у нас всего одна касса, зачем нам такое",
        "для маленького ларька это слишком",
        "у нас гипермаркет на сорок касс, вряд ли вы потянете",
        "ваша программа для крупных сетей, а у меня одна палатка",
        "на наши обороты она не рассчитана",
    ],
    "objection_no_time": [
        "потом сами свяжемся",
        "попозже напишем",
        "у нас дедлайн по отчётам",
        "весь день в мыле",
        "горячая пора, разрываюсь",
    ],
}


@pytest.mark.parametrize(("expected", "message"), [(intent, message) for intent, messages in POSITIVE.items() for message in messages])
def test_negative_intents_are_recognised(expected: str, message: str) -> None:
    intent, stage = classify(message)
    assert intent == expected, (message, intent, stage)


NEARBY = [
    # (message, intent it must NOT get)
    ("пошли дальше, расскажите про тарифы", "frustration_expression"),
    ("вы понимаете специфику аптек?", "frustration_expression"),
    ("во сколько вы закрываетесь?", "rejection"),
    ("как закрыть смену на кассе?", "rejection"),
    ("магазин закрывается в 22:00, касса нужна до вечера", "rejection"),
    ("не хочется терять клиентов из-за очередей", "rejection"),
    ("не вижу отчёта по продажам", "rejection"),
    ("Excel не устраивает, хотим нормальный учёт", "objection_no_need"),
    ("справляемся без проблем, но учёт хочется вести", "objection_no_need"),
    ("нам нужна программа для склада", "objection_no_need"),
    ("как перенести данные из 1С?", "objection_complexity"),
    ("перенос данных входит в стоимость?", "objection_complexity"),
    ("слишком много текста, короче", "objection_complexity"),
    ("после оплаты когда подключите?", "objection_timing"),
    ("после новогодних каникул вернёмся к этой теме", "go_back"),
    ("что если не получится подключить сканер?", "objection_trust"),
    ("ревизия у нас — это ужас, два дня теряем", "frustration_expression"),
    ("сколько платить за кассу в месяц?", "objection_price"),
    ("позже свяжемся насчёт демо?", "objection_no_time"),
    ("не нужно большой кассы, хватит маленькой", "request_brevity"),
    ("магазин закрыли на ремонт, откроемся в марте", "rejection"),
    ("о вас много хороших отзывов", "objection_trust"),
    ("без кассы торговать нельзя, нужна онлайн-касса", "objection_no_need"),
    ("как перенести остатки, чтобы ничего не потерялось?", "objection_risk"),
    ("данные с 1С перенесёте?", "objection_risk"),
    ("не уверен, что правильно понял тариф", "objection_roi_doubt"),
    ("у нас всего одна касса и два продавца", "objection_scale"),
    ("одна точка у дома, подойдёт или это только для крупных?", "objection_scale"),
    ("у нас сеть из двенадцати аптек в Шымкенте", "objection_scale"),
    ("пример чека можно посмотреть?", "request_human"),
    ("мой номер 87011234567, перезвоните", "request_human"),
    ("нам бы что-то для склада", "objection_price"),
    ("мы по франшизе, три точки", "objection_company_policy"),
    ("за сколько окупится касса?", "objection_roi_doubt"),
    ("повторять заказ у поставщика можно через программу?", "repeat_request"),
    ("ещё раз спасибо, до свидания", "repeat_request"),
    ("надо быть на точке к девяти, курьер успеет?", "objection_no_time"),
    ("терминала хватит для приёма карт?", "frustration_expression"),
    ("как отложить продажу и обслужить другого покупателя?", "objection_timing"),
    ("почему тариф Pro дороже Standard?", "objection_price"),
    ("продавщица переносит остатки вручную, это долго", "objection_complexity"),
    ("помогаете с банкротством ТОО?", "rejection"),
    ("закрываю ИП и открываю ТОО, касса останется?", "rejection"),
    ("покажите примеры внедрения в аптеках", "example_request"),
    ("к осени откроем вторую точку", "objection_timing"),
    ("у нас нет таких проблем с кассой", "objection_price"),
    ("вы отвечать будете сегодня или завтра?", "frustration_expression"),
]


@pytest.mark.parametrize(("message", "forbidden"), NEARBY)
def test_nearby_phrasings_keep_their_own_intent(message: str, forbidden: str) -> None:
    intent, stage = classify(message)
    assert intent != forbidden, (message, intent, stage)


def test_brevity_request_is_not_taken_for_complexity() -> None:
    assert classify("слишком много текста, короче")[0] == "request_brevity"


def test_deferral_after_an_event_is_timing_not_a_step_back() -> None:
    assert classify("после новогодних каникул вернёмся к этой теме")[0] == "objection_timing"


def test_a_leading_negation_alone_is_no_refusal() -> None:
    intent, stage = classify("не вижу отчёта по продажам")
    assert intent != "rejection"
    record = understand(classify_runtime(), "не вижу отчёта по продажам").values["classification"]
    assert all(name != "rejection" for name, _score in record["alternatives"])


def test_a_stage_does_not_reinforce_itself_in_the_fallback() -> None:
    # Only the weak «нет…» pattern speaks for rejection: the fallback's agreement bonus counts
    # other stages, so the pattern's hit and its ranking are one piece of evidence, not two.
    result = understand(classify_runtime(), "нет, погодите минуту").values
    record = result["classification"]
    assert (result["intent"], record["stage"]) == ("rejection", "fallback")
    (top_intent, top_confidence), *_ = record["stages"]["patterns"]["top"]
    assert top_intent == "rejection" and top_confidence < 0.85
    others = [name for stage in ("roots", "lemmas") for name, _score in record["stages"].get(stage, {}).get("top", [])]
    assert "rejection" not in others
    assert result["intent_confidence"] == pytest.approx(top_confidence)
