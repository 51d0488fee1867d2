"""Candidate rows written behind the answer (``service.shown_rows``), on a real SQLite file and a real PostgreSQL: a
page's shown list commits in its receipt's head and becomes one row per candidate later, exactly once, whoever
writes it out (the store's thread, a reader, two at once, an erasure, a downgrade), and nothing reads the rows
without it: a head left pending by a process that died is written out by the next reader."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from alembic import command

from service import audit, db, receipts, shown_rows
from service.keys import Principal, authenticate, create_key
from service.store import Store


@pytest.fixture
def store(db_url):
    with Store(db_url) as s:
        s.upgrade()
        yield s


def principal(store: Store) -> Principal:
    found = authenticate(store, create_key(store, "recruiter"))
    assert found is not None
    return found


def head(ranking_id: str, talents: list[str], key_id: int | None = None, team: str | None = None) -> dict:
    shown = [SimpleNamespace(position=i, talent_id=t, score=1.0 - i / 3, page_id=f"p-{ranking_id}", team=team)
             for i, t in enumerate(talents)]  # fmt: skip
    return {"id": ranking_id, "route": "candidates", "need_id": "n1", "created_at": datetime.now(UTC),
            "key_id": key_id, "model_version": None, "personalized": False, "schema_version": "1", "params": {},
            "summary": {}, "challenger_version": None,
            "shown": shown_rows.pack(shown) if talents else None}  # fmt: skip


def serve(store: Store, who: Principal | None, heads: list[dict]) -> None:
    """Pages as the ranking route commits them (heads holding their lists, an audit row each), the thread not woken:
    as a process that died before writing them out left them."""
    parts = [(sa.insert(db.RankingRow.__table__), heads)]
    if who is not None:
        parts += [audit.page_rows(who, h["id"], {"need_id": "n1", "revealed": True}) for h in heads]
    store.group_commit.write(parts)


def rows(store: Store) -> list[tuple]:
    c = db.RankingCandidateRow.__table__
    with store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(
            sa.select(c.c.ranking_id, c.c.position, c.c.talent_id, c.c.score, c.c.page_id, c.c.team)
            .order_by(c.c.ranking_id, c.c.position))]  # fmt: skip


def pending(store: Store) -> list[str]:
    r = db.RankingRow.__table__
    with store.engine.connect() as conn:
        return list(conn.execute(sa.select(r.c.id).where(r.c.shown.is_not(None)).order_by(r.c.id)).scalars())


def test_a_heads_list_becomes_its_rows_exactly_once(store):
    serve(store, None, [head("r1", ["t1", "t2", "t3"], team="champion"), head("r2", ["t2"]), head("r3", [])])
    assert pending(store) == ["r1", "r2"] and rows(store) == []  # no list: SQL NULL, not pending
    shown_rows.settle(store)
    assert pending(store) == [] and rows(store) == [
        ("r1", 0, "t1", 1.0, "p-r1", "champion"),
        ("r1", 1, "t2", 1 - 1 / 3, "p-r1", "champion"),
        ("r1", 2, "t3", 1 - 2 / 3, "p-r1", "champion"),
        ("r2", 0, "t2", 1.0, "p-r2", None),
    ]  # scores exactly as ranked: a double through JSON and back)
    with store.engine.begin() as conn:
        assert shown_rows.write_out(conn) == 0
    assert len(rows(store)) == 4


def test_every_head_is_written_out_however_many_pend(store, monkeypatch):
    monkeypatch.setattr(shown_rows, "CHUNK", 3)
    serve(store, None, [head(f"r{i:02}", [f"t{i}", "t0"]) for i in range(8)])
    with store.engine.begin() as conn:
        assert shown_rows.write_out(conn) == 8
    assert pending(store) == [] and len(rows(store)) == 16


def test_readers_write_out_what_a_dead_process_left_pending(store):
    who = principal(store)
    serve(store, who, [head("r1", ["t1", "t2"], key_id=who.key_id)])
    receipt = receipts.get(store, "r1")
    assert receipt is not None and [c["talent_id"] for c in receipt.candidates] == ["t1", "t2"]
    serve(store, who, [head("r2", ["t2", "t3"], key_id=who.key_id)])
    assert receipts.candidate(store, "r2", "t3") == 1
    serve(store, who, [head("r3", ["t3"], key_id=who.key_id)])
    entries, total = audit.entries(store, object_kind="talent", object_id="t3")
    assert total == 2 and [e.detail["ranking_id"] for e in entries] == ["r3", "r2"]
    serve(store, who, [head("r4", ["t4"], key_id=who.key_id)])
    assert [a["ranking_id"] for a in receipts.appearances(store, "t4")] == ["r4"]
    assert pending(store) == []


def test_an_erasure_redacts_the_lists_still_pending(store):
    who = principal(store)
    serve(store, who, [head("r1", ["t1", "t2"], key_id=who.key_id), head("r2", ["t2"], key_id=who.key_id)])
    assert receipts.redact_talent(store, "t2") == 2
    assert pending(store) == []
    assert [(r[0], r[2]) for r in rows(store)] == [("r1", "t1"), ("r1", None), ("r2", None)]
    entries, total = audit.entries(store, object_kind="talent", object_id="t2")  # kept before the redaction
    assert total == 2 and {e.detail["ranking_id"] for e in entries} == {"r1", "r2"}
    assert [c["erased"] for c in receipts.get(store, "r1").candidates] == [False, True]


def test_two_writers_at_once_write_each_row_once(store):
    serve(store, None, [head(f"r{i:03}", ["t1", "t2", "t3"]) for i in range(200)])
    start, got, errors = threading.Barrier(2), [], []

    def one() -> None:
        start.wait()
        try:
            with store.engine.begin() as conn:
                got.append(shown_rows.write_out(conn))
        except Exception as e:
            errors.append(e)

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and sum(got) == 200 and len(rows(store)) == 600 and pending(store) == []


def test_the_stores_thread_writes_them_out_after_a_page_and_stops_on_close(db_url):
    with Store(db_url) as store:
        store.upgrade()
        serve(store, None, [head("r1", ["t1"])])
        store.behind.wrote()
        deadline = time.monotonic() + 10
        while pending(store) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert pending(store) == [] and [r[2] for r in rows(store)] == ["t1"] and store.behind.runs >= 1
        thread = store.behind._thread
    assert thread is not None and not thread.is_alive()  # closed with the store
    store.behind.wrote()  # after close: nothing starts
    assert store.behind._thread is thread


def test_a_downgrade_writes_the_pending_lists_out_first(store):
    serve(store, None, [head("r1", ["t1", "t2"])])
    cfg = db.alembic_config()
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0015")
    assert [r[2] for r in rows(store)] == ["t1", "t2"]
    with store.engine.connect() as conn:
        assert "shown" not in {c["name"] for c in sa.inspect(conn).get_columns("rankings")}
    store.upgrade()
    assert pending(store) == [] and len(rows(store)) == 2
