"""``spinflow train``: build the semantic stage's intent model from the taxonomy examples.

Trains only when the model for the current examples and settings is missing (the folder name
is their hash) unless ``--force``; prints the key, the folder, the training time and the size
on disk. ``make`` runs it after the venv so the first chat turn does not pay for training.
"""
from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path
from typing import Any

from engine.cli.common import add_config_args, console
from engine.config import ConfigBundle
from engine.errors import EngineError
from engine.resources import Resources

__all__ = ["register", "run", "folder_size"]


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("train", help="train the semantic stage's intent model from yaml_config/intents examples")
    parser.add_argument("--force", action="store_true", help="retrain even if the model for the current examples exists")
    parser.add_argument("--keep-old", action="store_true", help="keep models trained for earlier examples (removed by default)")
    parser.add_argument("--json", dest="as_json", action="store_true", help="print the result as JSON")
    add_config_args(parser, flags=False)
    parser.set_defaults(func=run)


def folder_size(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def run(args: argparse.Namespace) -> int:
    from nodes.classify.intent_encoder import trained_model_status

    bundle = ConfigBundle(args.config_dir)
    bundle.raise_if_invalid()
    resources = Resources(bundle)
    settings = bundle.section("semantic_model")
    if settings is None or not settings.enabled:
        raise EngineError("the trained semantic model is disabled: set enabled: true in yaml_config/nlu/semantic_model.yaml")
    if args.force:
        folder, _reason = trained_model_status(resources, train=False)
        if folder is not None:
            shutil.rmtree(folder)
    started = time.perf_counter()
    folder, reason = trained_model_status(resources, train=True)
    if folder is None:
        raise EngineError(reason)
    path = Path(folder)
    # Models of earlier examples/settings are never loaded again (the key is a content hash).
    stale = [old for old in path.parent.glob("intents-*") if old.is_dir() and old != path and not args.keep_old]
    for old in stale:
        shutil.rmtree(old, ignore_errors=True)
    report: dict[str, Any] = {}
    if (path / "spinflow_training.json").exists():
        report = json.loads((path / "spinflow_training.json").read_text(encoding="utf-8"))
    result: dict[str, Any] = {"folder": str(path), "status": reason, "seconds": round(time.perf_counter() - started, 2), "size_bytes": folder_size(path), "removed_stale": len(stale), "training": report}
    if args.as_json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return 0
    console.print(f"[green]ok[/] {reason}")
    console.print(f"  folder {path}  ({result['size_bytes'] / 1e6:.1f} MB on disk)")
    if report:
        console.print(f"  {report['examples']} examples, {report['intents']} intents, vocabulary {report['vocabulary']}, {report['steps']} steps, trained in {report['seconds']} s, final loss {report['final_loss']}")
    return 0
