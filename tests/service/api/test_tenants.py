"""What one enterprise can reach (issue 11: offboarding, probing the pool, the tenancy gaps of the Low list), each rule
on a small world with a known answer, through a real uvicorn server on loopback and a real SQLite file (quotas and
offboarding on PostgreSQL too):

- an enterprise ranks only its own open needs: another's is the same 404 as none, its own closed one a 409;
- daily quotas of new needs and ranking requests, 429 with ``Retry-After`` past them, exact under concurrency;
- no ranking filter on what a candidate card hides (422 naming it);
- reasons never tell an enterprise what a card hides — a talent's stated salary, incubator, work permit (ranking,
  receipt, alert, inbox, a message queued before) — recruiters still see them;
- subscriptions are in force only while their enterprise holds a live key and, naming a need, owns it: the
  dispatcher cancels the others' messages, deleting a subscription cancels its queued ones, and the enterprise's
  list shows which are in force;
- a need id taken by another tenant is answered exactly as one's own (409, no owner, no quota used);
- ``replace_need`` checks ownership under the write lock; receipts never show an enterprise another key's id.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import httpx
import lightgbm as lgb
import numpy as np
import orjson
import pytest
import sqlalchemy as sa
from alert_helpers import SECRET, Receiver, World, perovskite_talents
from api_helpers import auth, run_server, seed, settings_for
from ranking_world import ranking_world

from features.records import WORLD_FILES, Need, Talent
from features.schema import SCHEMA
from matcher.ranker import NO_ENCODER, Scorer
from service import db, disclosure, quotas
from service.alerts import subscriptions as subs_db
from service.alerts.dispatch import Message, current, dispatch_once
from service.alerts.subscriptions import Channel
from service.api.app import create_app
from service.api.cards import talent_card
from service.keys import create_key, list_keys, revoke_key
from service.quotas import Quota, QuotaExceeded
from service.store import Store

SALARY, BUDGET = 73, 100
"""t-pv1 states 73 (10k CNY a year); n-pv budgets 100: a recruiter reads "73 of 100", an enterprise no figure."""
T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Jiaxing


def tenant_world() -> dict[str, list[dict]]:
    """The ranking world, plus: a salary on t-pv1 and a budget on n-pv, and a closed need of e1 (n-pv-closed)."""
    world = ranking_world()
    need = next(n for n in world["need"] if n["id"] == "n-pv")
    need["salary_budget"] = BUDGET
    world["need"].append({**copy.deepcopy(need), "id": "n-pv-closed", "status": "closed"})
    next(t for t in world["talent"] if t["id"] == "t-pv1")["salary_expectation"] = SALARY
    return world


def seed_tenants(url: str, directory: Path) -> dict[str, str]:
    directory.mkdir(parents=True, exist_ok=True)
    for kind, rows in tenant_world().items():
        (directory / WORLD_FILES[kind]).write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return seed(url, directory)


class Api:
    """A client on a real server, the app (its state), and headers by key name."""

    def __init__(self, client: httpx.Client, app, keys: dict[str, str]) -> None:
        self.c, self.app, self.keys = client, app, keys
        self.h = {name: auth(key) for name, key in keys.items()}

    @property
    def store(self) -> Store:
        return self.app.state.store


@pytest.fixture
def serve(tmp_path: Path) -> Iterator:
    """``serve(url=None, **settings) -> Api``: the tenant world in a fresh database behind a real server."""
    with ExitStack() as stack:

        def start(url: str | None = None, **settings) -> Api:
            url = url or f"sqlite:///{tmp_path / 'tenants.db'}"
            keys = seed_tenants(url, tmp_path / "world")
            app = create_app(
                settings_for(url, tmp_path, alerts_dispatcher=False, alerts_webhook_allow="127.0.0.1/32", **settings)
            )
            base = stack.enter_context(run_server(app))
            client = stack.enter_context(httpx.Client(base_url=base, timeout=60))
            return Api(client, app, keys)

        yield start


def ids(body: dict) -> list[str]:
    return [c["talent_id"] for c in body["candidates"]]


def error(r: httpx.Response) -> tuple[int, str | None]:
    return r.status_code, r.json()["error"]["field"]


# --- 1. an enterprise ranks only its own open needs ------------------------------------------------------------------


def test_an_enterprise_ranks_only_its_own_open_needs(serve):
    api = serve()
    c, h = api.c, api.h
    assert set(ids(c.get("/needs/n-pv/candidates", headers=h["e1"]).json())) == {"t-pv1", "t-pv2", "t-pv4"}
    # another's need and no need at all answer alike (no oracle), and so do their closed ones
    theirs, none = c.get("/needs/n-chip/candidates", headers=h["e1"]), c.get("/needs/n-zz/candidates", headers=h["e1"])
    assert theirs.status_code == none.status_code == 404
    anonymised = [r.json()["error"] | {"message": r.json()["error"]["message"].replace(n, "?")}
                  for r, n in ((theirs, "n-chip"), (none, "n-zz"))]  # fmt: skip
    assert anonymised[0] == anonymised[1]
    assert c.get("/needs/n-pv-closed/candidates", headers=h["e2"]).status_code == 404
    # its own closed need: 409 naming status, until it is open again
    r = c.get("/needs/n-pv-closed/candidates", headers=h["e1"])
    assert error(r) == (409, "status") and "closed" in r.json()["error"]["message"]
    for status in ("paused", "filled"):
        need = c.get("/needs/n-pv-closed", headers=h["e1"]).json() | {"status": status}
        assert c.put("/needs/n-pv-closed", json=need, headers=h["e1"]).status_code == 200
        assert error(c.get("/needs/n-pv-closed/candidates", headers=h["e1"])) == (409, "status")
    # the office ranks any need, open or not
    assert set(ids(c.get("/needs/n-pv-closed/candidates", headers=h["recruiter"]).json())) == {
        "t-pv1",
        "t-pv2",
        "t-pv4",
    }
    need = c.get("/needs/n-pv-closed", headers=h["e1"]).json() | {"status": "open"}
    assert c.put("/needs/n-pv-closed", json=need, headers=h["e1"]).status_code == 200
    assert c.get("/needs/n-pv-closed/candidates", headers=h["e1"]).status_code == 200


# --- 3. filters: only on what a card shows ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "field"),
    [("nationality=DE", "nationality"), ("site=abroad", "site"), ("language=de", "language"),
     ("incubator=inc-de", "incubator"), ("tier=C&language=de", "language")],
)  # fmt: skip
def test_an_enterprise_may_not_filter_on_what_a_card_hides(serve, query, field):
    api = serve()
    r = api.c.get(f"/needs/n-pv/candidates?{query}", headers=api.h["e1"])
    assert error(r) == (422, field) and "card" in r.json()["error"]["message"]
    assert api.c.get(f"/needs/n-pv/candidates?{query}", headers=api.h["recruiter"]).status_code == 200


def test_filters_on_what_a_card_shows_work_for_an_enterprise(serve):
    api = serve()
    c, h = api.c, api.h
    assert ids(c.get("/needs/n-pv/candidates?tier=C", headers=h["e1"]).json()) == ["t-pv2"]
    assert ids(c.get("/needs/n-pv/candidates?residence=DE", headers=h["e1"]).json()) == ["t-pv2"]
    assert ids(c.get("/needs/n-pv/candidates?nationality=DE", headers=h["recruiter"]).json()) == ["t-pv2"]


def test_the_filters_an_enterprise_may_use_are_exactly_those_a_masked_card_shows():
    """Known answer: a talent whose every filterable attribute has a distinct value; the masked card shows the
    values of the allowed filters and none of the refused ones."""
    talent = Talent(id="t-x", name="X", tier="C", nationality="FR", residence={"country": "JP"}, languages=["ko"],
                    sites=["abroad"], incubator_id="inc-zz", skills=["optics"])  # fmt: skip
    card = talent_card(talent, reveal=False).model_dump(mode="json")
    assert card["masked"]
    shown = {"tier": "C", "residence": "JP"}
    hidden = {"nationality": "FR", "language": "ko", "site": "abroad", "incubator": "inc-zz"}
    assert {f: card[field] for f, field in disclosure.CARD_FILTERS.items()} == shown
    text = orjson.dumps(card).decode()
    assert not [v for v in hidden.values() if v in text]
    given = {name: ["x"] for name in [*shown, *hidden]}
    assert sorted(disclosure.hidden_filters(given)) == sorted(hidden)


# --- 2. daily quotas --------------------------------------------------------------------------------------------------


def post_need(api: Api, key: str, need_id: str, enterprise: str = "e1") -> httpx.Response:
    return api.c.post("/needs", json={"id": need_id, "title": "岗位", "enterprise_id": enterprise}, headers=api.h[key])


def test_daily_quota_of_new_needs(serve):
    api = serve(enterprise_daily_needs=2)
    assert post_need(api, "e1", "n-a").status_code == 201
    assert post_need(api, "e1", "n-a").status_code == 409  # refused writes use nothing
    assert post_need(api, "e1", "n-b").status_code == 201
    r = post_need(api, "e1", "n-c")
    assert r.status_code == 429 and r.json()["error"]["code"] == "quota_exceeded"
    assert "2 new needs" in r.json()["error"]["message"] and "TALENTMATCH_ENTERPRISE_DAILY_NEEDS" in r.text
    assert 0 < int(r.headers["Retry-After"]) <= 86_400
    put = api.c.put("/needs/n-c", json={"id": "n-c", "title": "岗位"}, headers=api.h["e1"])
    assert put.status_code == 429  # creating by PUT counts too
    assert api.store.get("need", "n-c") is None
    # replacing its own need creates nothing; e2 and the office have their own count (none)
    assert api.c.put("/needs/n-a", json={"id": "n-a", "title": "改"}, headers=api.h["e1"]).status_code == 200
    assert post_need(api, "e2", "n-e2", "e2").status_code == 201
    assert all(post_need(api, "recruiter", f"n-r{i}").status_code == 201 for i in range(3))


def test_posting_another_tenants_need_id_answers_as_for_ones_own(serve):
    """Ids are one namespace, so a taken id is a 409 either way (the residual: it tells that the id exists); the
    answer for e2's n-chip is e1's own n-pv's with the id swapped, naming no owner, and uses no quota."""
    api = serve(enterprise_daily_needs=1)
    own, theirs = post_need(api, "e1", "n-pv"), post_need(api, "e1", "n-chip")
    assert own.status_code == theirs.status_code == 409
    assert theirs.headers.keys() == own.headers.keys()
    assert orjson_swap(theirs.json(), "n-chip", "n-pv") == own.json()
    assert not [w for w in ("e2", "Acme", "RISC-V", "enterprise_id") if w in theirs.text], theirs.text
    assert post_need(api, "e1", "n-new").status_code == 201  # neither 409 used the one new need of the day
    assert api.store.get("need", "n-chip").enterprise_id == "e2"


