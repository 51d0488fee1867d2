"""Ranking benchmarks: retrieval recall@300 on the demo world, retrieval latency, and ranking one need end to end
(retrieval + eligibility + feature matrix + LightGBM + reasons for a page of 20) at 100k talents.

Recall is measured against the demo world's hidden truth (grade ≥ 1), three ways, averaged over needs:

- ``recall_eligible``: relevant talents that pass the need's hard rules and are in the 300 candidates, over the
  relevant ones passing the rules — what retrieval can be asked for (the issue's goal, ≥ 0.95);
- ``recall_all``: the same over every relevant talent; capped by the share the rules let through (the truth knows
  nothing of consent, tier or availability);
- ``reach_all``: every relevant talent found by any retriever before the rules, over every relevant one.

The 100k world has dense vectors that are random unit vectors put in a throwaway cache under the real encoder's
name (encoding 100k profiles and their works for real takes many minutes): search and scoring cost the same
whatever the values, and need queries are still encoded for real. The model is a LambdaRank booster trained on
random rows of the schema's width, shaped like the demo's trained champion (``TREES`` trees of ``LambdaRankModel``'s
default leaves; the demo champion stopped at 187 trees of 7 leaves); ``rank.model`` shows what the model costs at
``TREES`` and three times as many: LightGBM's exact TreeSHAP
contributions for the page, not the scores, are the expensive part. "cold" is the first
ranking of a need after the graph changed (personalized PageRank and route distances computed for it), "warm"
ranking it again (those cached per graph version, as in a paging or refreshing recruiter's second request).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import lightgbm as lgb
import numpy as np

from demo.world import generate_world
from features.dense import DEFAULT_ENCODER, VectorCache, get_encoder, need_parts, talent_parts
from features.eligibility import check
from features.indices import Indices
from features.io import load_world
from features.matrix import feature_matrix
from features.schema import SCHEMA
from matcher.pipeline import rank
from matcher.ranker import NO_ENCODER, EncoderId, LambdaRankModel, Scorer, indices_encoder
from matcher.retrieve import Quotas, retrieve
from matcher.truth import load_truth as read_truth

ROOT = Path(__file__).resolve().parents[1]
VECTORS = ROOT / "data" / "vectors"
K = 300
BIG = 100_000
LATENCY_NEEDS = 150
TREES = 200
LEAVES = LambdaRankModel().num_leaves


def _pct(ts: list[float]) -> tuple[float, float]:
    return round(float(np.percentile(ts, 50)) * 1e3, 2), round(float(np.percentile(ts, 99)) * 1e3, 2)


def _recall(tmp: Path) -> list[dict]:
    """Recall of the first stage on the indices serving builds (``Indices.build`` never indexes feedback)."""
    world = tmp / "demo"
    generate_world(world, talents=5000, seed=7)
    idx = Indices.build(load_world(world), encoder=DEFAULT_ENCODER, cache_dir=VECTORS)
    truth = read_truth(world)
    eligible, every, reach, cold, warm = [], [], [], [], []
    for need_id, graded in truth.items():
        need = idx.needs[need_id]
        rel = list(graded)
        passed = check(need, idx.table, idx.table.rows(rel)).passed
        t = time.perf_counter()
        c = retrieve(idx, need, k=K)
        cold.append(time.perf_counter() - t)
        t = time.perf_counter()
        retrieve(idx, need, k=K)
        warm.append(time.perf_counter() - t)
        got = set(c.talent_ids)
        pool = got | set(c.removed_ids) | {i for ids in c.sources.values() for i in ids}
        ok = [r for r, p in zip(rel, passed, strict=True) if p]
        if ok:
            eligible.append(len(got & set(ok)) / len(ok))
        every.append(len(got & set(rel)) / len(rel))
        reach.append(len(pool & set(rel)) / len(rel))
    size = f"5,000 talents, {len(truth)} needs (seed 7, dense {DEFAULT_ENCODER})"
    return [
        {
            "bench": "rank.recall@300",
            "size": size,
            "recall_eligible": round(float(np.mean(eligible)), 4),
            "recall_all": round(float(np.mean(every)), 4),
            "reach_all": round(float(np.mean(reach)), 4),
            "goal": "recall_eligible ≥ 0.95",
            "ok": float(np.mean(eligible)) >= 0.95,
        },
        *(
            {"bench": f"rank.retrieve ({label})", "size": size, "p50_ms": _pct(ts)[0], "p99_ms": _pct(ts)[1]}
            | {"goal": "-", "ok": True}
            for label, ts in (("cold", cold), ("warm", warm))
        ),
    ]


def _fill_random_vectors(records: dict, cache_dir: Path) -> None:
    """Random unit vectors for every talent and need passage, under the real encoder's name (see module doc)."""
    enc = get_encoder(DEFAULT_ENCODER)
    texts = [x for t in records["talent"] for p, ws in [talent_parts(t)] for x in (p, *ws)]
    texts += [need_parts(n)[0] for n in records["need"]]
    texts = [t for t in dict.fromkeys(texts) if t]
    rng = np.random.default_rng(0)
    cache = VectorCache(cache_dir)
    for i in range(0, len(texts), 50_000):
        chunk = texts[i : i + 50_000]
        v = rng.standard_normal((len(chunk), enc.dim), dtype=np.float32)
        cache.put(enc, chunk, v / np.linalg.norm(v, axis=1, keepdims=True))


