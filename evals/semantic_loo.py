"""Leave-one-out accuracy of the semantic stage's embedding on the taxonomy examples.

Our own data (yaml_config/intents/*.yaml), so fair to tune on. For each text variant (raw
normalised text, transliterated) and each scoring (nearest example, mean of the top 3,
per-intent centroid) prints LOO accuracy and the precision of the nearest example above
similarity cut-offs — the numbers the cascade's ``semantic_floor``/``semantic_ceiling`` come from.

    HF_HUB_OFFLINE=1 .venv/bin/python evals/semantic_loo.py
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.config import ConfigBundle, default_config_dir  # noqa: E402
from nodes.classify.semantic import SemanticIndex  # noqa: E402,F401  (registers "embedder")

__all__ = ["loo_scores", "main"]

CUTS = (0.8, 0.85, 0.9, 0.93, 0.95)


def loo_scores(matrix: np.ndarray, labels: np.ndarray, n_intents: int, mode: str) -> np.ndarray:
    """Per example × intent score with the example itself left out."""
    sims = matrix @ matrix.T
    np.fill_diagonal(sims, -np.inf)
    out = np.full((len(labels), n_intents), -1.0)
    for intent in range(n_intents):
        cols = np.where(labels == intent)[0]
        sub = sims[:, cols]
        if mode == "nearest":
            out[:, intent] = sub.max(1)
        elif mode == "top3":
            ordered = np.sort(sub, 1)[:, ::-1][:, :3]
            finite = np.isfinite(ordered)
            out[:, intent] = np.where(finite, ordered, 0).sum(1) / np.maximum(finite.sum(1), 1)
        else:  # centroid without the example itself
            totals = np.tile(matrix[cols].sum(0), (len(labels), 1))
            totals[cols] -= matrix[cols]
            norms = np.linalg.norm(totals, axis=1, keepdims=True)
            out[:, intent] = (matrix * (totals / np.maximum(norms, 1e-9))).sum(1)
    return out


def main() -> int:
    bundle = ConfigBundle(default_config_dir())
    taxonomy, lemmas, translit = bundle.section("intents"), bundle.section("lemmas"), bundle.section("translit")
    examples = [(intent, lemmas.prepare(text)) for intent, text in taxonomy.examples()]
    intents = sorted({intent for intent, _ in examples})
    labels = np.array([intents.index(intent) for intent, _ in examples])
    embedder = bundle.resources.get("embedder")
    print(f"{len(examples)} examples, {len(intents)} intents, model {embedder.name}")
    for variant, prepare in (("raw", lambda text: text), ("translit", translit)):
        started = time.perf_counter()
        matrix = np.asarray(embedder.encode([prepare(text) for _, text in examples]), dtype="float32")
        print(f"{variant}: encoded in {time.perf_counter() - started:.1f} s")
        for mode in ("nearest", "top3", "centroid"):
            scores = loo_scores(matrix, labels, len(intents), mode)
            right = scores.argmax(1) == labels
            line = f"  {mode:9s} LOO accuracy {right.mean():.3f}"
            if mode == "nearest":
                top = scores.max(1)
                line += "".join(f" | ≥{cut}: {int((top >= cut).sum())} at {right[top >= cut].mean() if (top >= cut).any() else 0:.2f}" for cut in CUTS)
            print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
