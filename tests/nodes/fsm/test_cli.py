"""``spinflow flow show|explain`` and ``spinflow rules show`` on the shipped config."""
from __future__ import annotations

import pytest

from engine.cli.main import main


def test_flow_explain_names_the_deciding_step(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["flow", "explain", "spin_problem", "price_question"]) == 0
    out = capsys.readouterr().out
    assert "spin_problem + price_question → spin_problem with action answer_price" in out
    assert "decided by priority step 'state_rules'" in out and "mixin price_handling" in out


def test_flow_explain_takes_facts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["flow", "explain", "spin_situation", "situation_provided", "--fact", "lead_temperature=\"hot\""]) == 0
    assert "→ spin_need_payoff" in capsys.readouterr().out
    assert main(["flow", "explain", "presentation", "agreement", "--fact", "essentials_known=true"]) == 0
    assert "→ close with action ask_contact" in capsys.readouterr().out
    assert main(["flow", "explain", "presentation", "agreement", "--fact", "turn=3"]) == 0
    assert "gate on 'close' was closed" in capsys.readouterr().out


def test_flow_explain_rejects_unknown_names(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["flow", "explain", "spin_problme", "agreement"]) == 2
    assert main(["flow", "explain", "spin_problem", "agreement", "--fact", "lead_temp=hot"]) == 2


def test_flow_show_mermaid_lists_every_state(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["flow", "show", "bant", "--mermaid"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("stateDiagram-v2\n    [*] --> greeting")
    assert "    bant_timeline --> presentation" in out and "    success --> [*]" in out


def test_rules_show_lists_rules_in_firing_order(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "show"]) == 0
    out = capsys.readouterr().out
    positions = [out.index(name) for name in ("detect_frustration", "frustrated_offer_exit", "unclear_offer_options", "oscillation_clarify", "qualified_offer_demo")]
    assert positions == sorted(positions)