def orjson_swap(doc: dict, old: str, new: str) -> dict:
    return orjson.loads(orjson.dumps(doc).decode().replace(old, new))


def test_daily_quota_of_ranking_requests(serve):
    api = serve(enterprise_daily_rankings=3)
    c, h = api.c, api.h
    # requests refused for access (404, 409, 422) are not counted
    assert c.get("/needs/n-chip/candidates", headers=h["e1"]).status_code == 404
    assert c.get("/needs/n-pv-closed/candidates", headers=h["e1"]).status_code == 409
    assert c.get("/needs/n-pv/candidates?site=abroad", headers=h["e1"]).status_code == 422
    assert [c.get(f"/needs/n-pv/candidates?offset={i}", headers=h["e1"]).status_code for i in range(4)] == [
        200, 200, 200, 429]  # fmt: skip
    r = c.get("/needs/n-pv/candidates", headers=h["e1"])
    assert r.status_code == 429 and "3 ranking requests" in r.json()["error"]["message"] and r.headers["Retry-After"]
    assert c.get("/needs/n-chip/candidates", headers=h["e2"]).status_code == 200
    assert c.get("/needs/n-pv/candidates", headers=h["recruiter"]).status_code == 200


def test_quota_days_are_the_offices(tmp_path, db_url):
    with Store(db_url) as store:
        store.upgrade()
        settings = settings_for(db_url, tmp_path, enterprise_daily_rankings=1)
        night = datetime(2026, 3, 2, 15, 59, tzinfo=UTC)  # 23:59 in Jiaxing
        quotas.take(store, settings, "e1", Quota.rankings, now=night)
        with pytest.raises(QuotaExceeded) as e:
            quotas.take(store, settings, "e1", Quota.rankings, now=night)
        assert e.value.retry_after == 60
        quotas.take(store, settings, "e1", Quota.rankings, now=night + timedelta(minutes=1))  # a new day in Jiaxing
        t = db.QuotaUsageRow.__table__
        with store.engine.connect() as conn:  # the day before is dropped when a new one starts
            assert [(r.day.isoformat(), r.used) for r in conn.execute(sa.select(t))] == [("2026-03-03", 1)]


