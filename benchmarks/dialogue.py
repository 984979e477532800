"""Benchmark: dialogue management per turn — FSM + policy (median µs), and the other dialogue nodes.

Run: ``.venv/bin/python benchmarks/dialogue.py [--repeat N]``. Scripted dialogues run once
through the full turn graph to capture each dialogue node's real inputs; then each node's
``run`` is replayed on those inputs ``N`` times. Prints medians per turn and the ratio of
the durable-rules policy to the same rules evaluated in plain Python. The machine is shared
and noisy: compare the ratios of one run.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.node import NodeContext, StateView  # noqa: E402
from engine.runtime import Runtime  # noqa: E402
from engine.state import ConversationState  # noqa: E402

DIALOGUES = [
    ["Здравствуйте", "у нас 3 продуктовых магазина, 5 продавцов", "постоянно недостачи и пересорт", "да, теряем прилично",
     "хотим контролировать остатки", "да, интересно", "+7 701 123 45 67"],
    ["Добрый день", "у нас кафе", "сколько стоит?", "дорого", "да", "нет времени", "подумаю"],
    ["да", "1", "ага", "первое", "ок", "да", "1", "ага", "да", "первое"],
    ["ывапролд", "asdkjh", "qwzx", "покажите демо", "сколько стоит?", "не интересно"],
]
NODES = ("window", "lead_score", "guard", "envelope", "objection", "fsm", "policy")


def capture(runtime: Runtime) -> list[dict[str, tuple[dict, NodeContext]]]:
    """Per turn: node id → (inputs, context) as the executor gave them."""
    turns = []
    for index, messages in enumerate(DIALOGUES):
        conversation = ConversationState(conversation_id=f"bench-{index}", frustration=7.0 if index == 3 else 0.0)
        for message in messages:
            result = runtime.run(conversation, message)
            conversation = result.conversation_after
            captured = {}
            for run in result.runs:
                if run.node_id in NODES and run.status == "ok":
                    ctx = NodeContext(result.conversation_id, result.turn_index, run.node_id, result.flags, 0, {}, False)
                    captured[run.node_id] = (dict(run.inputs), ctx)
            turns.append(captured)
    return turns


def time_node(runtime: Runtime, node_id: str, turns: list[dict], repeat: int) -> list[float]:
    """Median µs of one node's run() per captured turn."""
    node = runtime.graph.node(node_id)
    out = []
    for captured in turns:
        if node_id not in captured:
            continue
        inputs, ctx = captured[node_id]
        samples = []
        for _ in range(repeat):
            view = StateView(inputs, node.reads, node_id)
            started = time.perf_counter()
            node.instance.run(view, ctx)
            samples.append((time.perf_counter() - started) * 1e6)
        out.append(statistics.median(samples))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    runtime = Runtime(None, "turn", trace=False)
    turns = capture(runtime)
    print(f"{len(turns)} turns captured from {len(DIALOGUES)} scripted dialogues; {args.repeat} repeats each")
    medians = {node_id: time_node(runtime, node_id, turns, args.repeat) for node_id in NODES}
    print(f"{'node':12s} {'median µs/turn':>15s} {'p90':>8s} {'max':>8s}")
    for node_id, values in medians.items():
        ordered = sorted(values)
        print(f"{node_id:12s} {statistics.median(values):15.1f} {ordered[int(0.9 * (len(ordered) - 1))]:8.1f} {ordered[-1]:8.1f}")
    both = [fsm + policy for fsm, policy in zip(medians["fsm"], medians["policy"], strict=True)]
    print(f"{'fsm+policy':12s} {statistics.median(both):15.1f}")
    dialogue_total = [sum(values) for values in zip(*(medians[node_id] for node_id in NODES), strict=True)]
    print(f"{'all dialogue':12s} {statistics.median(dialogue_total):15.1f}  (window, lead, guard, envelope, objection, fsm, policy)")

    policy = runtime.graph.node("policy").instance
    facts = [policy.facts(StateView(captured["policy"][0], runtime.graph.node("policy").reads, "policy"), captured["policy"][1]) for captured in turns if "policy" in captured]
    in_category = policy._in_category
    durable, python = [], []
    for sample in facts:
        started = time.perf_counter()
        for _ in range(args.repeat):
            policy.compiled.evaluate(sample, in_category)
        durable.append((time.perf_counter() - started) * 1e6 / args.repeat)
        started = time.perf_counter()
        for _ in range(args.repeat):
            policy.compiled.evaluate_python(sample, in_category)
        python.append((time.perf_counter() - started) * 1e6 / args.repeat)
    rules = len(policy.rules)
    print(f"policy ruleset ({rules} rules): durable-rules {statistics.median(durable):.1f} µs, plain Python {statistics.median(python):.1f} µs "
          f"per evaluation (ratio {statistics.median(durable) / statistics.median(python):.1f}x)")
    print(f"durable session facts left after the run: {len(policy.compiled.stored_facts())}")


if __name__ == "__main__":
    main()
