"""Load benchmark: mixed reads and writes at a fixed arrival rate through a real server, for ``SECONDS`` seconds.

A demo world (``TALENTS`` talents, seed 7; ``BENCH_LOAD_TALENTS`` overrides) is imported into a fresh SQLite file,
with a champion (``bench_api``'s random-rows booster: personalised rankings with TreeSHAP) and inbox subscriptions
on the hot needs, so every talent write is matched for alerts. The server runs in its own process, as
``talentmatch serve`` runs it (one process: the indices live in it; ``TALENTMATCH_ENCODER=none``), or as
``talentmatch serve --workers N`` with ``BENCH_LOAD_WORKERS=N``: N processes, each with its own indices, kept in step
through the store's change journal (``TALENTMATCH_SYNC_SECONDS``, default 1 s).

The load generator is another process: an open loop that schedules request ``i`` at ``t0 + i / RATE`` (it does not
wait for slow answers before sending the next, so queueing shows in the latency, which is measured from the
scheduled time) over ``CONNECTIONS`` connections; requests still unsent 5 s after the window are dropped, and the
achieved rate counts only answers within the window. The mix, in every 80 requests:

- 52 ``GET /needs/{id}/candidates?k=20`` over ``HOT_NEEDS`` needs, pages at offsets 0, 20 and 40 (recruiters paging);
- 12 ``POST /search`` over 6 queries; 10 ``GET /talents/{id}`` (audited profile reads);
- 4 ``PUT /talents/{id}``: new talents, or replacing one this run created (indexed and matched for alerts at once;
  a replace may find its talent just erased and create it again: 201);
- 1 ``POST /needs`` and 1 ``DELETE /talents/{id}`` (an erasure of a talent this run created).

The server runs with ``TALENTMATCH_RANK_CACHE_FRESH_SECONDS`` = ``CACHE_FRESH_SECONDS`` (``BENCH_LOAD_FRESH_SECONDS``):
with a write every ~70 ms, a cache that every write empties would rank every hot need afresh on nearly every
request.

Errors are transport failures and any status but the expected one (200/201). Only loopback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.bench_api import _champion, imported_world, served
from service.alerts import subscriptions as subs_db
from service.store import Store

TALENTS = int(os.environ.get("BENCH_LOAD_TALENTS", "20000"))
RATE = 200.0
SECONDS = int(os.environ.get("BENCH_LOAD_SECONDS", "60"))
CONNECTIONS = 48
HOT_NEEDS = 20
WORKERS = int(os.environ.get("BENCH_LOAD_WORKERS", "1"))
CACHE_FRESH_SECONDS = float(os.environ.get("BENCH_LOAD_FRESH_SECONDS", "5"))
P99_GOAL_MS = 500.0

GENERATOR = r"""
import json, sys, threading, time, httpx
cfg = json.loads(sys.stdin.read())
base, rate, seconds, conns = cfg["base"], cfg["rate"], cfg["seconds"], cfg["connections"]
needs, talents, queries, enterprise = cfg["needs"], cfg["talents"], cfg["queries"], cfg["enterprise"]
rec = {"Authorization": "Bearer " + cfg["key"]}
n_total = int(rate * seconds)
results = [None] * n_total
created, lock = [], threading.Lock()

def talent(tid, i):
    return {"id": tid, "name": f"Load Test {i}", "tier": "C", "skills": ["perovskite", "机器学习", "thin films"],
            "summary": f"钙钛矿 perovskite solar cells and machine learning, profile {i}",
            "availability": {"mode": "short_term", "months_per_year": 3}, "sites": ["jiaxing"],
            "works": [{"title": f"Perovskite film study {i}", "year": 2023}]}