def test_quota_is_exact_under_concurrent_takers(tmp_path, db_url):
    with Store(db_url) as store:
        store.upgrade()
        settings = settings_for(db_url, tmp_path, enterprise_daily_needs=5)

        def one(_: int) -> bool:
            try:
                quotas.take(store, settings, "e1", Quota.needs, now=T0)
                return True
            except QuotaExceeded:
                return False

        with ThreadPoolExecutor(12) as pool:
            assert sum(pool.map(one, range(40))) == 5


def test_concurrent_posts_over_http_stop_exactly_at_the_quota(serve, db_url):
    api = serve(db_url, enterprise_daily_needs=4)
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda i: post_need(api, "e1", f"n-race-{i}").status_code, range(16)))
    assert sorted(codes) == [201] * 4 + [429] * 12
    assert len([n for n in api.store.ids("need") if n.startswith("n-race-")]) == 4


# --- 4. reasons never quote a talent's salary to an enterprise --------------------------------------------------------


@cache
def salary_scorer() -> Scorer:
    """A real LightGBM ranker whose grades follow the salary ratio only: its reasons lead with the salary."""
    rng = np.random.default_rng(0)
    X = rng.random((400, len(SCHEMA.names)), dtype=np.float32)
    y = np.digitize(X[:, SCHEMA.names.index("salary_ratio")], [0.25, 0.5, 0.7])
    params = {"objective": "lambdarank", "num_leaves": 7, "min_data_in_leaf": 5, "verbose": -1, "seed": 0,
              "deterministic": True, "num_threads": 1}  # fmt: skip
    booster = lgb.train(params, lgb.Dataset(X, y, group=[20] * 20, feature_name=SCHEMA.names), num_boost_round=10)
    return Scorer(booster, "salary-1", SCHEMA.version, NO_ENCODER)


