"""Soak: 1,000,000 policy evaluations in one process on the shipped ruleset — flat memory, no crash.

Run: ``.venv/bin/python benchmarks/rules_soak.py [--evaluations N]``. Uses the ruleset the
``policy.rules`` node compiles (one durable-rules ruleset, one fixed session id, assert then
retract per evaluation — NOTES.md) with varied envelope facts, so rules fire, chain through a
derived fact, or fire nothing. Prints RSS (VmRSS from /proc) at the start, every 10 %, and at
the end; evaluations per second; firings; errors; and facts left in the session (must be 0).
"""
from __future__ import annotations

import argparse
import gc
import os
import random
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.config import ConfigBundle  # noqa: E402
from engine.rule_engine import rule_host  # noqa: E402
from nodes.context.facts import POLICY_FACTS, with_defaults  # noqa: E402


def rss_mib() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def samples(count: int, seed: int = 7) -> list[dict]:
    """A pool of varied fact sets (cycled), built once so the loop measures the engine."""
    rng = random.Random(seed)
    states = ["greeting", "spin_situation", "spin_problem", "spin_need_payoff", "presentation", "close", "soft_close", "success"]
    intents = ["agreement", "unclear", "objection_price", "price_question", "situation_provided", "demo_request"]
    pool = []
    for _ in range(count):
        facts = with_defaults({
            "turn": rng.randint(1, 30),
            "state": rng.choice(states),
            "intent": rng.choice(intents),
            "frustration": rng.choice([0.0, 2.0, 6.5, 9.0]),
            "unclear_streak": rng.randint(0, 4),
            "has_oscillation": rng.random() < 0.2,
            "essentials_known": rng.random() < 0.4,
            "lead_temperature": rng.choice(["cold", "warm", "hot"]),
            "action_history": rng.sample(["greet", "ask_problem", "gentle_clarification", "present"], rng.randint(0, 3)),
        }, POLICY_FACTS)
        facts.update({
            "next_state": rng.choice(states), "proposed_action": "ask_problem", "moved": rng.random() < 0.5,
            "is_final": facts["state"] == "success", "last_action": rng.choice(["offer_options", "ask_problem"]),
            "fired_rules": rng.sample(["qualified_offer_demo", "unclear_offer_options"], rng.randint(0, 1)),
        })
        pool.append(facts)
    return pool


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--evaluations", type=int, default=1_000_000)
    args = parser.parse_args()
    bundle = ConfigBundle()
    rules = bundle.section("policy_rules").rulesets["dialogue_policy"]
    taxonomy = bundle.section("intents")
    compiled = rule_host().compile("dialogue_policy", rules.definitions())
    pool = samples(1000)
    gc.collect()
    start_rss = rss_mib()
    print(f"ruleset: {len(rules.rules)} rules; pool of {len(pool)} fact sets; RSS at start {start_rss:.1f} MiB")
    firings = errors = 0
    step = max(1, args.evaluations // 10)
    started = lap = time.perf_counter()
    checkpoints = []
    for index in range(args.evaluations):
        evaluation = compiled.evaluate(pool[index % len(pool)], taxonomy.in_category)
        firings += len(evaluation.firings)
        errors += len(evaluation.errors)
        if (index + 1) % step == 0:
            now = time.perf_counter()
            checkpoints.append((index + 1, rss_mib()))
            print(f"  {index + 1:>9,d} evaluations  RSS {checkpoints[-1][1]:7.1f} MiB  {(now - lap) / step * 1e6:6.1f} µs each in this tenth", flush=True)
            lap = now
    elapsed = time.perf_counter() - started
    gc.collect()
    end_rss = rss_mib()
    left = len(compiled.stored_facts())
    print(f"done: {args.evaluations:,d} evaluations in {elapsed:.1f} s ({elapsed / args.evaluations * 1e6:.1f} µs each), {firings:,d} firings, {errors} errors")
    print(f"RSS start {start_rss:.1f} MiB → end {end_rss:.1f} MiB (Δ {end_rss - start_rss:+.1f} MiB; after the first 10 %: {checkpoints[0][1]:.1f} MiB)")
    print(f"facts left in the durable session: {left}; rulesets in the host: {len(rule_host())}")
    if errors or left:
        sys.exit(1)


if __name__ == "__main__":
    main()
