"""Benchmark: what classify.llm costs a turn when the LLM is unreachable.

Run: ``.venv/bin/python benchmarks/llm_breaker.py``. Measures, on the shipped taxonomy and
prompt, ``classify.llm``'s ``run`` with the breaker open (fail fast, no network) against a
cheap reference (``classify.patterns`` on the same text), and one refused connection
(closed loopback port) for comparison. Prints medians in microseconds; compare ratios.
"""
from __future__ import annotations

import socket
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pydantic import BaseModel  # noqa: E402

from engine.config import ConfigBundle, LLMSettings  # noqa: E402
from engine.llm import LLMClient  # noqa: E402
from engine.node import NodeContext, StateView  # noqa: E402
from nodes.classify.llm import LLMClassifier, LLMClassifierConfig  # noqa: E402
from nodes.classify.patterns import PatternClassifier, PatternClassifierConfig  # noqa: E402

TEXT = "здравствуйте сколько стоит ваша касса для аптеки"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def median_us(function: Callable[[], object], repeats: int) -> float:
    for _ in range(min(200, repeats)):
        function()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        samples.append((time.perf_counter() - started) * 1e6)
    return statistics.median(samples)


def main() -> None:
    bundle = ConfigBundle()
    settings = LLMSettings(host=f"http://127.0.0.1:{closed_port()}", max_retries=0, breaker_failures=1, breaker_reset_s=3600)
    client = LLMClient(settings)
    bundle.resources.provide("llm", client)
    node = LLMClassifier(LLMClassifierConfig(), bundle.resources)
    patterns = PatternClassifier(PatternClassifierConfig(), bundle.resources)
    ctx = NodeContext("bench", 1, "classify_llm", {"llm_classifier": True}, 0, {})
    cascade = patterns.run(StateView({"text": TEXT}, patterns.reads, "classify"), ctx)
    state = StateView({"text": TEXT, "turn_index": 1, "dialogue_context": {}, **cascade}, node.reads, "classify_llm")

    started = time.perf_counter()
    node.run(state, ctx)  # first call: refused → the breaker opens
    refused_us = (time.perf_counter() - started) * 1e6
    assert client.breaker.state == "open"
    assert node.run(state, ctx)["classification"]["llm"]["reason"] == "circuit_open"
    open_us = median_us(lambda: node.run(state, ctx), 20_000)
    patterns_us = median_us(lambda: patterns.run(StateView({"text": TEXT}, patterns.reads, "classify"), ctx), 5_000)
    fresh = LLMClient(settings)
    refused_many = median_us(lambda: _refused(fresh), 50)
    print(f"taxonomy: {len(node.taxonomy.intents)} intents; system prompt {len(node.system_text)} chars")
    print(f"classify.llm, breaker open     : {open_us:8.1f} µs per turn")
    print(f"classify.patterns (reference)  : {patterns_us:8.1f} µs per turn  (ratio open/patterns {open_us / patterns_us:.2f})")
    print(f"refused connection, no breaker : {refused_many:8.1f} µs per call  (first node call {refused_us:.0f} µs)")


def _refused(client: LLMClient) -> None:
    client.breaker.record_success()  # keep it closed: measure the network path
    try:
        client.structured([{"role": "user", "content": TEXT}], _Schema)
    except Exception:  # noqa: BLE001 - the failure is the point
        pass


class _Schema(BaseModel):
    intent: str


if __name__ == "__main__":
    main()