FIGURES = f"{SALARY} of {BUDGET}"


def salary_reason(reasons: list[dict]) -> dict:
    return next(r for r in reasons if r["code"] == "salary")


def test_reasons_never_quote_a_talents_salary_to_an_enterprise(serve):
    api = serve()
    api.app.state.models.scorer = salary_scorer()  # what a reload to this champion does
    c, h = api.c, api.h
    office = c.get("/needs/n-pv/candidates", headers=h["recruiter"]).json()
    mine = c.get("/needs/n-pv/candidates", headers=h["e1"]).json()
    assert office["personalized"] and mine["personalized"]
    said = salary_reason(next(x for x in office["candidates"] if x["talent_id"] == "t-pv1")["reasons"])
    assert FIGURES in said["en"] and f"{SALARY}/{BUDGET}" in said["zh"]
    told = salary_reason(next(x for x in mine["candidates"] if x["talent_id"] == "t-pv1")["reasons"])
    assert (told["en"], told["zh"]) == disclosure.PLAIN_REASONS["salary"] and told["weight"] == said["weight"]
    told_all = [r[lang] for x in mine["candidates"] for r in x["reasons"] for lang in ("en", "zh")]
    assert told_all and not [t for t in told_all if str(SALARY) in t]
    # the decision receipt: the office reads the figures, the enterprise (its own need) does not
    for key, ranking_id, shows in (("recruiter", mine["ranking_id"], True), ("e1", mine["ranking_id"], False)):
        receipt = c.get(f"/rankings/{ranking_id}", headers=h[key]).json()
        reason = salary_reason(next(x for x in receipt["candidates"] if x["talent_id"] == "t-pv1")["reasons"])
        assert (FIGURES in reason["en"]) is shows


def test_alerts_never_quote_a_talents_salary(tmp_path, world_dir):
    w = World(tmp_path, world_dir)
    w.matcher.scorer = salary_scorer
    need = w.idx.needs["n1"].model_copy(update={"salary_budget": float(BUDGET), "min_tier": None})
    w.store.upsert([need])
    w.idx.add_need(need)
    w.subscribe(channel=Channel.inbox)
    talent = perovskite_talents(1)[0].model_copy(update={"salary_expectation": float(SALARY)})
    assert len(w.arrive([talent], now=T0)) == 1
    a = db.AlertRow.__table__
    with w.store.engine.connect() as conn:
        payload = conn.scalar(sa.select(a.c.payload))
    assert salary_reason(payload["reasons"])["en"] == disclosure.PLAIN_REASONS["salary"][0]
    assert not [r for r in payload["reasons"] if str(SALARY) in r["en"] + r["zh"]]


