"""Refinement YAML mistakes fail `validate` with file:line, the problem and the fix."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.config import ConfigBundle, default_config_dir

SHIPPED = default_config_dir()


@pytest.fixture
def config(tmp_path: Path) -> Path:
    for sub in ("graphs", "rules", "yaml_config"):
        if (SHIPPED / sub).is_dir():
            shutil.copytree(SHIPPED / sub, tmp_path / sub)
    return tmp_path


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def refinement_issues(root: Path) -> list[str]:
    return [issue.render() for issue in ConfigBundle(root).validate() if "refine" in issue.file or "refine" in issue.path]


def test_misspelt_intent_in_a_layer_file(config: Path) -> None:
    edit(config / "yaml_config/refinement/short_answer.yaml", "negative_intent: no_problem", "negative_intent: no_problm")
    issues = [line for line in refinement_issues(config) if "no_problm" in line]
    assert len(issues) >= 1
    assert issues[0].startswith("yaml_config/refinement/short_answer.yaml:")
    assert "unknown intent 'no_problm'. Did you mean 'no_problem'?" in issues[0]


def test_bad_regex_names_file_and_line(config: Path) -> None:
    path = config / "yaml_config/refinement/objection.yaml"
    edit(path, "question_markers: ['\\?'", "question_markers: ['(\\?'")
    line = next(number for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if text.startswith("question_markers"))
    issues = [issue for issue in refinement_issues(config) if "question_markers" in issue]
    assert issues and issues[0].startswith(f"yaml_config/refinement/objection.yaml:{line}: question_markers[0]: regex does not compile")


def test_unknown_category(config: Path) -> None:
    edit(config / "yaml_config/refinement/greeting_context.yaml", "[technical_problems]", "[technical_problem]")
    issues = [issue for issue in refinement_issues(config) if "technical_problem'" in issue]
    assert issues and "unknown intent category 'technical_problem'. Did you mean 'technical_problems'?" in issues[0]


def test_unknown_flag_in_pipeline(config: Path) -> None:
    edit(config / "yaml_config/refinement/pipeline.yaml", "feature_flag: objection_refinement", "feature_flag: objection_refinment")
    issues = refinement_issues(config)
    assert any("pipeline.yaml" in issue and "unknown flag 'objection_refinment'. Did you mean 'objection_refinement'?" in issue for issue in issues)


def test_unknown_key_in_a_layer_file(config: Path) -> None:
    edit(config / "yaml_config/refinement/data_aware.yaml", "confidence: 0.7", "confidense: 0.7")
    issues = refinement_issues(config)
    assert any(issue.startswith("yaml_config/refinement/data_aware.yaml:") and "confidense: unknown key" in issue for issue in issues)


def test_unknown_refinement_file(config: Path) -> None:
    shutil.copy(config / "yaml_config/refinement/data_aware.yaml", config / "yaml_config/refinement/data_awear.yaml")
    issues = refinement_issues(config)
    assert any("unknown refinement file 'data_awear.yaml'" in issue and "Did you mean 'data_aware'?" in issue for issue in issues)


def test_graph_out_of_priority_order(config: Path) -> None:
    graph = config / "graphs/understand.yaml"
    edit(graph, "    type: refine.objection\n    after: [refine_data_aware]", "    type: refine.objection\n    after: [refine_begin]")
    edit(graph, "    type: refine.confidence_calibration\n    after: [refine_begin]", "    type: refine.confidence_calibration\n    after: [refine_objection]")
    issues = [issue for issue in refinement_issues(config) if "runs after" in issue]
    assert any("graphs/understand.yaml" in issue and "refine node 'refine_calibration' (CRITICAL 100) runs after 'refine_objection' (NORMAL 50)" in issue for issue in issues)


def test_layer_missing_from_pipeline(config: Path) -> None:
    path = config / "yaml_config/refinement/pipeline.yaml"
    text = path.read_text(encoding="utf-8")
    start = text.index("  data_aware:")
    end = text.index("  objection:")
    path.write_text(text[:start] + text[end:], encoding="utf-8")
    issues = [issue.render() for issue in ConfigBundle(config).validate() if "data_aware" in issue.render()]
    assert any("layer 'data_aware' is not listed" in issue for issue in issues)


def test_misspelt_intent_used_as_a_key(config: Path) -> None:
    edit(config / "yaml_config/refinement/disambiguation.yaml", "  price_question: {label", "  price_questoin: {label")
    issues = [issue for issue in refinement_issues(config) if "price_questoin" in issue]
    assert issues and issues[0].startswith("yaml_config/refinement/disambiguation.yaml:")
    assert "options.price_questoin: unknown intent 'price_questoin'. Did you mean 'price_question'?" in issues[0]
