"""Incremental linking (``service.people.link_new``), SQLite and PostgreSQL: a full link of part of a known world, then
the rest imported and linked with the saved model — copies join their person, a stranger stays alone, pairs the
office kept apart stay apart, a middling pair is queued, no pair of two old records is scored again, and a failure
writes nothing."""

import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).parent / "api"))  # the people world of the API tests

from people_helpers import _pinyin, extra, people_talents

import features.people
from features.records import Talent, Work
from service import db, people
from service.store import Store

LATER = {"D010", "D015", "W003"}
"""Records of ``people_talents`` held back from the full link: D010 and D015 copy T010 and T015 (e-mail, work and the
name in pinyin: one person each); W003 is T003 in pinyin alone (≈ 0.25: review)."""


def _members(store: Store) -> dict[str, tuple[str, str]]:
    m = db.PersonMemberRow.__table__
    with store.engine.connect() as conn:
        return {t: (p, how) for t, p, how in conn.execute(sa.select(m.c.talent_id, m.c.person_id, m.c.how))}


def _queue(store: Store) -> set[tuple[str, str]]:
    p = db.PersonPairRow.__table__
    with store.engine.connect() as conn:
        return {(a, b) for a, b in conn.execute(sa.select(p.c.left_id, p.c.right_id))}


def _copy_of(i: int, id_: str) -> Talent:
    """Talent ``T{i}`` once more, in pinyin with its e-mail and work: certainly the same person."""
    return Talent(id=id_, name=_pinyin(i), email=f"p{i}@example.com", works=[Work(title=f"study number {i}")])


@pytest.fixture
def store(db_url):
    """The people world but ``LATER`` in a real SQLite file (and a fresh PostgreSQL schema), linked in full."""
    with Store(db_url) as s:
        s.upgrade()
        assert s.upsert([t for t in people_talents() if t.id not in LATER]).ok
        people.apply(s, list(s.iter_records("talent")))
        yield s


@pytest.fixture
def scored(monkeypatch):
    """Every ``features.people.score_new`` result of the test, as ``link_new`` gets it."""
    results = []
    real = features.people.score_new

    def spy(*args, **kwargs):
        results.append(real(*args, **kwargs))
        return results[-1]

    monkeypatch.setattr(features.people, "score_new", spy)
    return results


def test_the_full_link_saves_its_model_in_the_store(store):
    saved = people.saved_model(store)
    assert saved is not None and saved.model.records == 240 and (saved.threshold, saved.review_threshold) == (0.5, 0.1)
    assert {"name", "email", "works"} <= set(saved.model.names)
    assert "comparisons" in saved.model.splink and saved.model.splink["link_type"] == "dedupe_only"


def test_an_import_links_against_the_existing_people(store, scored):
    people.decide(store, "T002", "W002", "reject")  # the office keeps T002 and W002 apart
    people.undo(store, "D000")  # and D000 from T000
    before = _members(store)
    queue_before = _queue(store)
    assert ("T001", "W001") in queue_before  # from the full link
    new = [
        *[t for t in people_talents() if t.id in LATER],
        *extra(),  # V003: T003 in pinyin with its work (joins T003); N999: a stranger
        _copy_of(2, "X002"),  # certainly T002, and like W002 by name: joins T002, the pair with W002 goes to review
        _copy_of(0, "X000"),  # certainly T000 and D000, which the office split: joins one, never both
    ]
    assert store.upsert(new).ok
    report = people.link_new(store)
    after = _members(store)

    assert report.linked and report.new_records == 7 and report.existing_records == 240
    assert {t: after[t] for t in before} == before  # existing persons change by the office's hand only
    assert after["D010"] == ("T010", "linked") and after["D015"] == ("T015", "linked")  # copies join their person
    assert after["V003"] == ("T003", "linked") and after["X002"] == ("T002", "linked")
    assert after["N999"] == ("N999", "linked")  # a stranger stays alone
    assert after["W003"] == ("W003", "linked")  # middling: its own person, queued
    assert after["W002"][0] == "W002" and after["X000"][0] in ("D000", "T000")  # kept apart: never one person
    assert after["D000"][0] == "D000" and after["T000"][0] == "T000"
    assert report.joined == 5 and report.new_persons == 0

    queue = _queue(store)
    assert queue_before <= queue  # appended, not cleared
    added = queue - queue_before
    assert ("T003", "W003") in added and ("V003", "W003") in added  # new with old, and new with new
    assert ("W002", "X002") in added  # the copy of T002 is like W002 only by name: review, as T002 and W002 were
    assert tuple(sorted(("X000", "D000" if after["X000"][0] == "T000" else "T000"))) in added  # held back
    assert len(added) == report.review_pairs
    assert ("T002", "W002") not in {(i.left.talent_id, i.right.talent_id) for i in people.review(store)}

    # only pairs with a new record were scored; D000–T000 (0.99 in the full link) was not scored again
    (result,) = scored
    fresh = {t.id for t in new}
    assert result.scores and all(fresh & {a, b} for a, b, _ in result.scores)
    assert report.compared == result.compared and 0 < result.compared < 100
    assert ("D000", "T000") not in {(a, b) for a, b, _ in result.scores}

    again = people.link_new(store)  # nothing left to place
    assert again.linked and again.new_records == 0 and again.compared == 0 and _members(store) == after