def test_the_inbox_never_quotes_a_salary_stored_in_an_older_alert(serve):
    api = serve()
    r = api.c.post("/subscriptions", json={"need_id": "n-pv", "channel": "inbox", "top_n": 3}, headers=api.h["e1"])
    sub = r.json()["id"]
    said = {"code": "salary", "en": f"salary expectation within budget ({FIGURES} 10k CNY a year)",
            "zh": f"期望薪酬在预算内（{SALARY}/{BUDGET}万元/年）", "weight": 0.3}  # fmt: skip
    payload = {"need": {"id": "n-pv", "title": "钙钛矿"}, "talent": {"id": "t-pv1", "masked": True, "name": "-",
               "availability": {}}, "reasons": [said]}  # fmt: skip
    with api.store.engine.begin() as conn:  # an alert made before reasons were filtered at the source
        conn.execute(sa.insert(db.AlertRow.__table__).values(
            subscription_id=sub, enterprise_id="e1", need_id="n-pv", talent_id="t-pv1", score=0.9, reason="top_n",
            created_at=T0, status="inbox", idempotency_key="alert-old", masked=True, payload=payload))  # fmt: skip
    reasons = api.c.get("/alerts", headers=api.h["e1"]).json()["items"][0]["reasons"]
    assert [(x["en"], x["zh"]) for x in reasons] == [disclosure.PLAIN_REASONS["salary"]]


@cache
def hidden_scorer() -> Scorer:
    """A real LightGBM ranker whose grades follow the work-permit points and the incubator only: a foreign talent
    with an incubator gets reasons naming the incubator and the permit class with its points."""
    rng = np.random.default_rng(1)
    X = rng.random((400, len(SCHEMA.names)), dtype=np.float32)
    y = np.digitize(X[:, SCHEMA.names.index("permit_points")] + X[:, SCHEMA.names.index("has_incubator")],
                    [0.5, 1.0, 1.5])  # fmt: skip
    params = {"objective": "lambdarank", "num_leaves": 7, "min_data_in_leaf": 5, "verbose": -1, "seed": 0,
              "deterministic": True, "num_threads": 1}  # fmt: skip
    booster = lgb.train(params, lgb.Dataset(X, y, group=[20] * 20, feature_name=SCHEMA.names), num_boost_round=10)
    return Scorer(booster, "hidden-1", SCHEMA.version, NO_ENCODER)


INCUBATOR = "海纳孵化器（德国）"
"""t-pv2's incubator (inc-de), a German national of tier C: about 100 work-permit points, class A."""


def hidden_said(reasons: list[dict]) -> list[str]:
    """What of t-pv2's hidden attributes the reasons say: the incubator, a permit class or its points."""
    text = " ".join(r["en"] + " " + r["zh"] for r in reasons)
    return [w for w in (INCUBATOR, "inc-de", "work-permit", "工作许可", "points", "100") if w in text]


