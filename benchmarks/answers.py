"""Benchmark of the answer side: knowledge retrieval per stage, the responder, fallback and CTA.

Prints medians (µs) measured in one run; compare ratios, not absolute numbers (2 shared cores).

    .venv/bin/python benchmarks/answers.py [--questions evals/kb_questions.jsonl] [--rounds 5]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.config import ConfigBundle  # noqa: E402
from engine.executor import Executor  # noqa: E402
from engine.graph import compile_graph  # noqa: E402
from engine.registry import load_builtin_nodes  # noqa: E402
from engine.state import ConversationState  # noqa: E402
from nodes.normalize.text import normalize  # noqa: E402

GRAPH = """
version: 1
name: answers_bench
inputs: [action, intent]
nodes:
  normalize: {type: normalize.text}
  knowledge: {type: knowledge.retrieve, after: [normalize]}
  respond: {type: respond.template, after: [knowledge]}
  fallback: {type: fallback.tiers, after: [respond]}
  cta: {type: cta.generate, after: [fallback]}
"""


def median_us(samples: list[float]) -> float:
    return statistics.median(samples) * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--questions", default="evals/kb_questions.jsonl")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    load_builtin_nodes()
    questions = [json.loads(line)["question"] for line in Path(args.questions).read_text(encoding="utf-8").splitlines() if line.strip()]
    texts = [normalize(question)[0] for question in questions]
    bundle = ConfigBundle()
    started = time.perf_counter()
    retriever = bundle.resources.get("knowledge_retriever")
    print(f"retriever build (lemmatise {len(retriever.kb)} sections): {(time.perf_counter() - started) * 1e3:.1f} ms")
    started = time.perf_counter()
    retriever.warm(semantic=True)
    print(f"semantic warm-up (model load + section embeddings, cached on disk after the first run): {(time.perf_counter() - started) * 1e3:.0f} ms")

    per_stage: dict[str, list[float]] = {}
    lexical, with_semantic = [], []
    for _ in range(args.rounds):
        for text in texts:
            begun = time.perf_counter()
            result = retriever.search(text, semantic=False)
            lexical.append(time.perf_counter() - begun)
            for stage, micros in result.timings_us.items():
                per_stage.setdefault(stage, []).append(micros / 1e6)
            begun = time.perf_counter()
            semantic_result = retriever.search(text, semantic=True)
            with_semantic.append(time.perf_counter() - begun)
            if "semantic" in semantic_result.timings_us:
                per_stage.setdefault("semantic", []).append(semantic_result.timings_us["semantic"] / 1e6)
    print(f"\nretrieval over {len(texts)} questions × {args.rounds} rounds (median µs)")
    print(f"  lexical cascade (exact → lemma)  : {median_us(lexical):8.1f}")
    print(f"  with the semantic stage allowed  : {median_us(with_semantic):8.1f}   ratio {statistics.median(with_semantic) / statistics.median(lexical):.1f}×")
    for stage in ("tokenize", "exact", "lemma", "semantic", "total"):
        if stage in per_stage:
            print(f"  stage {stage:<9}                 : {median_us(per_stage[stage]):8.1f}   (n={len(per_stage[stage])})")

    from engine.yaml_loader import load_yaml

    with tempfile.TemporaryDirectory() as scratch:
        graph_file = Path(scratch) / "answers_bench.yaml"
        graph_file.write_text(GRAPH, encoding="utf-8")
        doc, _issues = load_yaml(graph_file)
    graph, issues = compile_graph(bundle, doc, bundle.resources)
    if graph is None:
        print("\n".join(issue.render() for issue in issues))
        return 1
    executor = Executor(graph)
    flags = {**bundle.settings.feature_flags, "kb_semantic": False}
    per_node: dict[str, list[float]] = {}
    turns: list[float] = []
    state = ConversationState(conversation_id="bench", state="spin_problem", turn_count=3)
    for _ in range(args.rounds):
        for question in questions:
            begun = time.perf_counter()
            result = executor.run_turn(state, question, flags=flags, extra_inputs={"action": "answer_question", "intent": "question_features"})
            turns.append(time.perf_counter() - begun)
            state = result.conversation_after if result.conversation_after.turn_count < 40 else ConversationState(conversation_id="bench", state="spin_problem", turn_count=3)
            for run in result.runs:
                per_node.setdefault(run.node_id, []).append(run.duration_us / 1e6)
    print(f"\nanswer graph (normalize → knowledge → respond → fallback → cta), lexical retrieval, {len(turns)} turns (median µs)")
    for node_id, samples in per_node.items():
        print(f"  {node_id:<10}: {median_us(samples):8.1f}")
    print(f"  whole turn: {median_us(turns):8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
