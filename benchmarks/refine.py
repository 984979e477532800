"""Refinement overhead per turn: understand.yaml (with refine.*) vs the same graph without them.

Runs every message (``--data FILE.jsonl`` in the ``eval intents`` format, default the shared
peer cases, else a built-in list) through both graphs, interleaved, several rounds, and prints
medians: the whole turn with and without refinement, their difference, and the sum of the
refine nodes' own time (from the executor's per-node timings). The goal: refinement adds
≤ 0.5 ms p50 per turn over classification.

    .venv/bin/python benchmarks/refine.py [--rounds 3] [--data FILE]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.config import ConfigBundle, default_config_dir  # noqa: E402
from engine.executor import Executor  # noqa: E402
from engine.graph import compile_graph  # noqa: E402
from engine.state import ConversationState  # noqa: E402
from engine.yaml_loader import LoadedYaml  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "peer_cases.jsonl"
FALLBACK = [
    ("да", {"spin_phase": "problem"}), ("1", {"last_bot_message": "Скорость или функционал?"}),
    ("100 человек. Сколько стоит?", {}), ("не уверен нужно ли это вообще", {"state": "handle_objection"}),
    ("5 человек, быстрее давайте", {"last_action": "ask_about_company"}), ("сколько стоит?", {}),
]


def _without_refinement(understand: LoadedYaml) -> LoadedYaml:
    nodes = {node_id: spec for node_id, spec in understand.data["nodes"].items() if not str(spec.get("type", "")).startswith("refine.")}
    data = {**understand.data, "name": "understand_without_refinement", "nodes": nodes}
    return LoadedYaml(understand.file + "#no-refine", data, None, understand.text + "#no-refine")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    args = parser.parse_args()
    if Path(args.data).exists():
        cases = [(row["message"], row.get("context") or {}) for row in map(json.loads, Path(args.data).read_text(encoding="utf-8").splitlines()) if row]
    else:
        cases = FALLBACK
    bundle = ConfigBundle(default_config_dir())
    doc = bundle.file("graphs/understand.yaml")
    with_graph, issues = compile_graph(bundle, doc, bundle.resources)
    without_graph, more = compile_graph(bundle, _without_refinement(doc), bundle.resources)
    if with_graph is None or without_graph is None:
        for issue in issues + more:
            print(issue.render())
        return 2
    flags = bundle.flags(environ={}).snapshot()
    executors = {"with": Executor(with_graph), "without": Executor(without_graph)}
    for executor in executors.values():  # warm up: models, caches
        for message, context in cases[:20]:
            executor.run_turn(ConversationState(conversation_id="warm"), message, flags=flags, dialogue_context=context)
    turn_us: dict[str, list[float]] = {"with": [], "without": []}
    refine_us: list[float] = []
    per_node: dict[str, list[float]] = {}
    delta_us: list[float] = []
    for _round in range(args.rounds):
        for index, (message, context) in enumerate(cases):
            timings = {}
            for name in ("without", "with") if index % 2 else ("with", "without"):
                state = ConversationState(conversation_id=f"bench-{index}")
                started = time.perf_counter()
                result = executors[name].run_turn(state, message, flags=flags, dialogue_context=context)
                timings[name] = (time.perf_counter() - started) * 1e6
                turn_us[name].append(timings[name])
                if name == "with":
                    refine_runs = [run for run in result.runs if run.node_type.startswith("refine.")]
                    refine_us.append(sum(run.duration_us for run in refine_runs))
                    for run in refine_runs:
                        per_node.setdefault(run.node_id, []).append(run.duration_us)
            delta_us.append(timings["with"] - timings["without"])
    p50 = statistics.median
    print(f"{len(cases)} messages × {args.rounds} rounds, flags as shipped")
    print(f"turn p50 without refinement : {p50(turn_us['without']) / 1000:8.3f} ms")
    print(f"turn p50 with refinement    : {p50(turn_us['with']) / 1000:8.3f} ms   (ratio {p50(turn_us['with']) / p50(turn_us['without']):.2f})")
    print(f"paired difference p50       : {p50(delta_us) / 1000:8.3f} ms")
    print(f"refine nodes' own time p50  : {p50(refine_us) / 1000:8.3f} ms   (p95 {sorted(refine_us)[int(len(refine_us) * 0.95)] / 1000:.3f} ms)")
    print("per refine node p50 (µs)    : " + ", ".join(f"{node} {p50(values):.0f}" for node, values in per_node.items()))
    print(f"goal ≤ 0.5 ms p50           : {'met' if p50(refine_us) <= 500 and p50(delta_us) <= 500 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