def test_reasons_never_tell_an_enterprise_the_incubator_or_the_permit_class(serve):
    api = serve(alerts_min_relevance=0.0)
    api.app.state.models.scorer = hidden_scorer()
    c, h = api.c, api.h
    sub = c.post("/subscriptions", json={"need_id": "n-pv", "channel": "inbox", "min_score": 0.0}, headers=h["e1"])
    assert sub.status_code == 201, sub.text

    def of(body: dict, talent: str) -> list[dict]:
        return next(x for x in body["candidates"] if x["talent_id"] == talent)["reasons"]

    office = c.get("/needs/n-pv/candidates", headers=h["recruiter"]).json()
    mine = c.get("/needs/n-pv/candidates", headers=h["e1"]).json()
    said = of(office, "t-pv2")
    assert {r["code"] for r in said} >= {"incubator", "permit"} and hidden_said(said)  # the office reads them
    told = of(mine, "t-pv2")
    assert hidden_said(told) == []
    incubator = next(r for r in told if r["code"] == "incubator")
    assert (incubator["en"], incubator["zh"]) == disclosure.PLAIN_REASONS["incubator"]
    assert not [r for r in told if r["code"] in disclosure.WITHHELD_REASONS]
    receipt = c.get(f"/rankings/{mine['ranking_id']}", headers=h["e1"]).json()
    assert hidden_said(of(receipt, "t-pv2")) == []
    assert hidden_said(of(c.get(f"/rankings/{mine['ranking_id']}", headers=h["recruiter"]).json(), "t-pv2"))
    # an alert on a new talent like t-pv2: its stored payload and the inbox say neither
    like = {"id": "t-de", "name": "Jonas Weber", "tier": "C", "nationality": "DE", "residence": {"country": "DE"},
            "incubator_id": "inc-de", "skills": ["perovskite", "thin films"], "summary": "perovskite thin films",
            "availability": {"mode": "short_term", "months_per_year": 4}}  # fmt: skip
    assert c.post("/talents", json=like, headers=h["recruiter"]).status_code == 201
    a = db.AlertRow.__table__
    with api.store.engine.connect() as conn:
        payload = conn.scalar(sa.select(a.c.payload).where(a.c.talent_id == "t-de"))
    assert payload is not None and payload["reasons"] and hidden_said(payload["reasons"]) == []
    items = c.get("/alerts", headers=h["e1"]).json()["items"]
    assert [hidden_said(i["reasons"]) for i in items if i["talent"]["id"] == "t-de"] == [[]]


def test_an_older_alert_is_sent_without_what_a_card_hides(serve):
    """A message queued before reasons were filtered: the dispatcher filters them at send time."""
    api = serve()
    sub = api.c.post(
        "/subscriptions", json={"need_id": "n-pv", "channel": "inbox", "min_score": 0.5}, headers=api.h["e1"]
    ).json()
    said = [{"code": "incubator", "en": f"linked through the {INCUBATOR}", "zh": f"经由{INCUBATOR}", "weight": 0.4},
            {"code": "permit", "en": "likely work-permit class A (about 100 points)",
             "zh": "预计可获A类工作许可（约100分）", "weight": 0.3},
            {"code": "rule:consent", "en": "consented to matching", "zh": "已同意匹配", "weight": 0.0}]  # fmt: skip
    payload = {"need": {"id": "n-pv", "title": "钙钛矿"}, "talent": {"id": "t-pv2"}, "reasons": said}
    msg = Message(1, "alert", "k", 0, T0, subs_db.get(api.store, sub["id"]), [payload], [1])
    sent = current(api.store, msg).alerts[0]["reasons"]
    assert [r["code"] for r in sent] == ["incubator", "rule:consent"] and hidden_said(sent) == []


# --- 5. offboarding ---------------------------------------------------------------------------------------------------


def outbox(store: Store) -> list:
    o = db.OutboxRow.__table__
    with store.engine.connect() as conn:
        return conn.execute(sa.select(o).order_by(o.c.id)).all()


def alert_statuses(store: Store) -> list[str]:
    a = db.AlertRow.__table__
    with store.engine.connect() as conn:
        return list(conn.scalars(sa.select(a.c.status).order_by(a.c.id)))


def enterprise_keys(store: Store, enterprise: str) -> list[int]:
    return [k.id for k in list_keys(store) if k.enterprise_id == enterprise and k.revoked_at is None]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.down()


def test_an_enterprise_without_a_live_key_gets_nothing(tmp_path, world_dir, receiver, db_url):
    w = World(tmp_path, world_dir, db_url, alerts_webhook_allow="127.0.0.1/32")
    w.subscribe(channel=Channel.webhook, url=receiver.url, secret=SECRET)
    assert len(w.arrive(perovskite_talents(3), now=T0)) == 3
    for key_id in enterprise_keys(w.store, "e1"):
        revoke_key(w.store, key_id)
    stats = dispatch_once(w.store, w.settings, now=T0)
    assert (stats.claimed, receiver.requests) == (0, [])
    assert [(r.status, r.last_error) for r in outbox(w.store)] == [("cancelled", "subscription no longer in force")] * 3
    assert alert_statuses(w.store) == ["cancelled"] * 3
    # new talent: nothing is even made for it while e1 has no key (the matcher's copy is not refreshed)
    assert w.arrive(perovskite_talents(2, prefix="tq"), now=T0) == []
    # a new key brings the subscription back into force
    with Store(w.url) as store:
        create_key(store, "enterprise", "e1")
    assert len(w.arrive(perovskite_talents(1, prefix="tr"), now=T0)) == 1
    assert dispatch_once(w.store, w.settings, now=T0).delivered == 1 and len(receiver.requests) == 1


