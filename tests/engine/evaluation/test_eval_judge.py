"""Expectation semantics: any-of lists, phrase matching, tiers, clean turns, outcomes."""
from __future__ import annotations

from engine.evaluation.judge import TurnObservation, judge_outcome, judge_turn, longest_hold
from engine.evaluation.spec import Expect, Outcome


def seen(turn: int = 1, *, intent: str | None = "price_question", state: str = "spin_problem", action: str | None = "answer_price",
         reply: str = "Тариф Standard — 220 000 ₸ в год. Всё ещё ведёте учёт в тетради?", tier: str | None = None,
         tier_number: int | None = None, status: str = "ok", errors: list[str] | None = None) -> TurnObservation:
    return TurnObservation(turn, "сколько стоит?", intent, state, action, reply, tier=tier, tier_number=tier_number, status=status, errors=errors or [])


def verdicts(expect: Expect | None, observed: TurnObservation) -> dict[str, bool]:
    return {check.key: check.passed for check in judge_turn(expect, observed)}


def test_turn_without_expect_only_has_to_run_cleanly() -> None:
    assert verdicts(None, seen()) == {"clean": True}
    failed = judge_turn(None, seen(status="degraded", errors=["knowledge: RuntimeError: boom"]))
    assert [(c.key, c.passed, c.got) for c in failed] == [("clean", False, "degraded: knowledge: RuntimeError: boom")]


def test_string_or_list_means_any_of_these() -> None:
    expect = Expect(intent=["cost_inquiry", "price_question"], state="spin_problem", action=["answer_price"])
    assert verdicts(expect, seen()) == {"clean": True, "intent": True, "state": True, "action": True}
    assert verdicts(expect, seen(intent="objection_price", state="handle_objection", action=None)) == {
        "clean": True, "intent": False, "state": False, "action": False}


def test_contains_is_any_phrase_case_and_yo_insensitive() -> None:
    assert verdicts(Expect(contains=["тенге", "₸"]), seen())["contains"] is True
    assert verdicts(Expect(contains="STANDARD"), seen())["contains"] is True
    assert verdicts(Expect(contains="всё ещё"), seen(reply="Все еще считаете вручную?"))["contains"] is True
    assert verdicts(Expect(contains=["рассрочка", "0-0-12"]), seen())["contains"] is False


def test_not_contains_fails_on_any_phrase_and_names_it() -> None:
    checks = judge_turn(Expect(not_contains=["номер", "тетрад"]), seen())
    failed = [c for c in checks if c.key == "not_contains"][0]
    assert (failed.passed, failed.got) == (False, ["тетрад"])
    assert verdicts(Expect(not_contains="демо"), seen())["not_contains"] is True


def test_tier_by_name_number_or_none() -> None:
    assert verdicts(Expect(tier="none"), seen())["tier"] is True
    assert verdicts(Expect(tier="none"), seen(tier="generic", tier_number=3))["tier"] is False
    assert verdicts(Expect(tier=["knowledge", "generic"]), seen(tier="generic", tier_number=3))["tier"] is True
    assert verdicts(Expect(tier="3"), seen(tier="generic", tier_number=3))["tier"] is True
    assert verdicts(Expect(tier="apology"), seen(tier="generic", tier_number=3))["tier"] is False


def test_outcome_reaches_final_state_and_longest_hold() -> None:
    states = ["greeting", "spin_problem", "spin_problem", "spin_problem", "presentation", "close", "close"]
    observed = [seen(i + 1, state=s) for i, s in enumerate(states)]
    outcome = Outcome(reaches=["spin_problem", "presentation", "success"], final_state=["close", "success"], max_turns_in_state=2)
    checks = {c.key: c for c in judge_outcome(outcome, observed)}
    assert checks["outcome.reaches"].passed is False
    assert checks["outcome.reaches"].got["missing"] == ["success"]
    assert checks["outcome.final_state"].passed is True
    assert checks["outcome.max_turns_in_state"].passed is False
    assert checks["outcome.max_turns_in_state"].got == {"state": "spin_problem", "turns": 3}
    assert judge_outcome(None, observed) == []
    assert {c.key: c.passed for c in judge_outcome(Outcome(max_turns_in_state=3, reaches="close"), observed)} == {
        "outcome.reaches": True, "outcome.max_turns_in_state": True}


def test_longest_hold() -> None:
    assert longest_hold([]) == (None, 0)
    assert longest_hold(["a", "b", "b", "a", "a", "a"]) == ("a", 3)
    assert longest_hold(["a", "a", "b", "b"]) == ("a", 2)  # the first longest run wins
