"""Running workers moving onto a newer index snapshot (``service.sync.Sync.pickup``): what it frees and how long it
takes.

A demo world (seed 7) served by ``talentmatch serve --workers 2`` from its snapshot (encoder none, champion as in
``bench restart``); another process then writes ``BENCH_PICKUP_WRITES`` talents (default 5,000: copies of stored
ones under new ids) into the store, which both workers apply from the change journal into their private memory.
Then ``talentmatch index snapshot``'s function publishes a newer snapshot (the old one caught up from the journal)
and the workers, polling every second, move onto it. Memory from ``/proc/PID/smaps_rollup`` per worker after one
ranking each, before the publish and after the move; seconds from the publish to both workers serving it.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import httpx

from bench.bench_api import _champion, imported_world, served
from bench.bench_snapshot import smaps
from service import snapshots, sync
from service.settings import Settings
from service.store import Store

SIZES = [int(s) for s in os.environ.get("BENCH_PICKUP_SIZES", "100000").split(",")]
WRITES = int(os.environ.get("BENCH_PICKUP_WRITES", "5000"))
ENV = {"TALENTMATCH_SYNC_SECONDS": "0.5", "TALENTMATCH_SNAPSHOT_POLL_SECONDS": "1"}


def _workers(base: str, need: str, key: str, until, timeout: float = 600) -> dict[int, dict]:
    """Each worker's ``/readyz`` once ``until(ready)`` holds for both, after one ranking each (its pages touched)."""
    seen: dict[int, dict] = {}
    deadline = time.monotonic() + timeout
    while len(seen) < 2:
        assert time.monotonic() < deadline, f"workers not there within {timeout} s: {seen}"
        ready = httpx.get(f"{base}/readyz", timeout=30).json()  # a fresh connection: either worker
        if ready["pid"] not in seen and until(ready):
            got = httpx.get(f"{base}/needs/{need}/candidates?k=20", timeout=120,
                            headers={"Authorization": f"Bearer {key}"})  # fmt: skip
            assert got.status_code == 200, got.text
            seen[ready["pid"]] = ready
        time.sleep(0.05)
    return seen


def _memory(pids) -> dict:
    m = [smaps(pid) for pid in pids]
    return {"pss_mb": [round(x["Pss"]) for x in m], "pss_anon_mb": [round(x["Pss_Anon"]) for x in m],
            "rss_mb": [round(x["Rss"]) for x in m]}  # fmt: skip


def _measure(n: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-pickup-") as tmp_name:
        tmp = Path(tmp_name)
        url, key, needs = imported_world(tmp, n)
        _champion(tmp / "models")
        need = needs[0].id
        settings = Settings(database_url=url, encoder="none", snapshot_dir=tmp / "snapshots",
                            vector_cache_dir=tmp / "vectors")  # fmt: skip
        snapshots.ensure(settings)
        with served(url, tmp, ENV, workers=2) as (base, _):
            first = _workers(base, need, key, lambda r: True)
            with Store(url) as store:
                some = [t for _, t in zip(range(WRITES), store.iter_records("talent"), strict=False)]
                assert store.upsert([t.model_copy(update={"id": f"pickup-{i}"}) for i, t in enumerate(some)]).ok
            caught = _workers(base, need, key, lambda r: r["talents"] == n + WRITES)
            before = _memory(caught)
            t0 = time.perf_counter()
            with Store(url) as store:
                path = snapshots.save(store, settings, sync.fresh_snapshot(store, settings))
            published = time.perf_counter() - t0
            t1 = time.perf_counter()
            moved = _workers(base, need, key, lambda r: r["snapshot"] == path.name)
            took = time.perf_counter() - t1
            after = _memory(moved)
    return {"bench": "serve.snapshot_pickup", "size": n, "written": WRITES, "workers": len(moved),
            "start_snapshot": next(iter(first.values()))["snapshot"], "publish_seconds": round(published, 1),
            "pickup_seconds": round(took, 1), "before": before, "after": after}  # fmt: skip


def run() -> list[dict]:
    return [_measure(n) for n in SIZES]