def test_a_need_moved_to_another_enterprise_stops_feeding_the_old_ones_subscription(tmp_path, world_dir, receiver):
    w = World(tmp_path, world_dir)
    w.subscribe(channel=Channel.webhook, url=receiver.url, secret=SECRET)  # e1's, on n1
    w.subscribe(enterprise_id="e2", need_id=None, channel=Channel.inbox)  # e2's, on all its needs
    assert len(w.arrive(perovskite_talents(2), now=T0)) == 2
    moved = w.idx.needs["n1"].model_copy(update={"enterprise_id": "e2"})
    w.store.upsert([moved])
    w.idx.add_need(moved)
    w.matcher.on_write([(None, moved)], now=T0)  # what the writer's after-write hook does
    assert dispatch_once(w.store, w.settings, now=T0).claimed == 0 and receiver.requests == []
    assert {r.status for r in outbox(w.store)} == {"cancelled"}
    created = w.arrive(perovskite_talents(2, prefix="tq"), now=T0 + timedelta(hours=1))
    a = db.AlertRow.__table__
    with w.store.engine.connect() as conn:
        fresh = conn.execute(sa.select(a.c.enterprise_id, a.c.need_id).where(a.c.id.in_([x.id for x in created])))
        assert sorted(fresh) == [("e2", "n1"), ("e2", "n1")]  # only the new owner hears of its need


def test_an_enterprise_sees_which_of_its_subscriptions_are_in_force(serve):
    """n-pv moved to e2: e1's subscription naming it delivers nothing more, and e1's list says so."""
    api = serve()
    c, h = api.c, api.h
    made = {}
    for name, need in (("n-pv", "n-pv"), ("all", None), ("closed", "n-pv-closed")):
        r = c.post("/subscriptions", json={"need_id": need, "channel": "inbox", "top_n": 3}, headers=h["e1"])
        assert r.status_code == 201 and r.json()["in_force"] is True, r.text
        made[name] = r.json()["id"]

    def in_force() -> dict[str, bool]:
        listed = {s["id"]: s["in_force"] for s in c.get("/subscriptions", headers=h["e1"]).json()}
        assert all(c.get(f"/subscriptions/{i}", headers=h["e1"]).json()["in_force"] is v for i, v in listed.items())
        return {name: listed[i] for name, i in made.items()}

    assert in_force() == {"n-pv": True, "all": True, "closed": True}
    moved = c.get("/needs/n-pv", headers=h["recruiter"]).json() | {"enterprise_id": "e2"}
    assert c.put("/needs/n-pv", json=moved, headers=h["recruiter"]).status_code == 200
    assert in_force() == {"n-pv": False, "all": True, "closed": True}
    with api.store.engine.connect() as conn:  # the same predicate the matcher and the dispatcher use
        assert subs_db.still_in_force(conn, set(made.values())) == {made["all"], made["closed"]}
    r = c.post("/subscriptions", json={"channel": "email", "email": "hr@example.com", "top_n": 3}, headers=h["e1"])
    assert r.status_code == 201 and (r.json()["verified"], r.json()["in_force"]) == (False, False)


def test_deleting_a_subscription_cancels_its_queued_messages(serve, receiver):
    api = serve(alerts_min_relevance=0.0)
    c, h = api.c, api.h
    subs = {}
    for name, body in (("webhook", {"channel": "webhook", "url": receiver.url, "secret": SECRET}),
                       ("digest", {"channel": "webhook", "url": receiver.url, "secret": SECRET, "delivery": "digest"}),
                       ("inbox", {"channel": "inbox"})):  # fmt: skip
        r = c.post("/subscriptions", json={"need_id": "n-pv", "min_score": 0.0, **body}, headers=h["e1"])
        assert r.status_code == 201, r.text
        subs[name] = r.json()["id"]
    talent = {"id": "t-new", "name": "周敏", "skills": ["perovskite", "thin films"], "tier": "B",
              "summary": "perovskite thin films solar cells", "availability": {"mode": "short_term",
                                                                                 "months_per_year": 4}}  # fmt: skip
    assert c.post("/talents", json=talent, headers=h["recruiter"]).status_code == 201
    by_sub = {r.subscription_id: r.status for r in outbox(api.store)}
    assert by_sub == {subs["webhook"]: "pending"}
    for name in ("webhook", "digest"):
        assert c.delete(f"/subscriptions/{subs[name]}", headers=h["e1"]).status_code == 204
    assert [(r.status, r.last_error) for r in outbox(api.store)] == [("cancelled", "subscription deleted")]
    a = db.AlertRow.__table__
    with api.store.engine.connect() as conn:
        statuses = dict(conn.execute(sa.select(a.c.subscription_id, a.c.status)).all())
    assert statuses == {subs["webhook"]: "cancelled", subs["digest"]: "cancelled", subs["inbox"]: "inbox"}
    later = datetime.now(UTC) + timedelta(days=2)  # the digest's day is over: nothing is flushed or sent
    assert dispatch_once(api.store, api.app.state.settings, now=later).claimed == 0 and receiver.requests == []
    items = c.get("/alerts", headers=h["e1"]).json()["items"]  # the inbox keeps what it holds; cancelled are not listed
    assert [i["subscription_id"] for i in items] == [subs["inbox"]]


