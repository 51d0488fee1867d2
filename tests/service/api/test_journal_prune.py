"""Pruning the change journal on a real SQLite file: what a reader can still need is kept (the rows after the oldest
index snapshot on disk, the retention window, the newest row), and a reader older than the horizon rebuilds from
the store — a start from such a snapshot builds, a running poller turns not ready — instead of missing changes."""

from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from api_helpers import auth, run_server, settings_for
from ranking_world import seed_ranking_world
from sync_helpers import NEW_PV, ranked
from typer.testing import CliRunner

from features import snapshot
from features.records import Talent
from service.api.app import create_app
from service.cli import app as cli
from service.store import JournalPruned, Store

LATER = datetime.now(UTC) + timedelta(days=1)
"""A retention cutoff after every row written by a test: the window keeps nothing."""


@pytest.fixture
def office(tmp_path):
    url = f"sqlite:///{tmp_path / 'api.db'}"
    keys = seed_ranking_world(url, tmp_path / "world")
    return settings_for(url, tmp_path), {k: auth(v) for k, v in keys.items()}


@contextmanager
def started(settings):
    app = create_app(settings)
    with run_server(app) as base, httpx.Client(base_url=base, timeout=30) as client:
        yield client, app.state


def talent(i: int) -> Talent:
    return Talent.model_validate({**NEW_PV, "id": f"t-pv{10 + i}"})


def test_pruning_keeps_the_window_the_newest_row_and_what_a_snapshot_needs(office):
    settings, _ = office
    with Store(settings.database_url) as store:
        for i in range(3):
            store.upsert([talent(i)])
        head = store.change_head()
        assert store.journal_horizon() == 0
        # a window that keeps everything written today: nothing goes
        assert store.prune_journal(keep_after=datetime.now(UTC) - timedelta(days=1)) == (0, 0)
        # the oldest snapshot was taken two changes before the head: the rows after it stay
        horizon, deleted = store.prune_journal(keep_after=LATER, keep_from_seq=head - 2)
        assert horizon == head - 2 and deleted == head - 3
        assert store.journal_horizon() == horizon and store.change_head() == head
        assert [c.record_id for c in store.changes_since(horizon)] == ["t-pv11", "t-pv12"]  # no marker row
        with pytest.raises(JournalPruned, match=f"pruned up to change {horizon}, past change {horizon - 1}"):
            store.changes_since(horizon - 1)
        # no snapshot: everything but the newest row (the head must not go back: SQLite would reuse its seq)
        assert store.prune_journal(keep_after=LATER) == (head - 1, 1)
        assert [c.seq for c in store.changes_since(head - 1)] == [head]
        store.upsert([talent(3)])
        assert store.change_head() == head + 1
        assert [c.record_id for c in store.changes_since(head - 1)] == ["t-pv12", "t-pv13"]


def test_the_command_keeps_what_the_oldest_snapshot_needs_and_a_restart_still_uses_it(office):
    settings, h = office
    with started(settings) as (client, _):
        first = ranked(client, "n-pv", h["recruiter"])
    [saved] = snapshot.snapshots(settings.snapshot_dir)
    with Store(settings.database_url) as store:
        store.upsert([Talent.model_validate(NEW_PV)])
        store.upsert([talent(1)])
    done = CliRunner().invoke(
        cli,
        ["db", "prune-journal", "--keep-days", "0", "--json"],
        env={"TALENTMATCH_DATABASE_URL": settings.database_url, "TALENTMATCH_SNAPSHOT_DIR": str(settings.snapshot_dir)},
    )
    assert done.exit_code == 0, done.output
    pruned = json.loads(done.stdout)
    assert pruned["horizon"] == json.loads(saved.joinpath("meta.json").read_text())["seq"] and pruned["deleted"] > 0
    with started(settings) as (client, _):
        assert client.get("/readyz").json()["snapshot"] == saved.name  # still usable: caught up from what was kept
        again = ranked(client, "n-pv", h["recruiter"])
        assert {"t-pv9", "t-pv11"} <= set(again) and [t for t in again if t not in ("t-pv9", "t-pv11")] == first


def test_a_start_from_a_snapshot_older_than_the_horizon_builds_from_the_store(office, caplog):
    settings, h = office
    with started(settings):
        pass
    [old] = snapshot.snapshots(settings.snapshot_dir)
    with Store(settings.database_url) as store:
        store.upsert([Talent.model_validate(NEW_PV)])
        store.upsert([talent(1)])  # the newest row, never pruned
        horizon, _ = store.prune_journal(keep_after=LATER)  # as if the snapshot were on another host's disk
    with started(settings) as (client, state):
        ready = client.get("/readyz").json()
        assert ready["status"] == "ready" and ready["snapshot"] is None  # built, not caught up
        assert "t-pv9" in ranked(client, "n-pv", h["recruiter"])  # the pruned change is in
        assert state.journal_seq == horizon + 1
    assert f"before the change journal's horizon {horizon}" in caplog.text
    assert old not in snapshot.snapshots(settings.snapshot_dir) and len(snapshot.snapshots(settings.snapshot_dir)) == 1


def test_a_poller_behind_the_horizon_turns_not_ready_instead_of_missing_changes(office, caplog):
    settings, _ = office
    with started(settings.model_copy(update={"sync_seconds": 60.0})) as (client, state):
        applied = state.sync.applied
        with Store(settings.database_url) as other:  # another process writes, then the journal is pruned
            other.upsert([Talent.model_validate(NEW_PV)])
            other.upsert([talent(1)])
            horizon, _ = other.prune_journal(keep_after=LATER)
        assert state.sync.poll() == applied  # nothing applied: the change it needs is gone
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert f"pruned up to change {horizon}, past change {applied}" in state.stale
        assert "restart the service" in state.stale and "sync: the change journal was pruned" in caplog.text
