"""The import's write path on a real SQLite file and a real PostgreSQL (COPY into a temporary table, then one merge):
awkward text survives byte for byte, and an update keeps the earlier versions, the alert flags and ``written_at``
right."""

import gc
import time

import pytest
import sqlalchemy as sa

from features.records import Need, Talent, dump
from service import db
from service import store as store_module
from service.store import CHUNK, Store

AWKWARD = [
    "李伟，钙钛矿叠层电池「稳定性」研究",
    "quotes \"double\" and 'single'",
    "back\\slash, \\N, \\. and C:\\path\\to\\file",
    "tab\there",
    "line one\nline two\r\nline three",
    "\\.",  # COPY's end-of-data marker, alone on a line of the text format
    "emoji 🧪 and 한국어 and Ünïcödé",
]


@pytest.fixture
def store(db_url, monkeypatch):
    """A store whose every PostgreSQL write takes the COPY path (``tests/service/test_store.py`` covers the other)."""
    monkeypatch.setattr(store_module, "COPY_MIN_ROWS", 1)
    with Store(db_url) as s:
        yield s


def rows(store: Store, kind: str) -> dict[str, dict]:
    t = db.table(kind)
    with store.engine.connect() as conn:
        return {r.id: r._asdict() for r in conn.execute(sa.select(t))}


def test_text_that_needs_escaping_is_stored_and_read_back_exactly(store):
    talents = [
        Talent(id=f"t{i}", name=text, summary=text, skills=[text, "plain"], employer=text)
        for i, text in enumerate(AWKWARD)
    ]
    needs = [Need(id="n1", title=AWKWARD[2], description=AWKWARD[4], required_skills=AWKWARD)]
    report = store.upsert([*talents, *needs])
    assert report.inserted == {"need": 1, "talent": len(AWKWARD)}
    for t in talents:
        assert store.get("talent", t.id) == t
    assert store.get("need", "n1") == needs[0]
    stored = rows(store, "talent")
    for t in talents:
        assert stored[t.id]["data"] == dump(t)  # the JSON column holds the canonical dump, not an escaped copy
    again = store.upsert([*talents, *needs])
    assert again.unchanged == {"need": 1, "talent": len(AWKWARD)}  # the digests match what was written


def test_an_update_keeps_versions_alert_flags_and_written_at(store):
    t1, t2, t3 = Talent(id="t1", name="One"), Talent(id="t2", name="Two"), Talent(id="t3", name="Three")
    n1, n2 = Need(id="n1", title="Posted and matched"), Need(id="n2", title="Posted, not yet matched")
    store.upsert([t1, t2, t3, n1, n2])
    assert store.matched([t1, t2, t3, n1]) == 4  # n2's posting is still owed to the alerts
    before = rows(store, "talent") | rows(store, "need")
    time.sleep(1.1 if store.engine.dialect.name == "sqlite" else 0.05)  # SQLite's CURRENT_TIMESTAMP is in seconds

    t1b, t3b = Talent(id="t1", name="One", summary="now with a summary"), Talent(id="t3", name="Three, renamed")
    n1b, n2b = Need(id="n1", title="Posted and matched, edited"), Need(id="n2", title="Edited before it was sent")
    report = store.upsert([t1b, t2, t3b, Talent(id="t4", name="Four"), n1b, n2b])
    assert (report.inserted, report.updated, report.unchanged) == (
        {"need": 0, "talent": 1},
        {"need": 2, "talent": 2},
        {"need": 0, "talent": 1},
    )
    after = rows(store, "talent") | rows(store, "need")
    # the replaced versions, and only those, are kept
    assert store.talent_versions("t1") == [t1] and store.talent_versions("t3") == [t3]
    assert store.talent_versions("t2") == [] and store.talent_versions("t4") == []
    # a changed or new talent is matched again; an unchanged one is not
    assert {i: after[i]["match_pending"] for i in ("t1", "t2", "t3", "t4")} == {
        "t1": True,
        "t2": False,
        "t3": True,
        "t4": True,
    }
    # an edited need alerts only if its posting was still owed
    assert (after["n1"]["match_pending"], after["n2"]["match_pending"]) == (False, True)
    # written_at moves for written rows only
    assert after["t2"]["written_at"] == before["t2"]["written_at"]
    assert after["t1"]["written_at"] > before["t1"]["written_at"] < after["t4"]["written_at"]
    assert after["n1"]["written_at"] > before["n1"]["written_at"]
    assert after["t1"]["digest"] != before["t1"]["digest"] and after["t1"]["data"] == dump(t1b)


def test_a_large_import_reports_progress_to_the_end_and_writes_every_row(store):
    n = 2 * CHUNK + 7
    ticks = []
    talents = [Talent(id=f"t{i:05d}", name=f"名字 {i}", tier="ABCDE"[i % 5]) for i in range(n)]
    report = store.import_world({"talent": talents}, progress=lambda kind, done, total: ticks.append((done, total)))
    assert report.inserted == {"talent": n} and store.count("talent") == n
    assert ticks[-1] == (n, n) and [d for d, _ in ticks] == sorted(d for d, _ in ticks)
    with store.engine.connect() as conn:
        t = db.table("talent")
        tiers = dict(conn.execute(sa.select(t.c.tier, sa.func.count()).group_by(t.c.tier)).all())
    assert tiers == {tier: n // 5 + (i < n % 5) for i, tier in enumerate("ABCDE")}


def test_the_garbage_collector_is_paused_during_an_import_and_restored_after(tmp_path, world_dir):
    """Its passes would re-scan every record read so far; afterwards it is back as it was, even after a failure."""
    seen = []
    with Store(f"sqlite:///{tmp_path / 'gc.db'}") as store:
        assert gc.isenabled()
        report = store.import_path(world_dir, write_progress=lambda *_: seen.append(gc.isenabled()))
        assert report.ok and seen and not any(seen) and gc.isenabled()
        (tmp_path / "bad.jsonl").write_text('{"id": "t9", "tier": "Z"}\n')
        assert not store.import_path(tmp_path / "bad.jsonl", "talent").ok and gc.isenabled()
        gc.disable()
        try:
            assert store.import_path(world_dir).ok and not gc.isenabled()  # left off, as the caller had it
        finally:
            gc.enable()


def test_the_change_journal_lists_every_written_record_once_in_order(store):
    talents = [Talent(id=f"t{i}", name=f"Talent {i}") for i in range(3)]
    store.upsert(talents)
    store.upsert([talents[0], Talent(id="t1", name="Renamed"), Talent(id="t3", name="New")])
    changes = store.changes_since(0)
    assert [(c.kind, c.record_id, c.op) for c in changes] == [
        ("talent", "t0", "put"),
        ("talent", "t1", "put"),
        ("talent", "t2", "put"),
        ("talent", "t1", "put"),  # the unchanged t0 is not journalled again
        ("talent", "t3", "put"),
    ]
    assert [c.seq for c in changes] == sorted({c.seq for c in changes})
    if store.engine.dialect.name == "postgresql":  # one clock per transaction: the journal's and the rows' agree
        c, t = db.ChangeRow.__table__, db.table("talent")
        with store.engine.connect() as conn:
            at = conn.scalar(sa.select(c.c.at).where(c.c.record_id == "t3"))
            assert at == conn.scalar(sa.select(t.c.written_at).where(t.c.id == "t3"))
