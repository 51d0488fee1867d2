"""Benchmark: LambdaRank training time at 1M rows on 2 cores, and the demo world's held-out NDCG@10 table.

The 1M rows are synthesised from real ones: the demo world's training rows (feature matrices of real needs and
candidates, schema width) are resampled by whole need groups and jittered (continuous columns ×(1 ± 5 %)), so the
value distributions, group sizes and label mix are realistic while the count reaches the goal. Training runs a
fixed number of rounds (no early stopping) so the time measures the work, not the data's convergence.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np

from demo.world import generate_world
from features.dense import DEFAULT_ENCODER
from features.indices import Indices
from features.io import load_world
from features.schema import SCHEMA
from matcher.dataset import build_rank_data, snapshot_time
from matcher.evaluate import split_needs
from matcher.labels import labels_from_feedback
from matcher.ranker import LambdaRankModel
from matcher.train import DEFAULT_MODE, train
from matcher.truth import load_truth

ROWS = int(os.environ.get("BENCH_TRAIN_ROWS", "1000000"))
ROUNDS = 100
GOAL_SECONDS = 60.0
GOAL_NDCG = 0.85
GOAL_RATIO = 1.15
ENCODER = os.environ.get("BENCH_TRAIN_ENCODER", DEFAULT_ENCODER)
CACHE = Path(__file__).resolve().parents[1] / "data" / "vectors"


def synthesise(X: np.ndarray, y: np.ndarray, group: np.ndarray, rows: int, seed: int = 0) -> tuple:
    """Resample whole groups until ``rows`` rows, jittering the non-binary columns."""
    rng = np.random.default_rng(seed)
    starts = np.concatenate([[0], np.cumsum(group)[:-1]])
    picks = rng.integers(0, len(group), int(rows / group.mean() * 1.1))
    sizes = group[picks]
    picks = picks[: int(np.searchsorted(np.cumsum(sizes), rows)) + 1]
    index = np.concatenate([np.arange(starts[p], starts[p] + group[p]) for p in picks])[:rows]
    sizes = group[picks].copy()
    sizes[-1] -= sizes.sum() - rows
    Xs = X[index]
    binary = np.all(np.isin(X, (0.0, 1.0)), axis=0)
    Xs[:, ~binary] *= rng.uniform(0.95, 1.05, (rows, int((~binary).sum()))).astype(np.float32)
    return Xs, y[index], sizes[sizes > 0]


def run() -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        generate_world(Path(tmp), talents=5000, seed=7)
        world = load_world(Path(tmp))
        truth = load_truth(Path(tmp))
    t0 = time.perf_counter()
    idx = Indices.build(world, encoder=ENCODER or None, cache_dir=CACHE)
    build_s = time.perf_counter() - t0
    feedback = world["feedback"]

    t0 = time.perf_counter()
    result = train(idx, feedback, truth=truth)
    train_s = time.perf_counter() - t0
    m = result.metrics
    best_name = max(("random", "bm25", "dense", "concept", "blend"), key=lambda b: m[b]["ndcg@10"])
    ndcg, best = m["lambdarank"]["ndcg@10"], m[best_name]["ndcg@10"]
    rows = [
        {
            "bench": "train.demo_ndcg",
            "size": f"5000 talents, {len(result.splits.test)} held-out needs",
            "encoder": ENCODER or "none",
            "ndcg@10": ndcg,
            **{f"{name}@10": m[name]["ndcg@10"] for name in m if name != "lambdarank"},
            "ratio_to_best": round(ndcg / best, 3),
            "best_baseline": best_name,
            "recall@300": m["lambdarank"].get("recall@300"),
            "train_rows": result.rows["train"],
            "best_iteration": result.model.best_iteration_,
            "seconds": round(train_s, 1),
            "index_seconds": round(build_s, 1),
            "goal": f"ndcg@10 >= {GOAL_NDCG} and >= {GOAL_RATIO}x best baseline",
            "ok": ndcg >= GOAL_NDCG and ndcg >= GOAL_RATIO * best,
        }
    ]

    labels = labels_from_feedback(feedback)
    splits = split_needs(sorted({n for n, _ in labels} & set(idx.needs)))
    base = build_rank_data(
        idx, [idx.needs[n] for n in splits.train], labels, mode=DEFAULT_MODE, now=snapshot_time(feedback)
    )
    X, y, group = synthesise(base.X, base.y, base.group, ROWS)
    model = LambdaRankModel(n_estimators=ROUNDS, n_jobs=2, random_state=0)
    t0 = time.perf_counter()
    model.fit(X, y, group)
    seconds = time.perf_counter() - t0
    rows.append(
        {
            "bench": "train.lambdarank_1m",
            "size": f"{len(X):,} rows x {X.shape[1]} features ({len(group):,} needs)",
            "rounds": ROUNDS,
            "threads": 2,
            "seconds": round(seconds, 1),
            "rows_per_second": round(len(X) * ROUNDS / seconds),
            "note": f"rows resampled from {len(base):,} real demo rows by need group, jittered",
            "goal": f"<= {GOAL_SECONDS:.0f} s",
            "ok": seconds <= GOAL_SECONDS and X.shape[1] == len(SCHEMA.names),
        }
    )
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
