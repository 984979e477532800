"""``respond.template`` through a graph: KB answers, composite messages, variations, slots, directives."""
from __future__ import annotations

import pytest

from engine.state import ConversationState
from nodes.respond.variations import split_sentences, word_count
from tests.nodes.answers_support import copy_shipped, run_messages, small_graph


@pytest.fixture(scope="module")
def answers(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    root = copy_shipped(tmp_path_factory.mktemp("respond") / "config")
    return small_graph(root)


def in_state(state: str, conversation_id: str = "respond-test", **data: object) -> ConversationState:
    return ConversationState(conversation_id=conversation_id, state=state, collected_data=dict(data))


def test_a_question_is_answered_from_the_section_then_the_state_asks_its_question(answers: tuple) -> None:
    bundle, executor = answers
    templates = bundle.section("templates")
    kb = bundle.section("knowledge")
    [result], _ = run_messages(executor, bundle, [("Сколько стоит тариф Стандарт?", {"action": "answer_price", "intent": "price_question"})], conversation=in_state("spin_problem"))
    section = kb.get(result.values["knowledge"]["section_id"])
    assert section.id == "tariffs.standard"
    plan = result.values["reply_plan"]
    assert (plan["mode"], plan["kb_section"]) == ("answer", "tariffs.standard")
    assert [part["kind"] for part in plan["parts"]] == ["answer", "question"]
    kb_id, followup = result.values["template_id"].split("+")
    assert kb_id == "kb:tariffs.standard" and followup.startswith("ask_problem#")
    assert result.response.startswith(section.answer.strip())
    assert result.response.endswith(templates["ask_problem"][int(followup.split("#")[1])].strip())


def test_a_question_inside_a_statement_is_answered_and_the_flow_keeps_collecting(answers: tuple) -> None:
    bundle, executor = answers
    [result], _ = run_messages(executor, bundle, [("У нас два продуктовых магазина. А рассрочка на оборудование есть?", {"action": "ask_problem", "intent": "situation_provided"})],
                               conversation=in_state("spin_problem"))
    plan = result.values["reply_plan"]
    assert (plan["mode"], plan["kb_section"]) == ("composite", "billing.installment_equipment")
    assert [part["source"].split("#")[0] for part in plan["parts"]] == ["kb:billing.installment_equipment", "ask_problem"]
    assert result.response.endswith("?")


def test_a_statement_that_merely_mentions_a_topic_gets_the_plain_template(answers: tuple) -> None:
    bundle, executor = answers
    [result], _ = run_messages(executor, bundle, [("у нас продуктовый магазин, две точки", {"action": "ask_problem", "intent": "situation_provided"})], conversation=in_state("spin_problem"))
    assert result.values["reply_plan"]["mode"] == "template"
    assert result.values["template_id"].startswith("ask_problem#")


def test_variants_do_not_repeat_until_all_were_used(answers: tuple) -> None:
    bundle, executor = answers
    usable = [index for index, text in enumerate(bundle.section("templates")["ask_situation"]) if "{" not in text]  # no collected data: no slots
    count = len(usable)
    turns = [("расскажу позже", {"action": "ask_situation", "intent": "info_provided"})] * count
    results, state = run_messages(executor, bundle, turns, conversation=in_state("spin_situation", "variants"))
    ids = [result.values["template_id"] for result in results]
    assert sorted(ids) == sorted(f"ask_situation#{index}" for index in usable)
    sentences = [sentence for result in results for sentence in split_sentences(result.response)]
    assert len(sentences) == len(set(sentences))
    assert len(state.used_variants["ask_situation"]) == count


def test_the_same_turn_from_the_same_state_gives_the_same_words(answers: tuple) -> None:
    bundle, executor = answers
    _results, state = run_messages(executor, bundle, [("Здравствуйте", {"action": "greet", "intent": "greeting"}), ("у нас аптека", {"action": "ask_problem", "intent": "situation_provided"})],
                                   conversation=in_state("greeting", "replayable"))
    turn = [("Сколько стоит ОФД?", {"action": "answer_price", "intent": "price_question"})]
    first, _ = run_messages(executor, bundle, turn, conversation=state)
    second, _ = run_messages(executor, bundle, turn, conversation=state)
    assert first[0].response == second[0].response
    assert first[0].values["template_id"] == second[0].values["template_id"]


def test_slots_come_from_collected_data_and_variants_needing_missing_slots_are_skipped(answers: tuple) -> None:
    bundle, executor = answers
    templates = bundle.section("templates")["ask_problem"]
    personal = [index for index, text in enumerate(templates) if "{business_type}" in text]
    assert personal, "the shipped ask_problem templates have a {business_type} variant"
    turns = [("угу", {"action": "ask_problem", "intent": "info_provided"})] * len(templates)
    without, _ = run_messages(executor, bundle, turns, conversation=in_state("spin_problem", "no-slot"))
    assert all("{" not in result.response for result in without)
    assert not {int(result.values["template_id"].split("#")[1]) for result in without} & set(personal)
    [with_slot], _ = run_messages(executor, bundle, turns[:1], conversation=in_state("spin_problem", "slot", business_type="grocery"))
    assert int(with_slot.values["template_id"].split("#")[1]) in personal
    assert "продуктовый магазин" in with_slot.response


def test_brevity_apology_and_exit_directives_shape_the_reply(answers: tuple) -> None:
    bundle, executor = answers
    phrases = bundle.section("composition").directive_phrases
    message = ("Сколько стоит тариф Стандарт?", {"action": "answer_price", "intent": "price_question"})
    [plain], _ = run_messages(executor, bundle, [message], conversation=in_state("spin_problem", "directives"))
    directives = [{"kind": "brevity", "max_words": 30}, {"kind": "apologize"}, {"kind": "offer_exit"}, {"kind": "sing_a_song"}]
    [shaped], _ = run_messages(executor, bundle, [(message[0], {**message[1], "response_directives": directives})], conversation=in_state("spin_problem", "directives"))
    sentences = split_sentences(shaped.response)
    assert sentences[0] in phrases["apologize"] and sentences[-1] in phrases["offer_exit"]
    body = " ".join(sentences[1:-1])
    assert word_count(body) <= 30 < word_count(plain.response)
    assert shaped.values["reply_plan"]["directives"]["ignored"] == [{"kind": "sing_a_song"}]


def test_tone_guidance_works_like_directives(answers: tuple) -> None:
    bundle, executor = answers
    phrases = bundle.section("composition").directive_phrases
    tone = {"tone_instruction": "Будь эмпатичным, не дави", "should_apologize": True, "should_offer_exit": False, "max_words": 30}
    [result], _ = run_messages(executor, bundle, [("дорого", {"action": "handle_price_objection", "intent": "objection_price", "tone_guidance": tone})], conversation=in_state("handle_objection"))
    assert split_sentences(result.response)[0] in phrases["apologize"]
    plan = result.values["reply_plan"]["directives"]
    assert (plan["apologize"], plan["offer_exit"], plan["max_words"], plan["tone_instruction"]) == (True, False, 30, "Будь эмпатичным, не дави")


def test_an_answered_section_is_not_recited_again(answers: tuple) -> None:
    bundle, executor = answers
    turn = ("Сколько стоит ОФД в месяц?", {"action": "answer_price", "intent": "price_question"})
    results, state = run_messages(executor, bundle, [turn, turn], conversation=in_state("spin_situation", "repeat"))
    assert results[0].values["template_id"].startswith("kb:fiscal.ofd_price+")
    assert results[1].values["template_id"].startswith("kb:fiscal.ofd_price:repeat+")
    assert not set(split_sentences(results[0].response)) & set(split_sentences(results[1].response))
    assert state.extra["respond"]["answered"] == ["fiscal.ofd_price"]


def test_an_action_without_templates_falls_back_and_says_so(answers: tuple) -> None:
    bundle, executor = answers
    [result], _ = run_messages(executor, bundle, [("ммм", {"action": "dance_the_polka", "intent": "unclear"})], conversation=in_state("spin_situation", "missing"))
    plan = result.values["reply_plan"]
    assert (plan["action"], plan["missing_template"]) == ("fallback", "dance_the_polka")
    assert result.response


def test_variations_flag_off_always_takes_the_first_variant(answers: tuple) -> None:
    bundle, executor = answers
    results, _ = run_messages(executor, bundle, [("угу", {"action": "ask_implication", "intent": "info_provided"})] * 2,
                              conversation=in_state("spin_implication", "flag-off"), flags={"response_variations": False})
    assert [result.values["template_id"] for result in results] == ["ask_implication#0", "ask_implication#0"]


def test_a_word_limit_keeps_the_answer_sentence_the_question_asks_for(answers: tuple) -> None:
    bundle, executor = answers
    section = bundle.section("knowledge").get("equipment.pos_duo")
    sentences = split_sentences(section.answer)
    priced = [index for index, sentence in enumerate(sentences) if "₸" in sentence]
    assert len(sentences) > 1 and priced and priced[0] > 0, "the price is not in the first sentence of this section"
    turn = ("Сколько стоит моноблок POS DUO?", {"action": "answer_price", "intent": "price_question", "response_directives": [{"kind": "brevity", "max_words": 15}]})
    [result], _ = run_messages(executor, bundle, [turn], conversation=in_state("presentation", "focus"))
    assert result.values["reply_plan"]["kb_section"] == "equipment.pos_duo"
    assert sentences[priced[0]] in result.response and sentences[0] not in result.response


def test_a_section_that_cannot_answer_the_kind_of_question_is_not_used(answers: tuple) -> None:
    bundle, executor = answers
    [result], _ = run_messages(executor, bundle, [("коротко — сколько стоит и всё", {"action": "answer_price", "intent": "price_question"})], conversation=in_state("spin_situation", "unmet"))
    knowledge = result.values["knowledge"]
    plan = result.values["reply_plan"]
    assert knowledge["unmet_focus"] == ["price"] or knowledge["section_id"] is None
    assert (plan["mode"], plan["kb_section"]) == ("template", None)
    assert result.values["template_id"].startswith("answer_price#")
    assert result.response.count("?") <= 1  # the price template already asks; no second question
