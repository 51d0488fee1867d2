"""A running API process moves onto a newer index snapshot (``service.sync.Sync.pickup``) without a restart: the
writes of every process reach it, before and after the move, and a snapshot a later erasure made unusable is never
picked up."""

from __future__ import annotations

import gc
import weakref
from contextlib import contextmanager

import httpx
import pytest
from api_helpers import auth, run_server, settings_for
from ranking_world import seed_ranking_world
from sync_helpers import NEW_PV, ranked, within

from features import snapshot
from features.records import Talent
from service import snapshots, sync
from service.api.app import create_app
from service.store import Store


@pytest.fixture
def office(tmp_path):
    url = f"sqlite:///{tmp_path / 'api.db'}"
    keys = seed_ranking_world(url, tmp_path / "world")
    return url, tmp_path, {k: auth(v) for k, v in keys.items()}


@contextmanager
def started(settings):
    app = create_app(settings)
    with run_server(app) as base, httpx.Client(base_url=base, timeout=30) as client:
        yield client, app.state


def publish(settings) -> str:
    """What ``talentmatch index snapshot`` does in another process: the newest snapshot caught up, saved."""
    with Store(settings.database_url) as store:
        return snapshots.save(store, settings, sync.fresh_snapshot(store, settings)).name


def talent(id_: str) -> Talent:
    return Talent.model_validate({**NEW_PV, "id": id_})


def test_a_running_process_moves_onto_a_newer_snapshot_and_loses_no_write(office):
    url, tmp, h = office
    settings = settings_for(url, tmp, sync_seconds=0, snapshot_poll_seconds=0)  # moves only when told, here
    with started(settings) as (client, state):
        assert client.get("/readyz").json()["snapshot"] is None  # built at start (and saved)
        assert state.sync.pickup() is None  # the one it saved is not newer than its indices
        with Store(url) as store:
            store.upsert([talent("t-pv9")])  # another process's write, not seen here (its poller is off)
        newer = publish(settings)
        assert client.post("/talents", json={**NEW_PV, "id": "t-pv10"}, headers=h["recruiter"]).status_code == 201
        old = state.indices
        assert "t-pv9" not in old.talents

        assert state.sync.pickup() == newer
        assert state.indices is not old and client.get("/readyz").json()["snapshot"] == newer
        assert {"t-pv9", "t-pv10"} <= set(ranked(client, "n-pv", h["recruiter"]))  # its own write after the save too
        assert client.post("/talents", json={**NEW_PV, "id": "t-pv11"}, headers=h["recruiter"]).status_code == 201
        assert "t-pv11" in ranked(client, "n-pv", h["recruiter"]) and "t-pv11" not in old.talents
        assert state.alerts.idx is state.indices and state.alerts.batch.idx is state.indices
        assert state.sync.pickup() is None  # nothing newer now
        gone = weakref.ref(old)
        del old
        gc.collect()
        assert gone() is None  # nothing holds the old indices: their memory is freed


def test_a_snapshot_a_later_erasure_made_unusable_is_deleted_not_picked_up(office):
    url, tmp, _ = office
    settings = settings_for(url, tmp, sync_seconds=0, snapshot_poll_seconds=0)
    with started(settings) as (client, state):
        with Store(url) as store:
            store.upsert([talent("t-pv9")])
        newer = publish(settings)
        with Store(url) as store:  # erased by another host whose `forget` missed this folder
            store.delete("talent", "t-pv9")
        old = state.indices
        assert state.sync.pickup() is None
        assert state.indices is old and client.get("/readyz").json()["snapshot"] is None
        assert newer not in [p.name for p in snapshot.snapshots(settings.snapshot_dir)]


def test_the_poller_picks_a_new_snapshot_up_by_itself(office):
    url, tmp, h = office
    settings = settings_for(url, tmp, sync_seconds=0.1, snapshot_poll_seconds=0.2)
    with started(settings) as (client, _state):
        with Store(url) as store:
            store.upsert([talent("t-pv9")])
        newer = publish(settings)
        within(10, lambda: client.get("/readyz").json()["snapshot"] == newer)
        assert "t-pv9" in ranked(client, "n-pv", h["recruiter"])


def test_a_write_between_the_catch_up_and_the_move_lands_in_the_indices_that_serve(office, monkeypatch):
    """The bulk of the catch-up runs without the writers' lock: a write of this process committed then is applied
    again under the lock, so the new indices hold it."""
    url, tmp, h = office
    settings = settings_for(url, tmp, sync_seconds=0, snapshot_poll_seconds=0)
    with started(settings) as (client, state):
        with Store(url) as store:
            store.upsert([talent("t-pv9")])
        newer = publish(settings)
        real = sync.catch_up

        def then_a_write(target, since, **kw):
            got = real(target, since, **kw)
            if target is not state and not then_a_write.done:
                then_a_write.done = True
                status = client.post("/talents", json={**NEW_PV, "id": "t-late"}, headers=h["recruiter"]).status_code
                assert status == 201 and "t-late" in state.indices.talents  # in the old indices only, so far
            return got

        then_a_write.done = False
        monkeypatch.setattr(sync, "catch_up", then_a_write)
        assert state.sync.pickup() == newer
        assert then_a_write.done and "t-late" in state.indices.talents


def test_writes_racing_the_move_all_land_in_the_indices_that_serve(office):
    from concurrent.futures import ThreadPoolExecutor

    url, tmp, h = office
    settings = settings_for(url, tmp, sync_seconds=0.05, snapshot_poll_seconds=0)
    with started(settings) as (client, state):
        with Store(url) as store:
            store.upsert([talent("t-pv9")])
        newer = publish(settings)

        def write(i: int) -> int:
            return client.post("/talents", json={**NEW_PV, "id": f"t-race{i}"}, headers=h["recruiter"]).status_code

        with ThreadPoolExecutor(8) as pool:
            codes = pool.map(write, range(24))
            assert state.sync.pickup() == newer
            assert set(codes) == {201}
        assert {f"t-race{i}" for i in range(24)} <= set(state.indices.talents)
