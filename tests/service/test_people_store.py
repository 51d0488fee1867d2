"""People in the store (``service.people``), SQLite and PostgreSQL: apply, review, confirm, reject, undo, re-runs."""

import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).parent / "api"))  # the people world of the API tests

from people_helpers import REVIEW, extra, people_talents

from features.people import REVIEW_THRESHOLD, THRESHOLD
from service import db, people
from service.store import Store


def _members(store: Store) -> dict[str, tuple[str, str]]:
    m = db.PersonMemberRow.__table__
    with store.engine.connect() as conn:
        return {t: (p, how) for t, p, how in conn.execute(sa.select(m.c.talent_id, m.c.person_id, m.c.how))}


def _relink(store: Store) -> people.ApplyReport:
    return people.apply(store, list(store.iter_records("talent")))


@pytest.fixture
def store(db_url):
    """The people world in a real SQLite file, and in a fresh PostgreSQL schema."""
    with Store(db_url) as s:
        assert s.upsert(people_talents()).ok
        yield s


def test_apply_stores_persons_and_the_review_queue(store):
    report = _relink(store)
    assert (report.records, report.persons, report.multi_record_persons) == (243, 203, 40)
    assert report.new_records == 243 and report.review_pairs == 3
    members = _members(store)
    assert members["D000"] == members["T000"] == ("D000", "linked")  # a person is named by its smallest record id
    assert members["T001"][0] == "T001" and members["W001"][0] == "W001"
    queue = people.review(store)
    assert [(i.left.talent_id, i.right.talent_id) for i in queue] == REVIEW
    first = queue[0]
    assert REVIEW_THRESHOLD <= first.probability < THRESHOLD and first.agreed == ["name"]
    assert first.left.email == "p***@example.com" and first.right.email is None
    assert (first.left.works, first.right.works, first.left.name_zh) == (1, 0, "李立丽")  # T001's name, shown whole


def test_confirm_merges_reject_keeps_apart_and_both_survive_a_relink(store):
    _relink(store)
    done = people.decide(store, "W001", "T001", "confirm", key_id=None)
    assert done["persons"] == {"T001": "T001", "W001": "T001"}
    assert _members(store)["W001"] == ("T001", "confirmed")
    people.decide(store, "T002", "W002", "reject")
    assert [(i.left.talent_id, i.right.talent_id) for i in people.review(store)] == [REVIEW[2]]

    before = _members(store)
    report = _relink(store)
    assert report.new_records == 0 and report.review_pairs == 1  # decided pairs leave the queue for good
    assert _members(store) == before
    # a wrong rejection is undone by confirming: the pair's own decision is replaced, not held against it
    assert people.decide(store, "T002", "W002", "confirm")["persons"]["W002"] == "T002"


def test_reject_of_one_person_and_confirm_against_a_rejection_are_refused(store):
    _relink(store)
    with pytest.raises(people.PeopleError, match="are one person") as e:
        people.decide(store, "T000", "D000", "reject")
    assert e.value.status == 409
    people.decide(store, "T001", "W001", "reject")
    people.decide(store, "W001", "W002", "confirm")  # whatever the office says goes, within the rules
    with pytest.raises(people.PeopleError, match="kept apart"):
        people.decide(store, "T001", "W002", "confirm")  # would put T001 and W001 in one person
    with pytest.raises(people.PeopleError, match="does not exist") as e:
        people.decide(store, "T001", "nobody", "confirm")
    assert (e.value.status, e.value.field) == (404, "right")
    assert _members(store)["T001"] == ("T001", "linked")  # nothing changed by the refusals


def test_undo_splits_is_recorded_and_a_relink_keeps_it_split(store):
    _relink(store)
    assert people.undo(store, "D000") == {"person_id": "D000", "records": ["D000", "T000"], "split_pairs": 1}
    members = _members(store)
    assert members["D000"] == ("D000", "split") and members["T000"] == ("T000", "split")
    d = db.PersonDecisionRow.__table__
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(d.c.left_id, d.c.right_id, d.c.decision)).all() == [("D000", "T000", "split")]
    _relink(store)
    assert _members(store)["T000"][0] == "T000"
    with pytest.raises(people.PeopleError, match="one record"):
        people.undo(store, "T000")
    with pytest.raises(people.PeopleError, match="no person") as e:
        people.undo(store, "nobody")
    assert e.value.status == 404


