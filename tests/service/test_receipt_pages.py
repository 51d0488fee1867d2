"""A receipt names the page it showed (migration 0017), on a real SQLite file and a real PostgreSQL: the lists a
version-0016 head still held become candidate rows on the upgrade, receipts of both shapes read alike, and a
downgrade turns the page-named receipts back into candidate rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic import command

from service import db, receipts
from service.store import Store

T0 = datetime(2026, 12, 1, 9, tzinfo=UTC)


@pytest.fixture
def store(db_url):
    with Store(db_url) as s:
        yield s


def migrate(store: Store, how, revision: str) -> None:
    cfg = db.alembic_config()
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        how(cfg, revision)


def head(ranking_id: str, minutes: int) -> dict:
    return {"id": ranking_id, "route": "candidates", "need_id": "n1", "created_at": T0 + timedelta(minutes=minutes),
            "key_id": None, "model_version": "1", "personalized": True, "schema_version": "1", "params": {},
            "summary": {}, "challenger_version": None}  # fmt: skip


def candidates(store: Store) -> list[tuple]:
    c = db.RankingCandidateRow.__table__
    with store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(
            sa.select(c.c.ranking_id, c.c.position, c.c.talent_id, c.c.score, c.c.page_id, c.c.team)
            .order_by(c.c.ranking_id, c.c.position))]  # fmt: skip


def test_the_upgrade_writes_out_the_lists_pending_in_version_0016_heads(store):
    migrate(store, command.upgrade, "0016")
    shown = [[0, "t1", 0.9, "p1", None], [1, "t2", 0.5, "p1", "challenger"]]
    with store.engine.begin() as conn:
        r = sa.Table("rankings", sa.MetaData(), autoload_with=conn)  # as version 0016 left it
        conn.execute(sa.insert(r), [head("r1", 0) | {"shown": shown}, head("r2", 1) | {"shown": sa.null()}])
    store.upgrade()
    assert candidates(store) == [("r1", 0, "t1", 0.9, "p1", None), ("r1", 1, "t2", 0.5, "p1", "challenger")]
    with store.engine.connect() as conn:
        columns = {c["name"] for c in sa.inspect(conn).get_columns("rankings")}
    assert "shown" not in columns and "page_id" in columns
    assert [c["talent_id"] for c in receipts.get(store, "r1").candidates] == ["t1", "t2"]


def test_receipts_of_both_shapes_read_alike_and_a_downgrade_makes_rows_of_the_named_ones(store):
    store.upgrade()
    r, c, d = db.RankingRow.__table__, db.RankingCandidateRow.__table__, db.RankingDetailRow.__table__
    detail = {"reasons": [], "human_review": False, "features": {"x": 1.0}, "contributions": {"x": 0.5}}
    with store.engine.begin() as conn:
        conn.execute(sa.insert(r), [head("old", 0) | {"page_id": None}, head("new", 2) | {"page_id": "p2"},
                                    head("later", 5) | {"page_id": "p2"}])  # fmt: skip
        conn.execute(sa.insert(c), [{"ranking_id": "old", "position": i, "talent_id": t, "score": s,
                                     "page_id": "p1", "erased_at": None, "team": None}
                                    for i, (t, s) in enumerate([("t1", 0.9), ("t2", 0.5)])])  # fmt: skip
        conn.execute(sa.insert(d), [{"page_id": p, "position": i, "talent_id": t, "score": s, "detail": detail,
                                     "erased_at": None, "team": None}
                                    for p, i, t, s in [("p1", 0, "t1", None), ("p1", 1, "t2", None),
                                                       ("p2", 0, "t2", 0.8), ("p2", 1, "t3", 0.4)]])  # fmt: skip
        # t3 erased between "new" and "later": "new" showed them (now erased), "later" never did
        conn.execute(sa.update(d).where(d.c.talent_id == "t3")
                     .values(talent_id=None, score=None, detail=None, erased_at=T0 + timedelta(minutes=3)))  # fmt: skip
    old, new, later = (receipts.get(store, i) for i in ("old", "new", "later"))
    assert [(x["talent_id"], x["score"], x["features"]) for x in old.candidates] == [
        ("t1", 0.9, {"x": 1.0}), ("t2", 0.5, {"x": 1.0})]  # fmt: skip
    assert [(x["talent_id"], x["score"], x["erased"]) for x in new.candidates] == [("t2", 0.8, False),
                                                                                 (None, None, True)]  # fmt: skip
    assert [x["talent_id"] for x in later.candidates] == ["t2"]
    assert receipts.candidate(store, "new", "t2") == 0 and receipts.candidate(store, "old", "t2") == 1
    assert receipts.candidate(store, "later", "t1") is None
    assert [a["ranking_id"] for a in receipts.appearances(store, "t2")] == ["later", "old"]  # one per page, newest
    migrate(store, command.downgrade, "0016")
    assert candidates(store) == [("later", 0, "t2", 0.8, "p2", None), ("new", 0, "t2", 0.8, "p2", None),
                                 ("new", 1, None, None, "p2", None), ("old", 0, "t1", 0.9, "p1", None),
                                 ("old", 1, "t2", 0.5, "p1", None)]  # fmt: skip
    store.upgrade()
    assert len(candidates(store)) == 5
