"""The project's own evaluation sets stay valid against the taxonomy they measure."""
from __future__ import annotations

from engine.cli.intent_metrics import load_cases
from engine.config import ConfigBundle, default_config_dir

OWN_CASES = default_config_dir() / "evals" / "own_cases.jsonl"


def test_own_cases_name_only_known_intents() -> None:
    taxonomy = ConfigBundle(None).section("intents")
    cases = load_cases(OWN_CASES)
    assert len(cases) >= 200
    unknown = sorted({label for case in cases for label in case.expected if taxonomy.canonical(label) not in taxonomy.intents})
    assert unknown == []


def test_own_cases_cover_many_intents() -> None:
    cases = load_cases(OWN_CASES)
    assert len({case.expected[0] for case in cases}) >= 100
