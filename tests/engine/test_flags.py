"""Feature flags: YAML defaults, env overrides, groups, runtime overrides, when-expressions."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import EngineError
from engine.flags import FeatureFlags, WhenSyntaxError, parse_when
from engine.runtime import Runtime


def flags(environ: dict[str, str] | None = None) -> FeatureFlags:
    return FeatureFlags({"a": True, "b": False, "c": False}, {"grp": ["b", "c"]}, environ or {})


def test_precedence_override_env_default() -> None:
    f = flags({"FF_B": "true", "FF_A": "off"})
    assert f.snapshot() == {"a": False, "b": True, "c": False}
    assert f.source_of("b") == "env"
    f.set_override("b", False)
    assert f.is_enabled("b") is False and f.source_of("b") == "override"
    f.clear_all_overrides()
    assert f.is_enabled("b") is True


def test_groups_and_unknown_names() -> None:
    f = flags()
    f.enable_group("grp")
    assert f.snapshot() == {"a": True, "b": True, "c": True}
    f.disable_group("grp")
    assert (f.is_enabled("b"), f.is_enabled("c")) == (False, False)
    with pytest.raises(EngineError, match="unknown flag group"):
        f.enable_group("nope")
    with pytest.raises(EngineError, match="Did you mean 'a'"):
        f.set_override("aa", True)


def test_bad_env_values_are_reported_not_applied() -> None:
    f = flags({"FF_A": "maybe", "FF_ZZZ": "true"})
    assert f.is_enabled("a") is True
    assert any("FF_A" in p for p in f.env_problems) and any("unknown flag 'zzz'" in p for p in f.env_problems)


@pytest.mark.parametrize(
    "source, expected",
    [("a", True), ("not a", False), ("a and b", False), ("a and not b", True), ("b or (c or a)", True), ("not (a and (b or c))", True), ("true and not false", True)],
)
def test_when_expressions(source: str, expected: bool) -> None:
    assert parse_when(source).evaluate({"a": True, "b": False, "c": False}) is expected


@pytest.mark.parametrize("source", ["", "a and", "(a", "a b", "a && b", "and a", "a)"])
def test_when_syntax_errors(source: str) -> None:
    with pytest.raises(WhenSyntaxError):
        parse_when(source)


def test_flags_in_force_are_recorded_per_turn(tmp_path: Path) -> None:
    db = tmp_path / "t.duckdb"
    with Runtime(trace_db=db, environ={"FF_RESPONSE_VARIATIONS": "false"}, flag_overrides={"semantic_stage": False}) as runtime:
        runtime.turn("f1", "Здравствуйте")
    from engine.trace_store import TraceStore

    store = TraceStore(db, read_only=True)
    try:
        import json

        recorded = json.loads(store.turn("f1", 1)["flags"])
    finally:
        store.close()
    assert recorded["response_variations"] is False and recorded["semantic_stage"] is False and recorded["cascade_classifier"] is True
