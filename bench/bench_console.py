"""Console benchmark: the server-side time of a need's page (``GET /console/needs/{id}``) at 10k talents once the
ranking is cached — the issue's goal is under 100 ms.

The demo world (10,000 talents, seed 7) is imported into a fresh SQLite file and served by ``talentmatch serve``'s
code in its own process (``bench_api.served``: encoder none, a champion of random rows from ``bench_api._champion``,
so pages are personalised and carry TreeSHAP contributions). A recruiter signs in through the form; each of
``NEEDS`` needs is opened once (cold: ranked, page memoised), then each again in ``REPEATS`` rounds: the figure is
those cached requests, as the page's own ``Server-Timing`` header says (from the session check to the rendered page) and
as the client on loopback measured them (with the HTTP round trip). Every cached request still re-authenticates the
session's key, writes the audit row (and reuses the receipt) and renders 20 rows through Jinja2.
"""

from __future__ import annotations

import re
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from bench.bench_api import _champion, imported_world, served

TALENTS = 10_000
NEEDS = 20
REPEATS = 10
GOAL_MS = 100.0


def _pct(values: list[float]) -> tuple[float, float, float]:
    return tuple(round(float(np.percentile(values, q)), 2) for q in (50, 90, 99))  # type: ignore[return-value]


def run() -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="bench-console-") as tmp:
        tmp = Path(tmp)
        url, key, open_needs = imported_world(tmp, TALENTS)
        needs = [n.id for n in open_needs[:NEEDS]]
        _champion(tmp / "models")
        env = {"TALENTMATCH_RANK_CACHE_SECONDS": "3600", "TALENTMATCH_SECRET_KEY_FILE": str(tmp / "secret.key")}
        with served(url, tmp, env) as (base, _), httpx.Client(base_url=base, timeout=60) as client:
            form = client.get("/console/signin").text
            csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
            assert client.post("/console/signin", data={"csrf": csrf, "key": key}).status_code == 303
            cold, cached, server, steps = [], [], [], []
            for round_ in range(REPEATS + 1):  # round 0 ranks each need; the others find it cached
                for need in needs:
                    t = time.perf_counter()
                    r = client.get(f"/console/needs/{need}")
                    (cached if round_ else cold).append((time.perf_counter() - t) * 1e3)
                    assert r.status_code == 200 and 'table class="candidates"' in r.text, r.text[:300]
                    if round_:
                        timing = dict(p.split(";dur=") for p in r.headers["server-timing"].split(", "))
                        server.append(float(timing["page"]))
                        steps.append(timing)
    size = f"{TALENTS:,} talents, {NEEDS} needs × {REPEATS} cached requests, k=20; champion of random rows"
    p50, p90, p99 = _pct(server)
    rt_p50, rt_p90, rt_p99 = _pct(cached)
    cold_p50, cold_p90, cold_p99 = _pct(cold)
    return [
        {
            "bench": "console.need page (cached ranking, server side)",
            "size": size,
            "p50_ms": p50,
            "p90_ms": p90,
            "p99_ms": p99,
            "goal": f"p99 < {GOAL_MS:g} ms",
            "ok": p99 < GOAL_MS,
            **{f"{step}_p99_ms": _pct([float(t[step]) for t in steps])[2] for step in ("auth", "rank", "render")},
            "note": "the page's Server-Timing: auth (session, key), rank (the cached page, receipt reuse, audit row), "
            "render (template)",
        },
        {
            "bench": "console.need page (cached ranking, round trip)",
            "size": size,
            "p50_ms": rt_p50,
            "p90_ms": rt_p90,
            "p99_ms": rt_p99,
            "goal": "-",
            "ok": True,
            "note": "client-measured on loopback, on a machine shared with other work",
        },
        {
            "bench": "console.need page (cold: first request per need)",
            "size": size,
            "p50_ms": cold_p50,
            "p90_ms": cold_p90,
            "p99_ms": cold_p99,
            "goal": "-",
            "ok": True,
        },
    ]