# --- 6. replace_need's ownership under the lock; receipts' key ids ---------------------------------------------------


def test_replace_need_checks_ownership_under_the_write_lock(serve):
    """e1 replaces its need while a recruiter's write moving it to e2 holds the lock: e1 must not take it back."""
    api = serve()
    mine = api.c.get("/needs/n-pv", headers=api.h["e1"]).json() | {"title": "e1 改"}
    state = api.app.state
    result: dict[str, httpx.Response] = {}
    with state.index_lock:  # the recruiter's write is in progress
        thread = threading.Thread(target=lambda: result.update(r=api.c.put("/needs/n-pv", json=mine,
                                                                            headers=api.h["e1"])))  # fmt: skip
        thread.start()
        time.sleep(0.5)  # e1's request is past its first look at the need and waits for the lock
        moved = Need.model_validate(mine | {"title": "moved", "enterprise_id": "e2"})
        api.store.upsert([moved])
        state.indices.add_need(moved)
    thread.join(30)
    assert result["r"].status_code == 404, result["r"].text
    assert api.store.get("need", "n-pv").enterprise_id == "e2" and api.store.get("need", "n-pv").title == "moved"


def test_receipts_never_show_an_enterprise_another_keys_id(serve):
    api = serve()
    c, h = api.c, api.h
    by_office = c.get("/needs/n-pv/candidates", headers=h["recruiter"]).json()["ranking_id"]
    by_self = c.get("/needs/n-pv/candidates", headers=h["e1"]).json()["ranking_id"]
    second = create_key(api.store, "enterprise", "e1", label="e1 second")
    by_colleague = c.get("/needs/n-pv/candidates", headers=auth(second)).json()["ranking_id"]
    listed = list_keys(api.store)
    office_key = next(k.id for k in listed if k.role == "recruiter")
    e1_key, colleague_key = (next(k.id for k in listed if k.label == name) for name in ("e1", "e1 second"))

    def key_id(ranking_id: str, key: str) -> int | None:
        r = c.get(f"/rankings/{ranking_id}", headers=h[key])
        assert r.status_code == 200, r.text
        return r.json()["key_id"]

    assert key_id(by_office, "e1") is None
    assert key_id(by_self, "e1") == e1_key
    assert key_id(by_colleague, "e1") == colleague_key
    assert [key_id(x, "recruiter") for x in (by_office, by_self)] == [office_key, e1_key]


@pytest.mark.parametrize(
    ("query", "ranked", "shown"),
    [("nationality=DE", ["t-pv2"], False), ("language=de", ["t-pv2"], False), ("site=abroad", [], False),
     ("incubator=inc-de", ["t-pv2"], False), ("tier=C", ["t-pv2"], True), ("residence=DE", ["t-pv2"], True)],
)  # fmt: skip
def test_an_enterprise_reads_no_receipt_filtered_on_what_a_card_hides(serve, query, ranked, shown):
    """A recruiter's ranking of e1's need filtered by nationality lists who has it: e1 must not read that list."""
    api = serve()
    ranking = api.c.get(f"/needs/n-pv/candidates?{query}", headers=api.h["recruiter"]).json()
    assert ids(ranking) == ranked
    r = api.c.get(f"/rankings/{ranking['ranking_id']}", headers=api.h["e1"])
    assert r.status_code == (200 if shown else 404)
