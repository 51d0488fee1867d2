"""Erasure through a real server: afterwards the talent is found by no route, ranking or search; its feedback, its
rows in decision receipts and its cached vectors are gone; the erasure itself is audited."""

from __future__ import annotations

import numpy as np
import pytest
import sqlalchemy as sa
from api_helpers import auth, run_server, settings_for
from ranking_world import seed_ranking_world

from features.dense import VectorCache, talent_parts
from service import db
from service.api.app import create_app


class NamedEncoder:
    """Enough of an encoder to key the vector cache (as a run with a real encoder would have filled it)."""

    name, version, dim = "test-encoder", "1", 4


@pytest.fixture
def erasure_server(tmp_path, monkeypatch):
    monkeypatch.setenv("TALENTMATCH_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    url = f"sqlite:///{tmp_path / 'api.db'}"
    keys = seed_ranking_world(url, tmp_path / "world")
    settings = settings_for(url, tmp_path)
    app = create_app(settings)
    import httpx

    with run_server(app) as base, httpx.Client(base_url=base, timeout=30) as client:
        yield client, {k: auth(v) for k, v in keys.items()}, app.state


def texts_of(store, talent_id: str) -> list[str]:
    main, parts = talent_parts(store.get("talent", talent_id))
    return [main, *parts]


def ids(body: dict) -> list[str]:
    return [c["talent_id"] for c in body["candidates"]]


def test_an_erased_talent_is_found_nowhere(erasure_server):
    client, h, state = erasure_server
    store = state.store
    cache = VectorCache(state.settings.vector_cache_dir)
    gone, kept = texts_of(store, "t-pv1"), texts_of(store, "t-pv2")
    cache.put(NamedEncoder(), gone + kept, np.eye(4, dtype=np.float32)[np.arange(len(gone + kept)) % 4])

    ranking = client.get("/needs/n-pv/candidates", headers=h["recruiter"]).json()
    assert "t-pv1" in ids(ranking)
    fb = {"need_id": "n-pv", "talent_id": "t-pv1", "action": "shortlist", "ranking_id": ranking["ranking_id"]}
    assert client.post("/feedback", json=fb, headers=h["recruiter"]).status_code == 201
    search = client.post("/search", json={"query": "钙钛矿"}, headers=h["recruiter"]).json()
    assert "t-pv1" in ids(search)

    assert client.delete("/talents/t-pv1", headers=h["e1"]).status_code == 403
    assert client.delete("/talents/t-pv1", headers=h["data_team"]).status_code == 403
    r = client.delete("/talents/t-pv1", headers=h["recruiter"])
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["receipt_rows"] == 2 and done["vectors"] == len(gone)  # the page and the search showed it

    # no route finds it
    assert client.get("/talents/t-pv1", headers=h["recruiter"]).status_code == 404
    assert client.get("/talents/t-pv1/needs", headers=h["recruiter"]).status_code == 404
    assert client.delete("/talents/t-pv1", headers=h["recruiter"]).status_code == 404
    listed = client.get("/talents?limit=200", headers=h["recruiter"]).json()["items"]
    assert "t-pv1" not in {t["id"] for t in listed}
    for key in ("recruiter", "e1"):
        again = client.get("/needs/n-pv/candidates?k=100", headers=h[key]).json()
        assert "t-pv1" not in ids(again) and set(ids(again)) >= {"t-pv2"}
    for query in ("钙钛矿", "perovskite", "李伟", "Li Wei"):
        found = client.post("/search", json={"query": query, "k": 100}, headers=h["recruiter"]).json()
        assert "t-pv1" not in ids(found)
    assert client.get("/needs/n-pv/candidates?tier=B", headers=h["recruiter"]).json()["candidates"] == []

    # receipts keep the position, not the person
    for rid in (ranking["ranking_id"], search["ranking_id"]):
        receipt = client.get(f"/rankings/{rid}", headers=h["admin"]).json()
        erased = [c for c in receipt["candidates"] if c["erased"]]
        assert len(erased) == 1 and erased[0]["talent_id"] is None and erased[0]["features"] is None
        assert "t-pv1" not in str(receipt)
    # feedback went with the record, the receipts table holds no trace, the vectors are off the disk
    with store.engine.connect() as conn:
        for table in (db.table("feedback"), db.RankingCandidateRow.__table__, db.RankingDetailRow.__table__):
            assert conn.scalar(sa.select(sa.func.count()).where(table.c.talent_id == "t-pv1")) == 0
        details = str(conn.execute(sa.select(db.RankingDetailRow.__table__.c.detail)).all())
        assert "t-pv1" not in details and "Stable perovskite" not in details
    fresh = VectorCache(state.settings.vector_cache_dir)
    assert not fresh.get(NamedEncoder(), gone)[1].any() and fresh.get(NamedEncoder(), kept)[1].all()
    assert "t-pv1" not in state.indices.talents and "talent:t-pv1" not in state.indices.graph

    audit = client.get("/audit?object_id=t-pv1&limit=200", headers=h["admin"]).json()["items"]
    assert audit[0]["action"] == "erase" and audit[0]["detail"]["receipt_rows"] == 2


def test_feedback_on_an_erased_talent_is_refused(erasure_server):
    client, h, _ = erasure_server
    ranking = client.get("/needs/n-pv/candidates", headers=h["recruiter"]).json()
    assert client.delete("/talents/t-pv2", headers=h["admin"]).status_code == 200
    fb = {"need_id": "n-pv", "talent_id": "t-pv2", "action": "contact", "ranking_id": ranking["ranking_id"]}
    r = client.post("/feedback", json=fb, headers=h["recruiter"])
    assert r.status_code == 404 and r.json()["error"]["field"] == "id"