def test_a_rerun_links_new_records_without_moving_the_existing_ones(store):
    _relink(store)
    people.undo(store, "D005")
    before = _members(store)
    assert store.upsert(extra()).ok
    report = _relink(store)
    after = _members(store)
    assert report.new_records == 2 and report.records == 245
    assert after["V003"] == ("T003", "linked") and after["N999"] == ("N999", "linked")
    assert {t: v for t, v in after.items() if t in before} == before  # the undone D005 stays undone too


def test_each_change_of_persons_is_journaled_for_the_other_processes(store):
    """The persons a write changed go to the change journal (kind ``person``), in its transaction: the other API
    processes forget the person links they remember (``service.sync``). A write that changes no person adds none."""

    def changed(since: int) -> list[str]:
        return [c.record_id for c in store.changes_since(since, limit=10_000) if c.kind == "person"]

    head = store.change_head()
    _relink(store)
    assert len(changed(head)) == 203  # every person placed
    head = store.change_head()
    _relink(store)
    people.decide(store, "T002", "W002", "reject")
    assert changed(head) == []  # nothing new to place; a rejection moves no record
    people.decide(store, "W001", "T001", "confirm")
    assert changed(head) == ["T001", "W001"]
    head = store.change_head()
    people.undo(store, "D000")
    assert changed(head) == ["D000", "T000"]


def test_golden_record_of_a_stored_person(store):
    _relink(store)
    card, members = people.person(store, "D000")
    assert card.records == ["D000", "T000"] and [m.how for m in members] == ["linked", "linked"]
    assert (card.fields["name"], card.provenance["name"]) == ("Lili Zhang", "D000")  # D000 is the newer record
    assert (card.fields["name_zh"], card.provenance["name_zh"]) == ("张立立", "T000")  # only T000 has it
    assert card.fields["skills"] == ["perovskite"] and card.provenance["works"] == ["D000"]


def test_a_rerun_that_scores_existing_persons_as_one_sends_them_to_review(store):
    """Persons stored at a stricter threshold are not merged by a re-run at a looser one: the pairs go to review."""
    strict = people.apply(store, list(store.iter_records("talent")), threshold=0.999999)
    assert strict.multi_record_persons == 0
    before = _members(store)
    loose = _relink(store)
    assert _members(store) == before and loose.multi_record_persons == 0
    queue = {(i.left.talent_id, i.right.talent_id): i.probability for i in people.review(store)}
    assert len(queue) == 43 and queue[("D000", "T000")] > 0.99 and set(REVIEW) <= set(queue)


def test_persons_of_names_the_people_of_two_records_or_more_among_any_ids(store):
    """A ranking's whole pool in one parameter (a PostgreSQL array, a JSON array in SQLite): every id asked that
    shares its person, none that stands alone, unknown or hostile ids ignored, not interpreted."""
    _relink(store)
    members = _members(store)
    sizes = {}
    for person, _ in members.values():
        sizes[person] = sizes.get(person, 0) + 1
    hostile = ['x") OR 1=1 --', "'; DROP TABLE person_members; --", '["T000"]', "钱学森", "", "\\u0000"]
    asked = [*sorted(members), *hostile, "NOT-A-RECORD"]
    expected = {t: p for t, (p, _) in members.items() if sizes[p] >= 2}
    assert len(expected) == 80 and len(asked) > 240
    assert people.persons_of(store, asked) == expected
    some = ["T000", "T001", "D000", *hostile]
    assert people.persons_of(store, some) == {t: expected[t] for t in some if t in expected} == {
        "T000": "D000", "D000": "D000"}  # fmt: skip
    assert people.persons_of(store, []) == {} and people.persons_of(store, hostile) == {}
    assert len(_members(store)) == len(members)
