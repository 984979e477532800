"""Batch evaluation of scripted dialogues: file format, runner, engines, metrics, comparison.

``spinflow eval dialogues`` (engine/cli/cmd_eval_dialogues.py) is the command; this package
is its logic, usable from tests and benchmarks: ``prepare(EvaluationOptions(...))`` then
``evaluate(prepared)`` returns the report dict that ``--json`` writes.
"""
from __future__ import annotations

from engine.evaluation.compare import Comparison, compare_reports
from engine.evaluation.evaluate import EvaluationOptions, Prepared, evaluate, prepare, shard_paths
from engine.evaluation.spec import Dialogue, DialogueSuite, load_suite

__all__ = [
    "Comparison",
    "Dialogue",
    "DialogueSuite",
    "EvaluationOptions",
    "Prepared",
    "compare_reports",
    "evaluate",
    "load_suite",
    "prepare",
    "shard_paths",
]
