"""A standing guard: writers (``PUT``/``DELETE /talents``, ``POST /needs``) race readers paging candidates and
searching on a real uvicorn server. No request may fail with a 5xx, and once a ``DELETE`` has returned, no answer
to a request sent afterwards may show the erased talent."""

from __future__ import annotations

import itertools
import threading
import time

import httpx
import pytest
from api_helpers import auth, run_server, settings_for
from ranking_world import seed_ranking_world

from service.api.app import create_app

SECONDS = 8.0


def profile(talent_id: str, i: int) -> dict:
    return {"id": talent_id, "name": f"Racer {i}", "tier": "B", "skills": ["perovskite", "thin films"],
            "summary": f"perovskite thin films solar cells, batch {i % 7}",
            "availability": {"mode": "short_term", "months_per_year": 4},
            "works": [{"title": f"perovskite stability study {i}"}]}  # fmt: skip


@pytest.fixture
def office(tmp_path, sqlite_url):
    keys = seed_ranking_world(sqlite_url, tmp_path / "world")
    app = create_app(settings_for(sqlite_url, tmp_path, alerts_dispatcher=False))
    with run_server(app) as base:
        yield base, {k: auth(v) for k, v in keys.items()}


def test_writers_and_readers_race_without_errors_or_stale_erased_talents(office):
    base, h = office
    stop = time.monotonic() + SECONDS
    erased: dict[str, float] = {}  # talent id → when its DELETE returned
    answers: list[tuple[float, str, list[str]]] = []  # (sent at, what, talent ids shown)
    failures: list[str] = []
    lock = threading.Lock()
    counter = itertools.count()

    def check(r: httpx.Response, what: str) -> None:
        if r.status_code >= 500:
            with lock:
                failures.append(f"{what}: {r.status_code} {r.text[:300]}")

    def writer() -> None:
        with httpx.Client(base_url=base, headers=h["recruiter"], timeout=60) as c:
            mine: list[str] = []
            while time.monotonic() < stop:
                i = next(counter)
                tid = f"t-race-{i}"
                r = c.put(f"/talents/{tid}", json=profile(tid, i))
                check(r, "PUT talent")
                mine.append(tid)
                if i % 2 and len(mine) > 1:
                    gone = mine.pop(0)
                    r = c.delete(f"/talents/{gone}")
                    check(r, "DELETE talent")
                    if r.status_code == 200:
                        with lock:
                            erased[gone] = time.monotonic()

    def poster() -> None:
        with httpx.Client(base_url=base, headers=h["recruiter"], timeout=60) as c:
            while time.monotonic() < stop:
                i = next(counter)
                need = {"id": f"n-race-{i}", "title": "钙钛矿研发", "description": "perovskite thin films",
                        "enterprise_id": "e1", "kind": "special_researcher", "months_per_year": 3}  # fmt: skip
                check(c.post("/needs", json=need), "POST need")
                time.sleep(0.05)

    def reader(key: str) -> None:
        with httpx.Client(base_url=base, headers=h[key], timeout=60) as c:
            for n in itertools.count():
                if time.monotonic() >= stop:
                    return
                sent = time.monotonic()
                if key == "recruiter" and n % 3 == 2:  # queries vary: rankings computed side by side
                    r = c.post("/search", json={"query": f"perovskite thin films {n % 5}", "k": 50})
                    what = "search"
                else:
                    need = "n-chip" if key == "recruiter" and n % 2 else "n-pv"
                    r = c.get(f"/needs/{need}/candidates", params={"k": 20, "offset": 20 * (n % 3)})
                    what = "candidates"
                check(r, what)
                if r.status_code == 200:
                    with lock:
                        answers.append((sent, what, [x["talent_id"] for x in r.json()["candidates"]]))

    threads = [threading.Thread(target=writer) for _ in range(2)] + [threading.Thread(target=poster)]
    threads += [threading.Thread(target=reader, args=(k,)) for k in ("recruiter", "recruiter", "recruiter", "e1")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(SECONDS + 120)
    assert failures == []
    assert len(erased) >= 5 and len(answers) >= 30, (len(erased), len(answers))
    stale = [(what, tid) for sent, what, ids in answers for tid in ids if tid in erased and sent > erased[tid]]
    assert stale == []
