"""Benchmark: held-out NDCG@10 against the demo world's truth, with and without monotone constraints.

Three worlds (seeds 7, 11, 23; ``BENCH_FIT_TALENTS`` talents, 5,000 by default) × two need splits (``random_state``
0, 1), indices without dense vectors (the comparison is between rankers on the same columns, and a first dense
build takes minutes). One row per world and split: LambdaRank with ``monotone=False`` and ``monotone=True``, the
best single-signal baseline, and the iterations early stopping kept. This is how the fit columns (schema 3) and the
``LambdaRankModel`` monotone default were measured (README, "Fit to the post").
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from demo.world import generate_world
from features.indices import Indices
from features.io import load_world
from matcher.train import train
from matcher.truth import load_truth

TALENTS = int(os.environ.get("BENCH_FIT_TALENTS", "5000"))
WORLD_SEEDS = (7, 11, 23)
SPLIT_SEEDS = (0, 1)


def run() -> list[dict]:
    rows = []
    for seed in WORLD_SEEDS:
        with tempfile.TemporaryDirectory(prefix="bench-fit-") as tmp:
            generate_world(Path(tmp), talents=TALENTS, seed=seed)
            world, truth = load_world(Path(tmp)), load_truth(Path(tmp))
        idx = Indices.build(world, encoder=None)
        for split in SPLIT_SEEDS:
            row: dict = {"bench": "fit.ndcg@10", "size": f"{TALENTS} talents, world seed {seed}, split {split}"}
            for monotone in (False, True):
                result = train(idx, world["feedback"], truth=truth, params={"monotone": monotone}, random_state=split)
                m = result.metrics
                tag = "monotone" if monotone else "free"
                row[f"{tag}@10"] = round(m["lambdarank"]["ndcg@10"], 4)
                row[f"{tag}_iterations"] = result.model.best_iteration_
            best = max((b for b in m if b != "lambdarank"), key=lambda b: m[b]["ndcg@10"])
            row |= {"best_baseline": best, "baseline@10": round(m[best]["ndcg@10"], 4)}
            row |= {"goal": "measure (no goal)", "ok": True}
            rows.append(row)
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
