"""Cross-process sync through the change journal, with two apps in this process on one real SQLite file (the
subprocess tests on PostgreSQL are in ``test_replicas.py``): what one writes, the other ranks within the bound."""

from __future__ import annotations

import time

import httpx
import pytest
import sqlalchemy as sa
from api_helpers import auth, run_server, settings_for
from ranking_world import seed_ranking_world
from sync_helpers import NEW_PV, ranked, within

from features.records import Talent
from service import people, sync
from service.api.app import create_app
from service.store import Store

SYNC = 0.2
BOUND = SYNC + 2.0
"""Seconds a write through one app may take to show in the other's rankings: one poll interval plus a margin for a
loaded machine."""


@pytest.fixture
def pair(tmp_path):
    url = f"sqlite:///{tmp_path / 'api.db'}"
    keys = seed_ranking_world(url, tmp_path / "world")
    a = create_app(settings_for(url, tmp_path, sync_seconds=0))
    b = create_app(settings_for(url, tmp_path, sync_seconds=SYNC))
    with (
        run_server(a) as base_a,
        run_server(b) as base_b,
        httpx.Client(base_url=base_a, timeout=30) as ca,
        httpx.Client(base_url=base_b, timeout=30) as cb,
    ):
        yield ca, cb, {k: auth(v) for k, v in keys.items()}, a.state, b.state
    assert not b.state.sync._thread.is_alive()  # the poller stops with the app


def test_a_write_through_one_app_is_ranked_by_the_other_within_the_bound(pair):
    a, b, h, _, state_b = pair
    assert "t-pv9" not in ranked(b, "n-pv", h["recruiter"])
    assert a.post("/talents", json=NEW_PV, headers=h["recruiter"]).status_code == 201
    within(BOUND, lambda: "t-pv9" in ranked(b, "n-pv", h["recruiter"]))
    need = {"id": "n-pv2", "title": "钙钛矿薄膜工程师", "description": "perovskite thin films", "enterprise_id": "e1",
            "kind": "special_researcher", "months_per_year": 3, "required_skills": ["perovskite"]}  # fmt: skip
    assert a.post("/needs", json=need, headers=h["e1"]).status_code == 201
    within(BOUND, lambda: b.get("/needs/n-pv2/candidates", headers=h["e1"]).status_code == 200)
    assert "t-pv9" in ranked(b, "n-pv2", h["e1"])

    assert a.delete("/talents/t-pv9", headers=h["admin"]).status_code == 200
    within(BOUND, lambda: "t-pv9" not in ranked(b, "n-pv", h["recruiter"]))
    assert "t-pv9" not in state_b.indices.talents
    assert state_b.indices.rows(["t-pv9"]).tolist() == [-1]  # scrubbed: no row of theirs left
    within(BOUND, lambda: b.get("/readyz").json()["sync_lag_changes"] == 0)  # the erasure ranks before its page ends
    assert 0 <= b.get("/readyz").json()["sync_lag_seconds"] < BOUND
    metrics = b.get("/metrics").text
    assert "talentmatch_sync_lag_changes 0.0" in metrics and "talentmatch_sync_lag_seconds" in metrics
    assert a.get("/readyz").json()["sync_lag_changes"] is None  # sync off there


def test_catch_up_applies_direct_store_writes_and_skips_what_is_applied(pair, tmp_path):
    _, b, h, _, state_b = pair
    state_b.sync.stop()
    head = state_b.sync.applied
    with Store(state_b.settings.database_url) as other:  # e.g. `talentmatch db import` while serving
        other.upsert([Talent.model_validate(NEW_PV)])
    rows = len(state_b.indices.table)
    assert sync.catch_up(state_b, head) == head + 1 and len(state_b.indices.table) == rows + 1
    assert "t-pv9" in ranked(b, "n-pv", h["recruiter"])
    # the same changes again (as after a snapshot taken at an older seq, or this process's own writes): no row added
    assert sync.catch_up(state_b, 0) == head + 1 and len(state_b.indices.table) == rows + 1


