"""Alerts through the API of a real server (subscriptions, matching on arrival, consent, the inbox, posted needs)
and the anti-spam rules with known answers (dedup margin, daily caps per need and per talent)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import lightgbm as lgb
import numpy as np
import pytest
import sqlalchemy as sa
from alert_helpers import SECRET, World, perovskite_talents
from api_helpers import auth, run_server, settings_for

from features.records import Talent
from features.schema import SCHEMA
from matcher.ranker import NO_ENCODER, Scorer
from matcher.reasons import reasons
from service import alerts, db
from service.alerts.matching import materially_changed
from service.alerts.subscriptions import Channel
from service.api.app import create_app
from service.disclosure import enterprise_reasons

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
PEROVSKITE = {"id": "t-new", "name": "周敏", "email": "zhou@example.org", "tier": "B", "skills": ["perovskite"],
              "summary": "Perovskite thin films for tandem solar cells",
              "availability": {"mode": "short_term", "months_per_year": 4}}  # fmt: skip


@pytest.fixture
def api(sqlite_url, keys, tmp_path):
    app = create_app(settings_for(sqlite_url, tmp_path, alerts_dispatcher=False, alerts_min_relevance=0.0,
                                          alerts_webhook_allow="127.0.0.1/32"))  # fmt: skip
    with run_server(app) as base, httpx.Client(base_url=base, timeout=30) as client:
        yield client, app


def inbox(client, key, **params) -> dict:
    r = client.get("/alerts", headers=auth(key), params=params)
    assert r.status_code == 200, r.text
    return r.json()


def test_subscriptions_are_the_enterprises_own_and_validated(api, keys):
    c, _ = api
    e1, e2 = auth(keys["e1"]), auth(keys["e2"])
    r = c.post("/subscriptions", json={"need_id": "n1", "channel": "webhook", "url": "http://127.0.0.1:9/hook",
                                       "secret": SECRET, "top_n": 5}, headers=e1)  # fmt: skip
    assert r.status_code == 201, r.text
    sub = r.json()
    assert sub["enterprise_id"] == "e1" and sub["has_secret"] is True and "secret" not in sub
    cases = [
        ({"need_id": "n1", "channel": "webhook", "url": "https://x.example", "top_n": 3}, 422, "secret"),
        ({"need_id": "n1", "channel": "webhook", "secret": SECRET, "top_n": 3}, 422, "url"),
        ({"channel": "email", "top_n": 3}, 422, "email"),
        ({"channel": "email", "email": "not-an-address", "top_n": 3}, 422, "email"),
        ({"channel": "inbox", "email": "hr@e1.example", "top_n": 3}, 422, "email"),
        ({"channel": "inbox"}, 422, "top_n"),
        ({"channel": "inbox", "top_n": 0}, 422, "top_n"),
        ({"channel": "pigeon", "top_n": 3}, 422, "channel"),
        ({"channel": "inbox", "top_n": 3, "delivery": "weekly"}, 422, "delivery"),
        ({"need_id": "n2", "channel": "inbox", "top_n": 3}, 404, "need_id"),  # e2's need
        ({"need_id": "nope", "channel": "inbox", "top_n": 3}, 404, "need_id"),
    ]
    for body, status, field in cases:
        r = c.post("/subscriptions", json=body, headers=e1)
        assert (r.status_code, r.json()["error"]["field"]) == (status, field), (body, r.text)
    assert [s["id"] for s in c.get("/subscriptions", headers=e1).json()] == [sub["id"]]
    assert c.get("/subscriptions", headers=e2).json() == []
    assert c.get(f"/subscriptions/{sub['id']}", headers=e2).status_code == 404
    assert c.delete(f"/subscriptions/{sub['id']}", headers=e2).status_code == 404
    assert c.get(f"/subscriptions/{sub['id']}", headers=e1).json()["url"] == "http://127.0.0.1:9/hook"
    assert c.delete(f"/subscriptions/{sub['id']}", headers=e1).status_code == 204
    assert c.get(f"/subscriptions/{sub['id']}", headers=e1).status_code == 404
    for role in ("recruiter", "admin", "data_team"):
        assert c.get("/subscriptions", headers=auth(keys[role])).status_code == 403


def test_a_new_talent_alerts_the_inbox_with_consent_respected(api, keys):
    c, app = api
    e1, e2, rec = auth(keys["e1"]), auth(keys["e2"]), auth(keys["recruiter"])
    assert c.post("/subscriptions", json={"need_id": "n1", "channel": "inbox", "min_score": 0.1},
                  headers=e1).status_code == 201  # fmt: skip
    assert c.post("/talents", json=PEROVSKITE, headers=rec).status_code == 201
    page = inbox(c, keys["e1"])
    assert page["total"] == 1
    alert = page["items"][0]
    assert (alert["need_id"], alert["talent"]["id"], alert["reason"]) == ("n1", "t-new", "threshold")
    assert alert["talent"]["masked"] is True and alert["talent"]["email"] is None  # no sharing consent
    assert alert["reasons"] and alert["score"] >= 0.1
    # no matching consent: never alerted; sharing consent: named
    private = {**PEROVSKITE, "id": "t-private", "consent": {"matching": False}}
    shared = {**PEROVSKITE, "id": "t-shared", "consent": {"sharing": True}}
    assert c.post("/talents", json=private, headers=rec).status_code == 201
    assert c.post("/talents", json=shared, headers=rec).status_code == 201
    items = inbox(c, keys["e1"])["items"]
    assert [a["talent"]["id"] for a in items] == ["t-shared", "t-new"]
    assert items[0]["talent"]["email"] == "zhou@example.org"
    # a change that does not affect matching (phone) alerts nobody; the same profile again neither (dedup)
    assert c.put("/talents/t-new", json={**PEROVSKITE, "phone": "+86 573 0000"}, headers=rec).status_code == 200
    assert c.put("/talents/t-new", json={**PEROVSKITE, "tier": "A"}, headers=rec).status_code == 200
    assert inbox(c, keys["e1"])["total"] == 2
    # the inbox: unread/read, paging, another enterprise sees nothing and gets 404
    first = items[1]["id"]
    assert inbox(c, keys["e2"])["total"] == 0
    assert c.post(f"/alerts/{first}/read", headers=e2).status_code == 404
    r = c.post(f"/alerts/{first}/read", headers=e1)
    assert r.status_code == 200 and r.json()["read_at"] is not None
    assert [a["id"] for a in inbox(c, keys["e1"], state="unread")["items"]] == [items[0]["id"]]
    assert [a["id"] for a in inbox(c, keys["e1"], state="read")["items"]] == [first]
    assert [a["id"] for a in inbox(c, keys["e1"], limit=1, offset=1)["items"]] == [first]
    assert c.get("/alerts", headers=e1, params={"state": "seen"}).json()["error"]["field"] == "state"
    assert c.get("/alerts", headers=rec).status_code == 403
    assert c.post("/alerts/999/read", headers=e1).status_code == 404
    # erasure takes the talent's alerts with it
    assert alerts.erase_talent(app.state.store, "t-shared") == 1
    assert inbox(c, keys["e1"])["total"] == 1


def test_a_posted_need_gets_one_digest_of_its_best_matches(api, keys):
    c, app = api
    e1 = auth(keys["e1"])
    r = c.post("/subscriptions", json={"channel": "webhook", "url": "http://127.0.0.1:9/hook", "secret": SECRET,
                                       "min_score": 0.9}, headers=e1)  # fmt: skip
    assert r.status_code == 201
    need = {
        "id": "n-pv",
        "title": "钙钛矿电池工程师",
        "description": "perovskite solar",
        "required_skills": ["perovskite"],
        "kind": "special_researcher",
        "months_per_year": 3,
    }
    assert c.post("/needs", json=need, headers=e1).status_code == 201
    store = app.state.store
    o, a = db.OutboxRow.__table__, db.AlertRow.__table__
    with store.engine.connect() as conn:
        messages = conn.execute(sa.select(o.c.id, o.c.kind)).all()
        rows = conn.execute(sa.select(a.c.talent_id, a.c.reason, a.c.outbox_id).where(a.c.need_id == "n-pv")).all()
    assert [m.kind for m in messages] == ["digest"]
    assert rows and {r.reason for r in rows} == {"posted"} and {r.outbox_id for r in rows} == {messages[0].id}
    assert "t1" in {r.talent_id for r in rows}  # the perovskite researcher of the small world


def test_dedup_margin_with_known_answers(tmp_path, world_dir):
    """A pair alerts again only when its score rose past the margin (0.05 here)."""
    w = World(tmp_path, world_dir, alerts_score_margin=0.05)
    w.subscribe(channel=Channel.inbox)
    talent = perovskite_talents(1)[0].model_copy(update={"summary": "Solar cell researcher", "skills": ["perovskite"]})
    [first] = w.arrive([talent], now=T0)
    assert w.arrive([talent], now=T0 + timedelta(hours=1)) == []  # same score: deduplicated
    better = talent.model_copy(
        update={"summary": "Perovskite thin films solar cells", "skills": ["perovskite", "thin films"]}
    )
    [second] = w.arrive([better], now=T0 + timedelta(hours=2))
    assert second.score > first.score + 0.05  # required skill coverage 1/2 → 2/2, more BM25
    slightly = better.model_copy(update={"summary": better.summary + " and devices"})
    _indexed(w, slightly)
    [m] = w.matcher.score(slightly, now=T0)
    assert abs(m.score - second.score) < 0.05 and w.matcher.match([slightly], now=T0 + timedelta(hours=3)) == []


def _indexed(w: World, talent):
    w.store.upsert([talent])
    w.idx.add_talent(talent)
    return talent


def test_daily_caps_with_known_answers(tmp_path, world_dir):
    w = World(tmp_path, world_dir, alerts_cap_per_need=2, alerts_cap_per_talent=1)
    w.subscribe(channel=Channel.inbox)
    w.subscribe(channel=Channel.inbox, enterprise_id="e2", need_id="n2")
    talents = perovskite_talents(3)
    for t in talents:
        _indexed(w, t)
    scores = {t.id: w.matcher.score(t, now=T0)[0].score for t in talents}
    made = w.matcher.match(talents, now=T0)
    best_two = sorted(scores, key=lambda k: -scores[k])[:2]
    assert sorted(a.talent_id for a in made) == sorted(best_two)  # the need's cap keeps the two best
    more = perovskite_talents(1, prefix="tz")
    assert w.arrive(more, now=T0 + timedelta(hours=1)) == []  # n1 is full today
    assert len(w.arrive(perovskite_talents(1, prefix="ty"), now=T0 + timedelta(days=1))) == 1  # a new day
    # per talent: one need a day, the better one
    both = Talent.model_validate(
        perovskite_talents(1, prefix="tb")[0].model_dump()
        | {"summary": "Perovskite thin films; RISC-V SoC processor design", "skills": ["perovskite", "RISC-V"],
           "availability": {"mode": "full_time", "months_per_year": 12}}
    )  # fmt: skip
    _indexed(w, both)
    fired = w.matcher.score(both, now=T0 + timedelta(days=2))
    assert {m.need_id for m in fired} == {"n1", "n2"}
    [made] = w.matcher.match([both], now=T0 + timedelta(days=2))
    assert made.need_id == max(fired, key=lambda m: m.score).need_id


def test_material_changes():
    [t] = perovskite_talents(1)
    assert materially_changed(None, t)
    assert not materially_changed(t, t.model_copy(update={"phone": "123", "name": "新名字"}))
    for field, value in [("skills", ["x"]), ("tier", "A"), ("sites", ["jiaxing"]), ("summary", "other")]:
        changed = Talent.model_validate(t.model_dump() | {field: value})
        assert materially_changed(t, changed), field


class _Counting:
    """A real model that records the rows it was asked to explain."""

    def __init__(self, inner: Scorer) -> None:
        self.inner, self.explained = inner, []

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def contributions(self, X):
        self.explained.append(len(X))
        return self.inner.contributions(X)


def test_contributions_only_for_alerts_written_and_from_the_scoring_model(tmp_path, world_dir):
    """An alert's reasons need the model's per-feature contributions, the dearest step of matching: they are worked
    out after dedup and caps, for the alerts written only, and equal the model's contributions on the scored row."""
    rng = np.random.default_rng(0)
    X = rng.random((400, len(SCHEMA.names)), dtype=np.float32)
    y = 1.0 + np.digitize(X[:, SCHEMA.names.index("graph_ppr")], [0.25, 0.5, 0.7])  # scores >= 0: min_score 0 fires
    params = {"objective": "regression", "num_leaves": 7, "min_data_in_leaf": 5, "verbose": -1, "seed": 0,
              "deterministic": True, "num_threads": 1}  # fmt: skip
    model = Scorer(lgb.train(params, lgb.Dataset(X, y, feature_name=SCHEMA.names), 10), "reg-1", SCHEMA.version,
                   NO_ENCODER)  # fmt: skip
    counting = _Counting(model)
    w = World(tmp_path, world_dir, alerts_cap_per_need=2)
    w.matcher.scorer = lambda: counting
    w.subscribe(channel=Channel.inbox)
    talents = [_indexed(w, t) for t in perovskite_talents(3)]
    scored = {m.talent_id: m for t in talents for m in w.matcher.score(t, now=T0)}
    assert len(scored) == 3 and counting.explained == []  # scoring alone explains nothing
    made = w.matcher.match(talents, now=T0)
    assert len(made) == 2 and counting.explained == [2]  # the cap dropped one: it was never explained
    a = db.AlertRow.__table__
    for alert in made:
        m = scored[alert.talent_id]
        why = reasons(w.idx.needs["n1"], m.x, model.contributions(m.x[None])[0], SCHEMA, w.idx, m.talent_id)
        with w.store.engine.connect() as conn:
            payload = conn.scalar(sa.select(a.c.payload).where(a.c.id == alert.id))
        assert payload["reasons"] == json.loads(json.dumps(enterprise_reasons([r.to_dict() for r in why])))
