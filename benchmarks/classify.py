"""Latency of the intent cascade: per stage and end to end, semantic stage off vs on.

    .venv/bin/python benchmarks/classify.py [--file cases.jsonl] [--limit N] [--rounds R]

Messages: the taxonomy examples (default) or the ``message`` field of a JSONL file. Each
message is first run once (cold: pymorphy and the example index warm up, the embedding
model loads), then ``--rounds`` more times; medians and p95 of the warm runs are printed.
"Cascade" is ``classify.cascade`` alone (its own per-stage timer); "turn" is the whole
``classify_only`` graph (normalize → cascade → extract) through the executor.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from engine.runtime import Runtime  # noqa: E402
from engine.state import ConversationState  # noqa: E402


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] if ordered else 0.0


def messages_from(args: argparse.Namespace, runtime: Runtime) -> list[str]:
    if args.file:
        rows = [json.loads(line) for line in Path(args.file).read_text(encoding="utf-8").splitlines() if line.strip()]
        texts = [row["message"] for row in rows]
    else:
        texts = [text for _intent, text in runtime.bundle.section("intents").examples()]
    return texts[: args.limit] if args.limit else texts


def measure(semantic: bool, texts: list[str], rounds: int) -> dict[str, object]:
    runtime = Runtime(None, "classify_only", trace=False, flag_overrides={"semantic_stage": semantic})
    node = next(node for node in runtime.graph.order if node.type_name == "classify.cascade")
    stage_times: dict[str, list[float]] = {}
    decided: dict[str, int] = {}
    turn_ms: list[float] = []
    cascade_ms: list[float] = []
    cold_started = time.perf_counter()
    for text in texts:  # cold pass
        runtime.run(ConversationState(conversation_id="bench", flow=runtime.bundle.settings.flow), text)
    cold_s = time.perf_counter() - cold_started
    for _round in range(rounds):
        for text in texts:
            state = ConversationState(conversation_id="bench", flow=runtime.bundle.settings.flow)
            started = time.perf_counter()
            result = runtime.run(state, text)
            turn_ms.append((time.perf_counter() - started) * 1000)
            record = result.values["classification"]
            decided[record["stage"]] = decided.get(record["stage"], 0) + 1
            run = next(run for run in result.runs if run.node_id == node.node_id)
            cascade_ms.append(run.duration_us / 1000)
            for stage, micros in record["timings_us"].items():
                if stage != "total":
                    stage_times.setdefault(stage, []).append(micros / 1000)
    return {"semantic": semantic, "cold_s": cold_s, "turn": turn_ms, "cascade": cascade_ms, "stages": stage_times, "decided": decided}


def report(result: dict[str, object], count: int) -> None:
    label = "semantic ON " if result["semantic"] else "semantic OFF"
    cascade, turn = result["cascade"], result["turn"]
    print(f"\n{label}: {count} messages, cold pass {result['cold_s']:.2f} s")
    print(f"  cascade node   median {statistics.median(cascade):8.3f} ms   p95 {p95(cascade):8.3f} ms")
    print(f"  whole turn     median {statistics.median(turn):8.3f} ms   p95 {p95(turn):8.3f} ms")
    for stage in ("patterns", "roots", "lemmas", "semantic"):
        values = result["stages"].get(stage)  # type: ignore[union-attr]
        if values:
            print(f"  stage {stage:9s} ran {len(values):6d}×  median {statistics.median(values):8.3f} ms   p95 {p95(values):8.3f} ms")
    total = sum(result["decided"].values())  # type: ignore[union-attr]
    shares = ", ".join(f"{stage} {n / total:.0%}" for stage, n in sorted(result["decided"].items(), key=lambda item: -item[1]))  # type: ignore[union-attr]
    print(f"  decided by: {shares}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--file", help="JSONL with a 'message' field (default: the taxonomy examples)")
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-semantic", action="store_true", help="only measure with the semantic stage off")
    args = parser.parse_args()
    probe = Runtime(None, "classify_only", trace=False)
    texts = messages_from(args, probe)
    off = measure(False, texts, args.rounds)
    report(off, len(texts))
    if not args.skip_semantic:
        on = measure(True, texts, max(1, args.rounds // 3))
        report(on, len(texts))
        ratio = statistics.median(on["cascade"]) / statistics.median(off["cascade"])  # type: ignore[arg-type]
        print(f"\ncascade median, semantic on / off: {ratio:.1f}×")
    return 0


if __name__ == "__main__":
    sys.exit(main())
