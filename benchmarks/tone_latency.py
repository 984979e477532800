"""Latency of the tone cascade: regex tier, embedding, reference scoring, whole tone_only turn.

    python benchmarks/tone_latency.py [--rounds 5]

Messages are the project's own Russian chat lines (no evaluation data). Prints medians per
message and the ratios that matter: how much cheaper the regex tier is than the semantic one,
and what share of a semantic decision is the model's encode.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

MESSAGES = [
    "Сколько стоит касса для магазина?",
    "ВЫ ИЗДЕВАЕТЕСЬ?!!",
    "спасибо, очень помогли",
    "короче, цена какая",
    "не понял, это как",
    "да это всё развод",
    "Это слишком дорого, не интересует",
    "у нас магазин продуктов, две кассы",
    "ну такое себе(((",
    "опять не работает, сколько можно",
    "Здравствуйте",
    "а если свет отключат, касса будет работать?",
    "мы пока подумаем",
    "звоните завтра после 10",
    "вы мне уже надоели",
    "отлично, жду демонстрацию",
]


def _median_us(function, rounds: int) -> float:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(rounds):
        for message in MESSAGES:
            started = time.perf_counter()
            function(message)
            samples.append((time.perf_counter() - started) * 1e6)
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    from engine.runtime import Runtime
    from engine.state import ConversationState

    runtime = Runtime(None, "tone_only", trace=False, sessions_dir="/tmp/spinflow-bench-tone")
    bundle = runtime.bundle
    analyzer = bundle.section("tone_markers")
    index = bundle.section("tone_references")
    embedder = bundle.resources.get("embedder")
    index.ensure(embedder, bundle.settings.embeddings.cache_dir)
    embedder.encode(["прогрев"])
    vectors = {message: embedder.encode([message.lower()])[0] for message in MESSAGES}

    regex_us = _median_us(lambda message: analyzer.analyze(message.lower(), message, ()), args.rounds)
    encode_us = _median_us(lambda message: embedder.encode([message.lower()]), args.rounds)
    score_us = _median_us(lambda message: index.score(vectors[message]), args.rounds)

    def turn(message: str) -> None:
        runtime.run(ConversationState(conversation_id="bench-tone"), message)

    turn_us = _median_us(turn, args.rounds)
    decided = {}
    for message in MESSAGES:
        tier = runtime.run(ConversationState(conversation_id="bench-tone"), message).values["tone"]["tier"]
        decided[tier] = decided.get(tier, 0) + 1
    print(f"model {embedder.name}; {len(index.texts)} reference examples in {len(index.groups)} groups; {len(MESSAGES)} messages × {args.rounds} rounds")
    print(f"regex tier (markers)        median {regex_us:9.1f} µs")
    print(f"encode one message          median {encode_us:9.1f} µs")
    print(f"score against references    median {score_us:9.1f} µs")
    print(f"tone_only turn (all nodes)  median {turn_us:9.1f} µs   decided by {decided}")
    print(f"ratios: semantic decision / regex = {(encode_us + score_us) / max(regex_us, 1e-9):.0f}×;  encode share of a semantic decision = {encode_us / (encode_us + score_us):.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