def request(c, i):
    slot = i % 80
    if slot < 52:
        need = needs[(i // 80 + slot) % len(needs)]
        return "candidates", 200, c.get(f"/needs/{need}/candidates", params={"k": 20, "offset": 20 * (slot % 3)})
    if slot < 64:
        return "search", 200, c.post("/search", json={"query": queries[slot % len(queries)], "k": 20})
    if slot < 74:
        return "read talent", 200, c.get(f"/talents/{talents[(i * 7919) % len(talents)]}")
    if slot < 78:
        with lock:
            old = created[-1] if created and slot % 2 else None
        if old is None:
            tid = f"t-load-{i}"
            r = c.put(f"/talents/{tid}", json=talent(tid, i))
            if r.status_code == 201:
                with lock:
                    created.append(tid)
            return "put talent (new)", 201, r
        return "put talent (replace)", (200, 201), c.put(f"/talents/{old}", json=talent(old, i))
    if slot == 78:
        need = {"id": f"n-load-{i}", "title": "钙钛矿光伏研发 perovskite R&D", "enterprise_id": enterprise,
                "description": "perovskite thin films, 机器学习", "kind": "full_time"}
        return "post need", 201, c.post("/needs", json=need)
    with lock:
        tid = created.pop(0) if created else None
    if tid is None:
        return "delete talent", 404, c.delete("/talents/t-load-none")
    return "delete talent", 200, c.delete(f"/talents/{tid}")

def worker(n, t0):
    with httpx.Client(base_url=base, headers=rec, timeout=30) as c:
        for i in range(n, n_total, conns):
            due = t0 + i / rate
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            sent = time.perf_counter()
            if sent > t0 + seconds + 5:  # too far behind: the rest is never sent (and counts against the rate)
                return
            try:
                kind, want, r = request(c, i)
                ok, status = r.status_code in (want if isinstance(want, tuple) else (want,)), r.status_code
            except Exception as e:
                kind, ok, status = "error", False, repr(e)[:200]
            done = time.perf_counter()
            results[i] = (kind, ok, status, (done - due) * 1e3, (done - sent) * 1e3, done - t0)

t0 = time.perf_counter() + 0.5
threads = [threading.Thread(target=worker, args=(n, t0)) for n in range(conns)]
[t.start() for t in threads]; [t.join() for t in threads]
print(json.dumps({"results": results, "seconds": seconds}))
"""


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))], 1)


def _summary(results: list, seconds: float) -> dict:
    done = [r for r in results if r is not None and r[5] <= seconds]  # answered within the window
    latency = [r[3] for r in done]
    errors = [r for r in done if not r[1]]
    by_kind: dict[str, list[float]] = {}
    for r in done:
        by_kind.setdefault(r[0], []).append(r[3])
    return {
        "requests": len(done),
        "not_sent": sum(r is None for r in results),
        "rps": round(len(done) / seconds, 1),
        "p50_ms": _pct(latency, 50),
        "p99_ms": _pct(latency, 99),
        "service_p99_ms": _pct([r[4] for r in done], 99),
        "errors": len(errors),
        "error_sample": sorted({f"{r[0]}: {r[2]}" for r in errors})[:5],
        "by_kind": {k: {"n": len(v), "p50_ms": _pct(v, 50), "p99_ms": _pct(v, 99)} for k, v in sorted(by_kind.items())},
    }


def run() -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        tmp = Path(tmp)
        url, key, open_needs = imported_world(tmp, TALENTS)
        open_needs = open_needs[:HOT_NEEDS]
        with Store(url) as store:
            for need in open_needs:
                subs_db.create(store, enterprise_id=need.enterprise_id, need_id=need.id, channel="inbox", min_score=0.5)
            talents = store.ids("talent")[:5000]
            store.matched(r for kind in ("talent", "need") for r in store.pending(kind))  # imported: no alerts owed
        _champion(tmp / "models")
        env = {"TALENTMATCH_RANK_CACHE_FRESH_SECONDS": str(CACHE_FRESH_SECONDS)}
        with served(url, tmp, env, workers=WORKERS) as (base, start_s):
            cfg = {
                "base": base, "key": key, "rate": RATE, "seconds": SECONDS, "connections": CONNECTIONS,
                "needs": [n.id for n in open_needs], "talents": talents, "enterprise": open_needs[0].enterprise_id,
                "queries": ["钙钛矿 薄膜太阳能电池", "machine learning model compression", "RISC-V SoC design",
                            "图神经网络 强化学习", "composite structures aero-engines", "hydrogen fuel cells 氢能"],
            }  # fmt: skip
            out = subprocess.run([sys.executable, "-c", GENERATOR], input=json.dumps(cfg), capture_output=True,
                                 text=True, timeout=SECONDS + 300, check=True).stdout  # fmt: skip
            got = json.loads(out)
        server_log = (tmp / "server.log").read_text()
    (Path(__file__).parent / "results").mkdir(exist_ok=True)
    (Path(__file__).parent / "results" / "load-server.log").write_text(server_log[-200_000:])
    s = _summary(got["results"], got["seconds"])
    return [
        {
            "bench": "api.load (mixed reads and writes)",
            "size": f"{TALENTS:,} talents, {HOT_NEEDS} hot needs, 65% candidates / 15% search / 12.5% profile reads / "
            f"5% talent writes / 1.25% need posts / 1.25% erasures; encoder none; champion; {WORKERS} worker(s)",
            "target_rps": RATE,
            **{k: v for k, v in s.items() if k != "by_kind"},
            "seconds": SECONDS,
            "workers": WORKERS,
            "start_up_s": round(start_s, 1),
            "fresh_s": CACHE_FRESH_SECONDS,
            "goal": f">= {RATE:g} req/s for {SECONDS} s, 0 errors, p99 reported",
            "ok": s["rps"] >= 0.98 * RATE and s["errors"] == 0,
            "note": json.dumps(s["by_kind"], ensure_ascii=False),
        }
    ]


if __name__ == "__main__":
    for row in run():
        print(json.dumps(row, indent=2, ensure_ascii=False))
