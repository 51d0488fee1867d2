"""The pipeline board and its counts on a real SQLite file and a real PostgreSQL: stages from the latest judgement
(imported rows without a time ordered by when they were written), history in time order, counts per stage for many
needs in one query, and an enterprise's view (its own needs only, masked cards, other keys unnamed)."""

from __future__ import annotations

import pytest

from features.records import FeedbackEvent
from service import audit
from service.api.errors import ApiError
from service.keys import authenticate, create_key
from service.pipeline import STAGES, board, stage_counts
from service.store import Store


def ev(need: str, talent: str, action: str, time: str | None = None, actor: str | None = None, **kw) -> FeedbackEvent:
    return FeedbackEvent(need_id=need, talent_id=talent, action=action, time=time, actor=actor, **kw)


@pytest.fixture
def store(db_url, world_dir):
    """The small world (t1 shortlisted 2024-05-02 for n1, t3 rejected for n1 without a time, t2 contacted for n2)
    plus: t1 interviewed, t4 offered, t3 shortlisted again in 2024 — before the reject, which was written now."""
    with Store(db_url) as s:
        assert s.import_path(world_dir).ok
        s.upsert([
            ev("n1", "t1", "view", "2024-05-01T08:00:00Z"),
            ev("n1", "t1", "interview", "2024-05-03T09:00:00+08:00", actor="key:999 office", ranking_id="r-1"),
            ev("n1", "t4", "shortlist", "2024-05-03T10:00:00Z"),
            ev("n1", "t4", "offer", "2024-05-04T10:00:00Z", ranking_id="r-2"),
            ev("n1", "t3", "shortlist", "2024-05-05T10:00:00Z"),
            ev("n1", "t2", "impression", "2024-05-05T10:00:00Z"),  # shown only: not on the board
        ])  # fmt: skip
        yield s


def principal(store: Store, role: str, enterprise: str | None = None):
    return authenticate(store, create_key(store, role, enterprise))


def test_stages_come_from_the_latest_judgement_and_history_is_in_time_order(store):
    recruiter = principal(store, "recruiter")
    got = board(store, recruiter, "n1")
    assert got.stages == dict.fromkeys(STAGES, 0) | {"interview": 1, "offer": 1, "rejected": 1}
    by_id = {c.talent_id: c for c in got.candidates}
    assert set(by_id) == {"t1", "t3", "t4"}  # t2 was only shown
    assert [c.talent_id for c in got.candidates] == ["t1", "t4", "t3"]  # board order of the stages
    assert (by_id["t1"].stage, by_id["t4"].stage, by_id["t3"].stage) == ("interview", "offer", "rejected")
    assert [s.action for s in by_id["t1"].history] == ["view", "shortlist", "interview"]
    assert [s.action for s in by_id["t3"].history] == ["shortlist", "reject"]  # the undated reject came later
    assert by_id["t1"].ranking_id == "r-1" and by_id["t3"].ranking_id is None
    assert by_id["t1"].history[-1].key_id == 999 and by_id["t1"].history[-1].actor == "key:999 office"
    assert by_id["t1"].card.name == "李伟" and not by_id["t3"].card.masked  # the office sees names
    read, _ = audit.entries(store, object_kind="talent")
    assert {(e.action, e.object_id) for e in read} == {("pipeline", t) for t in ("t1", "t3", "t4")}


def test_counts_for_many_needs_match_the_boards_and_keep_to_the_tenant(store):
    recruiter = principal(store, "recruiter")
    counts = stage_counts(store, recruiter, ["n1", "n2", "n3", "nope"])
    assert counts["n1"] == board(store, recruiter, "n1").stages
    assert counts["n2"] == dict.fromkeys(STAGES, 0) | {"contacted": 1}
    assert counts["n3"] == counts["nope"] == dict.fromkeys(STAGES, 0)
    e2 = principal(store, "enterprise", "e2")
    assert stage_counts(store, e2, ["n1", "n2"]) == {"n1": dict.fromkeys(STAGES, 0), "n2": counts["n2"]}


def test_an_enterprise_sees_its_own_board_masked_and_not_who_acted(store):
    e1, e2 = principal(store, "enterprise", "e1"), principal(store, "enterprise", "e2")
    with pytest.raises(ApiError) as err:
        board(store, e2, "n1")
    assert err.value.status == 404
    got = {c.talent_id: c for c in board(store, e1, "n1").candidates}
    assert got["t1"].card.name == "李伟"  # consented to sharing
    assert got["t3"].card.masked and got["t3"].card.email is None  # did not
    assert all(s.key_id is None and s.actor is None for c in got.values() for s in c.history)  # key 999: not e1's


def test_a_person_linked_from_two_records_is_one_card_and_counted_once(store):
    """t1 (interviewed 05-03) and t4 (offered 05-04) linked as one person: one card, at the person's latest
    judgement (the offer, on t4), with both records' history; the counts count the person once; an enterprise sees
    the one card without the person or which record each step was on."""
    from datetime import UTC, datetime

    import sqlalchemy as sa

    from service import db

    m = db.PersonMemberRow.__table__
    with store.engine.begin() as conn:
        conn.execute(sa.insert(m), [{"talent_id": t, "person_id": "t1", "how": "linked", "at": datetime.now(UTC),
                                     "key_id": None} for t in ("t1", "t4")])  # fmt: skip
    recruiter = principal(store, "recruiter")
    got = board(store, recruiter, "n1")
    assert [c.talent_id for c in got.candidates] == ["t4", "t3"]
    person = got.candidates[0]
    assert (person.stage, person.person_id, person.ranking_id) == ("offer", "t1", "r-2")
    assert [(s.action, s.talent_id) for s in person.history] == [
        ("view", "t1"), ("shortlist", "t1"), ("interview", "t1"), ("shortlist", "t4"), ("offer", "t4")]  # fmt: skip
    assert got.stages == dict.fromkeys(STAGES, 0) | {"offer": 1, "rejected": 1}
    assert stage_counts(store, recruiter, ["n1"])["n1"] == got.stages
    tenant = board(store, principal(store, "enterprise", "e1"), "n1")
    assert [c.talent_id for c in tenant.candidates] == ["t4", "t3"]
    assert tenant.candidates[0].person_id is None and all(s.talent_id is None for s in tenant.candidates[0].history)
