"""The audit log on a real SQLite file and a real PostgreSQL: a served page leaves one row naming its receipt, and a
talent's access log still lists every page that showed them, by key, newest first, paged without losing or
repeating an entry, and after an erasure took their id out of the receipts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from service import audit, db, receipts
from service.keys import Principal, authenticate, create_key
from service.store import Store


@pytest.fixture
def store(db_url):
    with Store(db_url) as s:
        s.upgrade()
        yield s


def principal(store: Store, role: str) -> Principal:
    found = authenticate(store, create_key(store, role))
    assert found is not None
    return found


def serve(store: Store, who: Principal, ranking_id: str, talents: list[str], shape: str) -> None:
    """A page as the ranking route writes it (``page``: the receipt's head naming its page, and the page's rows;
    ``rows``: a receipt from before version 0017, with a candidate row each), and the page's one audit row."""
    page = f"p-{ranking_id}"
    head = {"id": ranking_id, "route": "candidates", "need_id": "n1", "created_at": datetime.now(UTC),
            "key_id": who.key_id, "model_version": None, "personalized": False, "schema_version": "1", "params": {},
            "summary": {}, "challenger_version": None, "page_id": page if shape == "page" else None}  # fmt: skip
    if shape == "page":
        table, shown = db.RankingDetailRow.__table__, [
            {"page_id": page, "position": i, "talent_id": t, "score": 1.0 - i / 10, "detail": {}, "erased_at": None,
             "team": None} for i, t in enumerate(talents)]  # fmt: skip
    else:
        table, shown = db.RankingCandidateRow.__table__, [
            {"ranking_id": ranking_id, "position": i, "talent_id": t, "score": 1.0 - i / 10, "page_id": page,
             "erased_at": None, "team": None} for i, t in enumerate(talents)]  # fmt: skip
    store.group_commit.write([
        (sa.insert(db.RankingRow.__table__), [head]),
        (sa.insert(table), shown),
        audit.page_rows(who, ranking_id, {"need_id": "n1", "revealed": True}),
    ])  # fmt: skip


def log(store: Store, **filters) -> list[tuple[str, str, str | None, int | None, str | None]]:
    found, total = audit.entries(store, limit=1000, **filters)
    assert total == len(found)
    return [(e.action, e.object_kind, e.object_id, e.key_id, (e.detail or {}).get("ranking_id")) for e in found]


@pytest.fixture(params=["page", "rows"])
def served(store, request):
    """The recruiter's page r1 shows t1, t2, t3; the admin then reads t2's profile; the admin's page r2 shows t2 and
    t4; the recruiter's page r1 is served again (a cached page: its receipt again, another audit row)."""
    recruiter, admin = principal(store, "recruiter"), principal(store, "admin")
    serve(store, recruiter, "r1", ["t1", "t2", "t3"], request.param)
    audit.record(store, admin, "read", "talent", ["t2"])
    serve(store, admin, "r2", ["t2", "t4"], request.param)
    store.group_commit.write([audit.page_rows(recruiter, "r1", {"need_id": "n1", "revealed": True})])
    return recruiter, admin


def test_a_page_is_one_row_naming_its_receipt(store, served):
    recruiter, admin = served
    with store.engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(db.AuditRow.__table__)) == 4
    assert log(store, object_kind="ranking") == [
        ("rank", "ranking", "r1", recruiter.key_id, "r1"),
        ("rank", "ranking", "r2", admin.key_id, "r2"),
        ("rank", "ranking", "r1", recruiter.key_id, "r1"),
    ]


def test_a_talents_log_lists_every_page_that_showed_them_newest_first(store, served):
    recruiter, admin = served
    r, a = recruiter.key_id, admin.key_id
    t2 = [("rank", "talent", "t2", r, "r1"), ("rank", "talent", "t2", a, "r2"), ("read", "talent", "t2", a, None),
          ("rank", "talent", "t2", r, "r1")]  # fmt: skip
    assert log(store, object_id="t2") == log(store, object_kind="talent", object_id="t2") == t2
    assert log(store, object_id="t2", key_id=r) == [t2[0], t2[3]]
    assert log(store, object_id="t4") == [("rank", "talent", "t4", a, "r2")]
    assert log(store, object_kind="need") == [] and log(store, object_id="nobody") == []
    # every talent's: each page once per talent it showed, a page's entries in talent order
    assert [e[2] for e in log(store, object_kind="talent")] == ["t1", "t2", "t3", "t2", "t4", "t2", "t1", "t2", "t3"]


def test_paging_the_whole_log_loses_and_repeats_nothing(store, served):
    whole, total = audit.entries(store, limit=1000)
    assert total == len(whole) == 4 + 8  # four stored rows, and the eight talents the three pages showed
    paged = [e for offset in range(0, total, 5) for e in audit.entries(store, limit=5, offset=offset)[0]]
    assert paged == whole
    assert len({(e.id, e.object_kind, e.object_id) for e in whole}) == total
    assert all(e.detail and e.detail["ranking_id"] in ("r1", "r2") for e in whole if e.action == "rank")


def test_an_erasure_writes_the_talents_rows_out_before_the_receipts_forget_them(store, served):
    before = log(store, object_id="t2")
    times = [e.at for e in audit.entries(store, object_id="t2")[0]]
    assert receipts.redact_talent(store, "t2") == 2  # the rows of r1 and r2
    with store.engine.connect() as conn:
        for c in (db.RankingCandidateRow.__table__, db.RankingDetailRow.__table__):
            assert conn.scalar(sa.select(sa.func.count()).select_from(c).where(c.c.talent_id == "t2")) == 0
    assert log(store, object_id="t2") == before  # now stored rows, in the same order and at the same times
    assert [e.at for e in audit.entries(store, object_id="t2")[0]] == times
    assert [e.object_kind for e in audit.entries(store, object_kind="talent", object_id="t2")[0]] == ["talent"] * 4
    receipts.redact_talent(store, "t2")  # erased again (another process's replica step): nothing written twice
    assert log(store, object_id="t2") == before
    assert log(store, object_id="t1")[0][2:] == ("t1", served[0].key_id, "r1")  # the others' logs are untouched
