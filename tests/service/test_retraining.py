"""``service.retraining`` on a real SQLite file (and PostgreSQL) and a real MLflow store in a temporary folder.

A demo world (300 talents, 40 needs) with its historical feedback, no receipts: ``retrain --dry-run`` plans from it.
What is new is what the change journal holds after the last run's seq, whatever time an event carries; a journal
pruned past that seq makes every event a candidate, and says so; ``train --url`` logs the seq ``retrain`` starts from.
The held-out needs avoid those the champion trained on. ``retrain`` takes ``train``'s label-treatment options.
Receipts read the same on PostgreSQL as on SQLite.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import lightgbm as lgb
import numpy as np
import orjson
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from features.records import FeedbackEvent
from features.schema import SCHEMA
from matcher.ranker import NO_ENCODER
from matcher.retrain import NothingNew
from service import db
from service.retraining import read_pages, retrain
from service.settings import Settings
from service.store import Store

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning:mlflow")]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from demo.world import generate_world

    path = tmp_path_factory.mktemp("world")
    generate_world(path, talents=300, needs=40, seed=3)
    return path


def log_trained(params: dict[str, str], heldout: list[str], *, champion: bool) -> str:
    """Log a run with these watermark params and held-out needs (a tiny real booster); make it champion if asked."""
    from matcher import registry

    rng = np.random.default_rng(0)
    X = rng.random((60, len(SCHEMA.names)), dtype=np.float32)
    data = lgb.Dataset(X, rng.integers(0, 3, 60), group=[10] * 6, feature_name=SCHEMA.names)
    booster = lgb.train({"objective": "lambdarank", "verbose": -1, "num_threads": 1}, data, num_boost_round=2)
    run_id = registry.log_run(booster=booster, params={"seed": 0, **params}, metrics={"lambdarank": {"ndcg@10": 0.5}},
                              heldout_needs=heldout, encoder=NO_ENCODER)  # fmt: skip
    if champion:
        assert registry.register_and_gate(run_id, champion_score_fn=lambda s: 0.0).alias == "champion"
    return run_id


def mark(store: Store, feedback: list[FeedbackEvent]) -> dict[str, str]:
    """The watermark params of a run that read ``store`` now."""
    from matcher import registry

    return registry.watermark_param(max(ev.time for ev in feedback), (store.identity(), store.change_head()))


def dry(store: Store) -> dict:
    return retrain(store, Settings(), dry_run=True, encoder="none")


def test_feedback_journalled_after_the_run_is_new_whatever_its_time_and_a_pruned_journal_counts_everything(
    db_url, registry_dir, world
):
    with Store(db_url) as store:
        store.upgrade()
        assert store.import_path(world).ok
        feedback = list(store.iter_records("feedback"))
        first = dry(store)
        assert (first["new_events"], first["watermark_seq"]) == (len(feedback), None)
        assert first["new_since"] == "all feedback: no earlier run read this store's feedback"
        assert first["new_watermark_seq"] == store.change_head() > 0
        seq = store.change_head()
        log_trained(mark(store, feedback), first["heldout_needs"], champion=False)
        with pytest.raises(NothingNew, match=f"journal seq {seq}"):
            dry(store)

        # A late import: committed after the run, stamped a year before any event it trained on.
        old = min(ev.time for ev in feedback) - timedelta(days=365)
        late = FeedbackEvent(need_id=feedback[0].need_id, talent_id=feedback[0].talent_id, action="contact", time=old)
        store.upsert([late])
        again = dry(store)
        assert (again["events"], again["new_events"]) == (len(feedback) + 1, 1)
        assert (again["new_since"], again["watermark_seq"]) == (f"journal seq {seq}", seq)
        assert again["watermark"] == max(ev.time for ev in feedback).isoformat()  # the event time, for display

        # The journal pruned past the run's seq (rows deleted as a pruning would): nobody can tell what is older.
        with store.engine.begin() as conn:
            conn.execute(sa.delete(db.ChangeRow.__table__).where(db.ChangeRow.__table__.c.seq <= seq))
        pruned = dry(store)
        assert pruned["new_events"] == pruned["events"] == len(feedback) + 1
        assert pruned["new_since"] == f"all feedback: the change journal was pruned past the last run's seq {seq}"


def test_the_held_out_needs_avoid_the_needs_the_champion_trained_on(tmp_path, registry_dir, world):
    lines = (world / "feedback.jsonl").read_bytes().splitlines()
    events = [FeedbackEvent.model_validate(orjson.loads(line)) for line in lines if line.strip()]
    needs = sorted({ev.need_id for ev in events})
    n_test = round(0.2 * len(needs))
    later = set(needs[:5])  # needs whose feedback is only imported after the champion's run (with old times)
    heldout = needs[5 : 5 + n_test - len(later)]  # the champion's own held-out needs
    with Store(f"sqlite:///{tmp_path / 'db.sqlite'}") as store:
        store.upgrade()
        assert store.import_world(_world_without_feedback(world)).ok
        store.upsert([ev for ev in events if ev.need_id not in later])
        champion_seq = store.change_head()
        log_trained(mark(store, events), heldout, champion=True)
        store.upsert([ev for ev in events if ev.need_id in later])
        planned = dry(store)
        assert set(planned["heldout_needs"]) == later | set(heldout)  # before: a seeded draw over all the needs
        assert planned["heldout"] == {"champion_trained": 0, "champion_basis": f"journal seq {champion_seq}"}
        assert planned["new_events"] == sum(ev.need_id in later for ev in events)
        with store.engine.begin() as conn:  # pruned past the champion's seq: its event time is all there is left
            conn.execute(sa.delete(db.ChangeRow.__table__).where(db.ChangeRow.__table__.c.seq <= champion_seq))
        basis = dry(store)["heldout"]["champion_basis"]
    assert basis.startswith("event time") and f"the journal was pruned past its seq {champion_seq}" in basis


def _world_without_feedback(world: Path) -> dict[str, list]:
    from features.io import load_world

    loaded = load_world(world)
    return {kind: list(loaded[kind]) for kind in loaded if kind != "feedback"}


def test_retrain_takes_the_label_treatment_options_of_train(tmp_path, registry_dir, world):
    from service.cli import app

    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    with Store(url) as store:
        store.upgrade()
        assert store.import_path(world).ok
    runner = CliRunner()
    result = runner.invoke(app, ["retrain", "--url", url, "--dry-run", "--json", "--unexamined", "weight",
                                 "--context-weight", "0.5", "--debias", "ipw", "--view-grade", "0"])  # fmt: skip
    assert result.exit_code == 0, result.output
    treatment = orjson.loads(result.stdout)["treatment"]
    assert treatment == {"unexamined": "weight", "context_weight": 0.5, "debias": "ipw", "view_grade": 0}
    bad = runner.invoke(app, ["retrain", "--url", url, "--dry-run", "--unexamined", "sometimes"])
    assert bad.exit_code == 2 and "unexamined must be one of" in bad.output
    for command in ("train", "retrain"):
        options = {p.name for p in _params(app, command)}
        assert {"unexamined", "context_weight", "debias", "view_grade"} <= options


def test_train_on_the_database_logs_the_journal_watermark_retrain_starts_from(
    tmp_path, registry_dir, world, monkeypatch
):
    from service.cli import app

    monkeypatch.setenv("TALENTMATCH_VECTOR_CACHE_DIR", str(tmp_path / "vectors"))
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    with Store(url) as store:
        store.upgrade()
        assert store.import_path(world).ok
        head = store.change_head()
    runner = CliRunner()
    trained = runner.invoke(app, ["train", "--url", url, "--encoder", "none", "--json"])
    assert trained.exit_code == 0, trained.output
    again = runner.invoke(app, ["retrain", "--url", url, "--dry-run"])
    assert (
        again.exit_code == 1 and f"no feedback recorded since the last training run (journal seq {head}" in again.output
    )


def _params(app, command: str) -> list:
    import typer.main

    click_app = typer.main.get_command(app)
    return click_app.commands[command].params


@pytest.mark.postgres
def test_receipts_read_the_same_on_postgresql_as_on_sqlite(tmp_path, postgres_url, world):
    """Receipts written row for row into both databases (one with an erased candidate, one with no detail row, one
    ranking a talent search, one naming its page, which lost a talent erased before it) join to the same shown
    pages."""
    got = []
    for url in (f"sqlite:///{tmp_path / 'db.sqlite'}", postgres_url):
        with Store(url) as store:
            store.upgrade()
            assert store.import_path(world).ok
            need = sorted(store.ids("need"))[0]
            talents = sorted(store.ids("talent"))[:4]
            _write_receipts(store, need, talents)
            got.append(read_pages(store, ["r1", "r2", "r3", "search", "missing"]))
    sqlite_pages, pg_pages = got
    assert set(sqlite_pages) == {"r1", "r2", "r3"}  # the search ranked no need; "missing" does not exist
    assert sqlite_pages == pg_pages
    r3 = sqlite_pages["r3"]
    assert (r3.positions, r3.talent_ids, r3.features) == ([0, 2], [talents[1], None], [{"skill_coverage": 0.5}, None])
    r1 = sqlite_pages["r1"]
    assert list(r1.positions) == [0, 1, 2] and r1.talent_ids[1] is None and r1.features[1] is None
    assert r1.features[0] == {"skill_coverage": 0.75, "tier_rank": None} and r1.features[2] is None  # no detail row
    assert (r1.model_version, r1.schema_version, r1.created_at) == (
        "7",
        SCHEMA.version,
        datetime(2026, 5, 1, 8, tzinfo=UTC),
    )
    assert all(p.created_at.tzinfo is UTC for pages in got for p in pages.values())  # naive on SQLite before


def _write_receipts(store: Store, need: str, talents: list[str]) -> None:
    r, c, d = (t.__table__ for t in (db.RankingRow, db.RankingCandidateRow, db.RankingDetailRow))
    at = datetime(2026, 5, 1, 8, tzinfo=UTC)
    head = {"route": "need", "key_id": None, "personalized": True, "schema_version": SCHEMA.version, "params": {},
            "summary": {}, "created_at": at, "page_id": None}  # fmt: skip
    erased = at + timedelta(days=1)
    with store.engine.begin() as conn:
        conn.execute(sa.insert(r), [
            {**head, "id": "r1", "need_id": need, "model_version": "7"},
            {**head, "id": "r2", "need_id": need, "model_version": None, "created_at": at + timedelta(hours=1)},
            {**head, "id": "search", "need_id": None, "model_version": "7", "route": "search"},
            {**head, "id": "r3", "need_id": need, "model_version": "7", "page_id": "p4",
             "created_at": at + timedelta(days=2)},
        ])  # fmt: skip
        cand = ("ranking_id", "position", "talent_id", "score", "page_id", "erased_at")
        conn.execute(sa.insert(c), [dict(zip(cand, row, strict=True)) for row in [
            ("r1", 0, talents[0], 0.9, "p1", None),
            ("r1", 1, None, None, "p1", erased),
            ("r1", 2, talents[2], 0.5, "p1", None),
            ("r2", 0, talents[3], 0.8, "p2", None),
            ("search", 0, talents[0], 0.1, "p3", None),
        ]])  # fmt: skip
        conn.execute(sa.insert(d), [{"score": None} | row for row in [
            {"page_id": "p1", "position": 0, "talent_id": talents[0], "erased_at": None,
             "detail": {"features": {"skill_coverage": 0.75, "tier_rank": None}, "reasons": []}},
            {"page_id": "p1", "position": 1, "talent_id": None, "erased_at": erased, "detail": None},
            {"page_id": "p2", "position": 0, "talent_id": talents[3], "erased_at": None,
             "detail": {"features": {"skill_coverage": 0.25}}},
            # r3's page: position 1 erased before r3 was served (not shown), position 2 after it (shown, erased)
            {"page_id": "p4", "position": 0, "talent_id": talents[1], "erased_at": None, "score": 0.7,
             "detail": {"features": {"skill_coverage": 0.5}}},
            {"page_id": "p4", "position": 1, "talent_id": None, "erased_at": erased, "score": None, "detail": None},
            {"page_id": "p4", "position": 2, "talent_id": None, "erased_at": at + timedelta(days=3), "score": None,
             "detail": None},
        ]])  # fmt: skip