def _scorer(trees: int, encoder: EncoderId = NO_ENCODER) -> Scorer:
    """A random model of ``trees`` trees, pinned to the dense encoder of the indices it will score."""
    rng = np.random.default_rng(0)
    X = rng.random((20_000, len(SCHEMA.names)), dtype=np.float32)
    y = rng.integers(0, 5, size=len(X))
    ranker = lgb.LGBMRanker(n_estimators=trees, num_leaves=LEAVES, min_child_samples=5, verbose=-1, random_state=0)
    ranker.fit(X, y, group=[100] * (len(X) // 100), feature_name=SCHEMA.names)
    return Scorer(ranker.booster_, f"bench-random-{trees}", SCHEMA.version, encoder)


def _model_cost() -> list[dict]:
    """What the model adds per request: scores for 300 candidates, contributions (TreeSHAP) for a page of 20."""
    rows = []
    X = np.random.default_rng(1).random((K, len(SCHEMA.names)), dtype=np.float32)
    for trees in (TREES, 3 * TREES):
        scorer = _scorer(trees)
        predict, contrib = [], []
        for _ in range(30):
            t = time.perf_counter()
            scorer.predict(X)
            predict.append(time.perf_counter() - t)
            t = time.perf_counter()
            scorer.contributions(X[:20])
            contrib.append(time.perf_counter() - t)
        rows.append(
            {
                "bench": "rank.model",
                "size": f"{trees} trees of {LEAVES} leaves; predict {K} rows, contributions 20",
                "predict_p50_ms": _pct(predict)[0],
                "contrib_p50_ms": _pct(contrib)[0],
                "p99_ms": _pct([a + b for a, b in zip(predict, contrib, strict=True)])[1],
                "goal": "-",
                "ok": True,
            }
        )
    return rows


def _latency(tmp: Path) -> list[dict]:
    world = tmp / "big"
    generate_world(world, talents=BIG, seed=7)
    records = load_world(world)
    _fill_random_vectors(records, tmp / "vectors")
    idx = Indices.build(records, encoder=DEFAULT_ENCODER, cache_dir=tmp / "vectors")
    scorer = _scorer(TREES, indices_encoder(idx))
    no_dense = Quotas(dense=0)
    needs = list(idx.needs.values())[:LATENCY_NEEDS]
    times: dict[str, list[float]] = {"cold": [], "warm": [], "warm, no dense retriever": []}
    stages: dict[str, list[float]] = {"retrieve": [], "matrix": [], "model": [], "reasons": []}
    for need in needs:
        for label, quotas in (("cold", None), ("warm", None), ("warm, no dense retriever", no_dense)):
            t = time.perf_counter()
            rank(idx, need, scorer=scorer, k=20, quotas=quotas)
            times[label].append(time.perf_counter() - t)
        t0 = time.perf_counter()
        c = retrieve(idx, need, k=K)
        t1 = time.perf_counter()
        X = feature_matrix(idx, need, c.talent_ids, eligibility=c.eligibility)
        t2 = time.perf_counter()
        s = scorer.predict(X)
        scorer.contributions(X[np.argsort(-s)[:20]])
        t3 = time.perf_counter()
        for key, dt in zip(stages, (t1 - t0, t2 - t1, t3 - t2), strict=False):
            stages[key].append(dt)
        stages["reasons"].append(max(0.0, times["warm"][-1] - (t3 - t0)))
    size = f"{BIG:,} talents, {len(idx.needs):,} needs; {len(needs)} needs ranked, page of 20"
    note = (
        f"dense vectors random (real encoder for queries); model: {TREES} trees on random rows; "
        "cold = first ranking of a need after a graph change (PPR and routes computed)"
    )
    rows = []
    for label, ts in times.items():
        p50, p99 = _pct(ts)
        rows.append(
            {
                "bench": f"rank.end_to_end ({label})",
                "size": size,
                "p50_ms": p50,
                "p99_ms": p99,
                "goal": "≤ 15 ms p99",
                "ok": p99 <= 15,
                "note": note,
            }
        )
    rows[1].update({f"{k}_p50_ms": _pct(v)[0] for k, v in stages.items()})
    return rows


def run() -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="bench-rank-") as tmp:
        return _recall(Path(tmp)) + _model_cost() + _latency(Path(tmp))
