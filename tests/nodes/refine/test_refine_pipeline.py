"""The layer contract across all refine.* nodes: chain, flags, failure guard, order."""
from __future__ import annotations

from engine.config import ConfigBundle, default_config_dir
from engine.executor import Executor
from engine.state import ConversationState
from nodes.refine.settings import PRIORITIES
from tests.nodes.refine.conftest import HERE, compile_file, entry

LAYERS = [
    "confidence_calibration", "disambiguation_resolution", "secondary_intents", "option_selection", "first_contact",
    "greeting_context", "short_answer", "composite_message", "comparison", "data_aware", "objection", "disambiguation",
]


def test_every_layer_appends_one_entry_in_priority_order(layers, bundle) -> None:
    result = layers.turn("да", "greeting", 0.8, context={"spin_phase": "situation"})
    chain = result.values["refinement_chain"]
    assert [item["layer"] for item in chain] == LAYERS
    assert all(item["decision"] in ("pass_through", "refined", "skipped", "error") for item in chain)
    pipeline = bundle.section("refinement").pipeline
    priorities = [PRIORITIES[pipeline.layers[name].priority] for name in LAYERS]
    assert priorities == sorted(priorities, reverse=True)
    # Each node wrote a new list: the one traced for the first layer still has one entry.
    first_run = next(run for run in result.runs if run.node_id == "refine_calibration")
    assert len(first_run.outputs["refinement_chain"]) == 1


def test_refined_entry_records_before_and_after(layers) -> None:
    result = layers.turn("да", "greeting", 0.8, context={"spin_phase": "situation"})
    short = entry(result, "short_answer")
    assert short["decision"] == "refined"
    assert short["from"][0] == "greeting" and short["intent"] == "situation_provided"


def test_master_flag_off_skips_every_layer(layers) -> None:
    result = layers.turn("да", "greeting", 0.8, context={"spin_phase": "situation"}, flags={"refinement_pipeline": False})
    chain = result.values["refinement_chain"]
    assert {(item["decision"], item["reason"]) for item in chain} == {("skipped", "flag_off")}
    assert result.values["intent"] == "greeting"
    assert result.values["intent_confidence"] == 0.8


def test_each_layer_has_its_own_flag(layers, bundle) -> None:
    pipeline = bundle.section("refinement").pipeline
    for name in LAYERS:
        flag = pipeline.layers[name].feature_flag
        assert flag in bundle.settings.feature_flags, name
        result = layers.turn("да", "greeting", 0.8, context={"spin_phase": "situation"}, flags={flag: False})
        assert entry(result, name)["reason"] == "flag_off", name
    assert bundle.settings.feature_flags["comparison_refinement"] is False


def test_bad_input_becomes_an_error_decision_not_a_broken_turn(layers) -> None:
    result = layers.turn("да", "greeting", "not a number", context={"spin_phase": "situation"})  # type: ignore[arg-type]
    chain = result.values["refinement_chain"]
    assert {item["decision"] for item in chain} == {"error"}
    assert all(item["meta"]["error"].startswith("ValueError") for item in chain)
    assert result.values["intent"] == "greeting"
    assert all(run.status == "ok" for run in result.runs)


def test_one_failing_layer_leaves_the_others_working(bundle) -> None:
    graph = compile_file(bundle, HERE / "layers_graph.yaml")

    def broken(turn, state):  # an internal bug in one layer
        raise RuntimeError("boom")

    graph.node("refine_options").instance.refine = broken
    flags = dict(bundle.settings.feature_flags)
    result = Executor(graph).run_turn(
        ConversationState(conversation_id="broken"), "1", flags=flags,
        dialogue_context={"spin_phase": "situation", "last_bot_message": "Скорость или функционал?"},
        extra_inputs={"intent": "greeting", "intent_confidence": 0.8, "classification": {}},
    )
    failed = entry(result, "option_selection")
    assert (failed["decision"], failed["reason"]) == ("error", "exception")
    assert failed["meta"]["error"] == "RuntimeError: boom"
    assert result.values["intent"] == "situation_provided"  # short_answer still ran
    assert result.status == "ok"


def test_shipped_refinement_config_is_clean() -> None:
    bundle = ConfigBundle(default_config_dir())
    issues = [issue for issue in bundle.validate() if "refinement" in issue.file or issue.file.endswith("understand.yaml") or "refine" in issue.path]
    assert issues == []