def test_a_failing_poll_is_logged_and_retried(pair, caplog):
    _, b, _, _, state_b = pair
    engine = state_b.store.engine
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE changes RENAME TO changes_away"))
    try:
        time.sleep(SYNC * 3)
        assert state_b.sync.error is not None and "changes" in state_b.sync.error
        assert "sync: catching up from change" in caplog.text
        assert b.get("/readyz").status_code == 200
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("ALTER TABLE changes_away RENAME TO changes"))
    assert state_b.sync._thread.is_alive()
    within(BOUND, lambda: state_b.sync.error is None)


def test_alerts_follow_subscriptions_and_needs_made_through_the_other_app(pair):
    """A subscription made through A reaches B's alert matcher: a talent written through B then alerts it."""
    a, b, h, _, state_b = pair
    sub = {"need_id": "n-pv", "channel": "inbox", "min_score": 0.0}
    assert a.post("/subscriptions", json=sub, headers=h["e1"]).status_code == 201
    within(BOUND, lambda: "n-pv" in state_b.alerts.batch)
    assert b.post("/talents", json=NEW_PV, headers=h["recruiter"]).status_code == 201
    items = a.get("/alerts", headers=h["e1"]).json()["items"]
    assert [(i["need_id"], i["talent"]["id"]) for i in items] == [("n-pv", "t-pv9")]
    # a need closed through A leaves B's need set
    need = a.get("/needs/n-pv", headers=h["e1"]).json()
    assert a.put("/needs/n-pv", json={**need, "status": "closed"}, headers=h["e1"]).status_code == 200
    within(BOUND, lambda: "n-pv" not in state_b.alerts.batch)


def test_each_settled_write_and_applied_page_hands_the_freed_heap_back(pair, monkeypatch):
    """A settle replaces the graph's adjacency and drops the old version's per-need results; glibc keeps what they
    freed (~70 MB at 1M talents after 20 writes) unless asked. The writer asks once per settled batch, after the
    settle (what it frees must be free by then); a replica once per page it applied, and not for a page it had."""
    from service.api import live

    a, _, h, state_a, state_b = pair
    state_b.sync.stop()
    head = state_b.sync.applied
    calls: list[tuple[str, bool]] = []

    def recorder(name, state):
        graph = state.indices.graph
        return lambda: calls.append((name, graph._csr_cache is not None and graph._csr_cache.version == graph._version))

    monkeypatch.setattr(live, "return_freed_heap", recorder("writer", state_a))
    monkeypatch.setattr(sync, "return_freed_heap", recorder("replica", state_b))
    assert a.post("/talents", json=NEW_PV, headers=h["recruiter"]).status_code == 201
    assert calls == [("writer", True)]  # settled when asked
    assert sync.catch_up(state_b, head) == head + 1
    assert calls == [("writer", True), ("replica", True)]
    sync.catch_up(state_b, head)  # the same page again: nothing applied, nothing to hand back
    assert calls == [("writer", True), ("replica", True)]


def test_persons_merged_by_another_process_show_in_the_rankings_within_the_bound(pair, tmp_path):
    """The CLI (another process) links the pool and the office confirms a pair there: the journal's person rows
    empty the polling app's ranking cache and the person links it remembered, so the pair shows as one card within
    the bound, and as two again after an undo."""
    _, b, h, _, state_b = pair
    url = str(state_b.store.engine.url)
    with Store(url) as store:
        people.apply(store, list(store.iter_records("talent")))
    first = ranked(b, "n-pv", h["recruiter"])
    within(BOUND, lambda: ranked(b, "n-pv", h["recruiter"]) == first)  # the links applied (each record its own)
    top, second = first[:2]
    with Store(url) as store:
        person = people.decide(store, top, second, "confirm")["persons"][top]
    within(BOUND, lambda: second not in ranked(b, "n-pv", h["recruiter"]))
    page = b.get("/needs/n-pv/candidates?k=20", headers=h["recruiter"]).json()
    assert page["removed"]["same_person"] == 1
    assert next(c for c in page["candidates"] if c["talent_id"] == top)["person_id"] == person
    with Store(url) as store:
        people.undo(store, person)
    within(BOUND, lambda: ranked(b, "n-pv", h["recruiter"]) == first)
