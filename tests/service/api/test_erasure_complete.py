"""Erasure leaves nothing: after ``DELETE /talents/{id}`` no table (bar the audit log's pseudonymous id), no byte of
the SQLite file, no in-memory index row and no cached vector of any version of the talent's texts holds their id
or their distinctive text, and a message a dispatcher had already claimed is not sent."""

from __future__ import annotations

import threading
import time

import httpx
import numpy as np
import pytest
import sqlalchemy as sa
from alert_helpers import SECRET, Receiver
from api_helpers import auth, run_server, settings_for
from ranking_world import seed_ranking_world

from features.dense import VectorCache, talent_parts
from features.records import Talent
from features.text import tokenize
from service import db
from service.alerts import dispatch_once
from service.alerts import subscriptions as subs_db
from service.api.app import create_app

GONE = "t-zq"
MARK = "Zephyrquill"
"""A made-up word only the erased talent's texts use (profile, works and an earlier version)."""
V1 = {"id": GONE, "name": "Quill Zephyr", "name_zh": "泽菲", "email": "zq@example.org", "tier": "B",
      "skills": ["perovskite", "thin films", "钙钛矿"], "availability": {"mode": "short_term", "months_per_year": 4},
      "summary": f"perovskite thin films solar cells, {MARK} tandem process",
      "works": [{"title": f"{MARK}ian passivation of perovskite films", "abstract": "Oxyblende annealing"}],
      }  # fmt: skip
V2 = {**V1, "summary": f"perovskite solar cells with {MARK} interlayers (Glimmerstrand method)"}
DISTINCT = [MARK, "Oxyblende", "Glimmerstrand", "Quill Zephyr", "zq@example.org", "泽菲"]


class NamedEncoder:
    """Enough of an encoder to key the vector cache, as a run with a real encoder would have filled it."""

    name, version, dim = "test-encoder", "1", 4


def texts(talent: dict) -> list[str]:
    main, parts = talent_parts(Talent.model_validate(talent))
    return [main, *parts]


@pytest.fixture
def office(tmp_path, sqlite_url):
    keys = seed_ranking_world(sqlite_url, tmp_path / "world")
    settings = settings_for(
        sqlite_url,
        tmp_path,
        alerts_dispatcher=False,
        alerts_min_relevance=0.0,
        alerts_webhook_allow="127.0.0.1/32",
        alerts_per_receiver=1,
    )
    app = create_app(settings)
    with run_server(app) as base, httpx.Client(base_url=base, timeout=30) as client:
        yield client, {k: auth(v) for k, v in keys.items()}, app.state, tmp_path


def db_mentions(engine: sa.Engine, needles: list[str]) -> dict[str, list[str]]:
    """Table → the needles found in any of its rows (every column, as text)."""
    found: dict[str, list[str]] = {}
    with engine.connect() as conn:
        for table in db.Base.metadata.sorted_tables:
            rows = "\n".join(repr(tuple(r)) for r in conn.execute(sa.select(table)))
            hits = [n for n in needles if n.lower() in rows.lower()]
            if hits:
                found[table.name] = hits
    return found


def memory_mentions(idx, talent_id: str) -> list[str]:
    """Where the in-memory indices still name the talent or hold a word only they used."""
    words = {t for d in DISTINCT for t in tokenize(d)}
    places = {
        "talents": talent_id in idx.talents,
        "table": talent_id in idx.table.ids,
        "bm25 ids": talent_id in set(idx.sparse.ids.tolist()),
        "bm25 vocabulary": bool(words & set(idx.sparse.vocab.ids)),
        "concept ids": talent_id in set(idx.concepts.ids.tolist()),
        "graph": f"talent:{talent_id}" in idx.graph,
        # a removed node keeps its name and label until the graph compacts: erasure blanks them
        "graph node names": any(talent_id in name for name in idx.graph._names),
        "graph labels": any(d in label for label in idx.graph._label for d in DISTINCT),
    }
    return [name for name, hit in places.items() if hit]


def test_erasure_leaves_no_trace_anywhere(office):
    client, h, state, tmp = office
    store = state.store
    receiver = Receiver(delay=1.5)
    # a webhook subscription: the talent's alert is queued behind another talent's, on a slow receiver
    sub = subs_db.create(store, enterprise_id="e1", need_id="n-pv", channel="webhook", url=receiver.url,
                         secret=SECRET, min_score=0.0, settings=state.settings)  # fmt: skip
    state.alerts.refresh()
    other = {**V1, "id": "t-other", "name": "Other Person", "email": "o@example.org", "summary": "perovskite films",
             "works": [], "name_zh": None}  # fmt: skip
    assert client.post("/talents", json=other, headers=h["recruiter"]).status_code == 201
    assert client.post("/talents", json=V1, headers=h["recruiter"]).status_code == 201
    assert client.put(f"/talents/{GONE}", json=V2, headers=h["recruiter"]).status_code == 200
    cache = VectorCache(state.settings.vector_cache_dir)
    every_text = sorted(set(texts(V1) + texts(V2)))
    cache.put(NamedEncoder(), every_text, np.eye(4, dtype=np.float32)[np.arange(len(every_text)) % 4])
    # a ranking, a receipt, a search whose query names them, feedback
    page = client.get("/needs/n-pv/candidates?k=50", headers=h["recruiter"]).json()
    assert GONE in [c["talent_id"] for c in page["candidates"]]
    found = client.post("/search", json={"query": f"Quill Zephyr {MARK}"}, headers=h["recruiter"]).json()
    assert GONE in [c["talent_id"] for c in found["candidates"]]
    fb = {"need_id": "n-pv", "talent_id": GONE, "action": "shortlist", "ranking_id": page["ranking_id"]}
    assert client.post("/feedback", json=fb, headers=h["recruiter"]).status_code == 201
    before = db_mentions(store.engine, [GONE, *DISTINCT])
    assert {"talents", "talent_versions", "alerts", "ranking_details", "rankings"} <= set(before)

    # the dispatcher claims both messages and is held up by the slow receiver (one request at a time) while the
    # talent is erased
    passing = threading.Thread(target=lambda: dispatch_once(store, state.settings))
    passing.start()
    deadline = time.monotonic() + 10
    while not receiver.requests and time.monotonic() < deadline:
        time.sleep(0.02)
    r = client.delete(f"/talents/{GONE}", headers=h["recruiter"])
    assert r.status_code == 200, r.text
    assert r.json()["vectors"] == len(every_text)
    passing.join(30)
    receiver.down()
    sent = [b["body"].decode() for b in receiver.requests]
    assert len(sent) == 1 and "t-other" in sent[0] and GONE not in sent[0]
    assert sub.id

    # no table holds the id or any distinctive text, but the audit log and the change journal (ids only: other API
    # processes read its delete to erase the talent from their indices) keep the pseudonymous id
    after = db_mentions(store.engine, [GONE, *DISTINCT])
    assert after == {"audit_log": [GONE], "changes": [GONE]}, after
    raw = b"".join(p.read_bytes() for p in tmp.glob("api.db*"))  # the file and its write-ahead log: no free page
    assert [d for d in DISTINCT if d.encode() in raw] == []  # keeps an erased row
    # nor any in-memory index, nor the vector cache (every version, every encoder)
    assert memory_mentions(state.indices, GONE) == []
    assert not cache.get(NamedEncoder(), every_text)[1].any()
    again = client.post("/search", json={"query": f"{MARK} Glimmerstrand"}, headers=h["recruiter"]).json()
    assert again["candidates"] == []