def test_new_records_that_match_each_other_form_a_new_person(store):
    twins = [Talent(id=f"Z{k}", name="Qiuyue Ouyang", email="qy.ouyang@example.com",
                    works=[Work(title="a study nobody else wrote")]) for k in (1, 2)]  # fmt: skip
    assert store.upsert(twins).ok
    report = people.link_new(store, ["Z1", "Z2"])
    assert (report.new_records, report.joined, report.new_persons) == (2, 0, 1)
    assert _members(store)["Z2"] == ("Z1", "linked")


def test_without_a_saved_model_nothing_is_linked(db_url):
    with Store(db_url) as s:
        s.upgrade()
        assert s.upsert(people_talents()).ok
        report = people.link_new(s)
        assert not report.linked and "people link --apply" in report.reason and _members(s) == {}


def test_a_failure_mid_way_writes_nothing(store, monkeypatch):
    before, queue = _members(store), _queue(store)
    assert store.upsert([t for t in people_talents() if t.id in LATER]).ok

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(people, "_queue_rows", broken)  # after the memberships were inserted, before the queue
    with pytest.raises(RuntimeError, match="disk full"):
        people.link_new(store)
    assert _members(store) == before and _queue(store) == queue
    monkeypatch.undo()
    assert people.link_new(store).new_records == 3  # and the next run places them


def _frames(store: Store) -> dict[str, str]:
    f = db.PersonFrameRow.__table__
    with store.engine.connect() as conn:
        return dict(conn.execute(sa.select(f.c.talent_id, f.c.digest)).all())


def test_saved_frames_are_used_and_a_changed_record_is_normalised_again(store, monkeypatch):
    """The full link saved every record's normalised row; a record changed since is normalised again (its saved row
    would miss the work it now shares with the newcomer), and frames saved by other code are all built again."""
    frames = _frames(store)
    assert len(frames) == 240
    changed = store.get("talent", "T051").model_copy(update={"works": [Work(title="a new study of T051")]})
    newcomer = Talent(id="Q051", name=_pinyin(51), works=[Work(title="a new study of T051")])
    assert store.upsert([changed, newcomer]).ok
    report = people.link_new(store)
    assert report.new_records == 1 and _members(store)["Q051"] == ("T051", "linked")
    assert _frames(store)["T051"] != frames["T051"] and "Q051" in _frames(store)

    monkeypatch.setattr(features.people, "FRAME_VERSION", features.people.FRAME_VERSION + 1)
    assert store.upsert([_copy_of(61, "Q061")]).ok
    again = people.link_new(store)
    assert again.new_records == 1 and again.existing_records == 241 and _members(store)["Q061"][0] == "T061"
    assert people.saved_model(store).frame_version == features.people.frame_version() and len(_frames(store)) == 242


def test_records_erased_while_scoring_are_left_out(store, monkeypatch):
    """An erasure between the scoring and the write: the erased existing record is nobody's match, the erased new
    record is placed nowhere, the rest is linked."""
    assert store.upsert([t for t in people_talents() if t.id in LATER] + extra()).ok
    real = features.people.score_new

    def erasing(*args, **kwargs):
        result = real(*args, **kwargs)
        assert store.delete("talent", "T010") and store.delete("talent", "N999")
        return result

    monkeypatch.setattr(features.people, "score_new", erasing)
    report = people.link_new(store)
    after = _members(store)
    assert report.new_records == 4 and "N999" not in after and "T010" not in after
    assert after["D010"] == ("D010", "linked") and after["D015"] == ("T015", "linked")
