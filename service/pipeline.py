"""A need's pipeline board: where each candidate stands (shortlisted → contacted → interview → offer → hired, or
rejected) and how they got there. Derived from the need's feedback rows alone, with no state of its own, so the
board, retraining and the audit trail can never disagree; moving a card records feedback exactly as ``POST
/feedback`` does (``service.api.feedback.record_feedback``).

A candidate's stage is that of their latest judgement (by the event's time, or when the row was written for
imported rows without one): a recruiter moving a card back, or taking a rejected candidate up again, is believed.
Impressions and views are history, not stages. The board is per person: the records the office linked as one
person (``service.people``) are one card, at the stage of the person's latest judgement on any of them, showing the
record judged last, with every record's history (each step names its record); the counts count persons.

Access is the API's: an enterprise sees only its own needs (another's is a 404), candidates as cards (masked without
sharing consent; neither the person nor which record a step was on), and which key acted only for its own keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, Field

from features.records import FeedbackEvent, Talent
from service import audit, db, keys
from service.api.access import visible_need
from service.api.cards import reveals_identity, talent_card
from service.api.errors import ApiError
from service.api.feedback import record_feedback
from service.api.live import Writer
from service.api.ranking_schemas import FeedbackIn
from service.api.schemas import TalentCard, UtcDatetime
from service.keys import Principal, Role
from service.people import persons_of
from service.store import CHUNK, Store

STAGE_OF = {"shortlist": "shortlisted", "contact": "contacted", "interview": "interview", "offer": "offer",
            "hire": "hired", "reject": "rejected"}  # fmt: skip
"""Feedback action → the board stage it puts a candidate in."""
STAGES = tuple(STAGE_OF.values())
"""The board's columns, in order."""
ACTION_OF = {stage: action for action, stage in STAGE_OF.items()}
SHORTLISTED = STAGES[:5]
"""The stages of a candidate still on the shortlist (shortlisted and later, not rejected): what an export holds."""


class Step(BaseModel):
    action: str
    talent_id: str | None = Field(description="The record acted on: a person's card gathers the steps of all its "
                                  "records (office roles; null for enterprises).")  # fmt: skip
    time: UtcDatetime | None = Field(description="When it was done (null for imported rows without a time).")
    ranking_id: str | None = None
    position: int | None = None
    key_id: int | None = Field(description="The API key that acted; for an enterprise, shown for its own keys only.")
    actor: str | None = Field(description="`key:<id> <label>`, or the actor of an imported row; as `key_id`.")


class PipelineCard(BaseModel):
    talent_id: str = Field(description="The record judged last (a person linked from several records is one card).")
    person_id: str | None = Field(default=None, description="The person when the office linked the record with "
                                  "others (office roles; null for enterprises, as in rankings).")  # fmt: skip
    stage: str = Field(description=f"One of {', '.join(STAGES)}.")
    since: UtcDatetime | None = Field(description="When the candidate entered the stage.")
    ranking_id: str | None = Field(description="The latest ranking the candidate was acted on from: send it with "
                                   "feedback to move the card (null: only imported rows without one).")  # fmt: skip
    card: TalentCard
    history: list[Step] = Field(description="Every feedback row of the candidate for this need, oldest first.")


class Board(BaseModel):
    need_id: str
    stages: dict[str, int] = Field(description="Candidates per stage, every stage listed.")
    candidates: list[PipelineCard] = Field(description="By stage in board order, then latest moved first.")


def _feedback() -> sa.Table:
    return db.table("feedback")


def _when() -> Any:
    """The order of events: their time, or when the row was written when an imported row has none."""
    f = _feedback()
    return sa.func.coalesce(f.c.time, f.c.written_at)


def board(store: Store, principal: Principal, need_id: str) -> Board:
    """The need's board (404 for a need the principal may not see); the cards shown are audited."""
    need = visible_need(store, principal, need_id)
    cards = _cards(store, principal, need.id)
    audit.record(store, principal, "pipeline", "talent", [c.talent_id for c in cards], {"need_id": need.id})
    counts = dict.fromkeys(STAGES, 0)
    for c in cards:
        counts[c.stage] += 1
    return Board(need_id=need.id, stages=counts, candidates=cards)


def shortlist(store: Store, principal: Principal, need_id: str) -> list[PipelineCard]:
    """The candidates still on the need's shortlist (``SHORTLISTED``), board order, unaudited: the caller audits what
    it hands out (``service.exports``)."""
    need = visible_need(store, principal, need_id)
    return [c for c in _cards(store, principal, need.id) if c.stage in SHORTLISTED]


def _cards(store: Store, principal: Principal, need_id: str) -> list[PipelineCard]:
    f = _feedback()
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(f.c.data).where(f.c.need_id == need_id).order_by(_when(), f.c.id)).all()
    events = [FeedbackEvent.model_validate(data) for (data,) in rows]
    persons = persons_of(store, sorted({ev.talent_id for ev in events}))
    history: dict[str, list[FeedbackEvent]] = {}  # person (or record standing alone) → its events in time order
    moved: dict[str, int] = {}  # person → index of their latest judgement in time order
    for i, ev in enumerate(events):
        who = persons.get(ev.talent_id, ev.talent_id)
        history.setdefault(who, []).append(ev)
        if ev.action.value in STAGE_OF:
            moved[who] = i
    staged = {who: evs for who, evs in history.items() if who in moved}
    talents = _talents(store, sorted({e.talent_id for evs in staged.values() for e in evs}))
    reveal = reveals_identity(principal)
    office = principal.role is not Role.enterprise
    show = _key_filter(store, principal, staged.values())
    out: list[tuple[int, PipelineCard]] = []
    for who, evs in staged.items():
        evs = [e for e in evs if e.talent_id in talents]  # erased between the two reads (its feedback went with it)
        judged = [e for e in evs if e.action.value in STAGE_OF]
        if not judged:
            continue
        last = judged[-1]
        ranked = [e.ranking_id for e in evs if e.ranking_id and e.talent_id == last.talent_id]
        card = PipelineCard(
            talent_id=last.talent_id,
            person_id=persons.get(last.talent_id) if office else None,
            stage=STAGE_OF[last.action.value],
            since=last.time,
            ranking_id=ranked[-1] if ranked else None,
            card=talent_card(talents[last.talent_id], reveal=reveal),
            history=[_step(e, show) for e in evs],
        )
        out.append((moved[who], card))
    column = {s: i for i, s in enumerate(STAGES)}
    return [c for _, c in sorted(out, key=lambda mc: (column[mc[1].stage], -mc[0]))]


def _talents(store: Store, ids: list[str]) -> dict[str, Talent]:
    t = db.table("talent")
    out: dict[str, Talent] = {}
    with store.engine.connect() as conn:
        for start in range(0, len(ids), CHUNK):
            for (data,) in conn.execute(sa.select(t.c.data).where(t.c.id.in_(ids[start : start + CHUNK]))):
                talent = Talent.model_validate(data)
                out[talent.id] = talent
    return out


def _key_id(actor: str | None) -> int | None:
    """The key id in an actor written by ``record_feedback`` (``key:<id> <label>``)."""
    if not actor or not actor.startswith("key:"):
        return None
    head = actor[4:].split(" ", 1)[0]
    return int(head) if head.isdigit() else None


def _key_filter(store: Store, principal: Principal, histories: Any) -> set[int] | None:
    """Key ids whose actions this principal may see named (``None``: all, the office's roles): an enterprise sees its
    own enterprise's keys, not which recruiter acted (as with decision receipts)."""
    if principal.role is not Role.enterprise:
        return None
    ids = {k for evs in histories for e in evs if (k := _key_id(e.actor)) is not None}
    return {k for k in ids if k == principal.key_id or keys.enterprise_of(store, k) == principal.enterprise_id}


def _step(ev: FeedbackEvent, show: set[int] | None) -> Step:
    key_id = _key_id(ev.actor)
    named = show is None or (key_id is not None and key_id in show)
    return Step(action=ev.action.value, talent_id=ev.talent_id if show is None else None, time=ev.time,
                ranking_id=ev.ranking_id, position=ev.position, key_id=key_id if named else None,
                actor=ev.actor if named else None)  # fmt: skip


def stage_counts(store: Store, principal: Principal, need_ids: Sequence[str]) -> dict[str, dict[str, int]]:
    """Candidates (persons) per stage for each of ``need_ids`` (the needs list), in one query per ``CHUNK`` needs:
    need id → stage → count, every stage listed. Needs the principal may not see (another enterprise's) count as
    empty."""
    f, n, m = _feedback(), db.table("need"), db.PersonMemberRow.__table__
    who = sa.func.coalesce(m.c.person_id, f.c.talent_id)  # a person counts once, whichever record was judged
    ordered = sa.func.row_number().over(partition_by=(f.c.need_id, who), order_by=(_when().desc(), f.c.id.desc()))
    out = {need_id: dict.fromkeys(STAGES, 0) for need_id in need_ids}
    ids = sorted(out)
    with store.engine.connect() as conn:
        for start in range(0, len(ids), CHUNK):
            where = [f.c.need_id.in_(ids[start : start + CHUNK]), f.c.action.in_(list(STAGE_OF))]
            if principal.role is Role.enterprise:
                where.append(f.c.need_id.in_(sa.select(n.c.id).where(n.c.enterprise_id == principal.enterprise_id)))
            latest = (
                sa.select(f.c.need_id, f.c.action, ordered.label("nth"))
                .select_from(f.outerjoin(m, m.c.talent_id == f.c.talent_id))
                .where(*where)
                .subquery()
            )
            query = (
                sa.select(latest.c.need_id, latest.c.action, sa.func.count())
                .where(latest.c.nth == 1)
                .group_by(latest.c.need_id, latest.c.action)
            )
            for need_id, action, count in conn.execute(query):
                out[need_id][STAGE_OF[action]] = count
    return out


def move(
    writer: Writer, principal: Principal, need_id: str, talent_id: str, stage: str, ranking_id: str | None = None
) -> FeedbackEvent:
    """Move a card to ``stage``: records the stage's action as feedback through ``record_feedback`` (the same checks
    and row as ``POST /feedback``), from ``ranking_id`` or else the latest ranking the candidate was acted on from."""
    visible_need(writer.store, principal, need_id)
    if stage not in ACTION_OF:
        raise ApiError(422, f"stage {stage!r} is not a board stage; use one of {', '.join(STAGES)}", field="stage")
    if ranking_id is None:
        f = _feedback()
        with writer.store.engine.connect() as conn:
            ranking_id = conn.scalar(
                sa.select(f.c.data["ranking_id"].as_string())
                .where(f.c.need_id == need_id, f.c.talent_id == talent_id, f.c.data["ranking_id"].as_string() != "")
                .order_by(_when().desc(), f.c.id.desc())
                .limit(1)
            )
        if ranking_id is None:
            raise ApiError(422, f"talent {talent_id!r} was never acted on from a ranking of need {need_id!r}; act on "
                           "them from the need's ranking first (send its ranking_id)", field="ranking_id")  # fmt: skip
    body = FeedbackIn(need_id=need_id, talent_id=talent_id, action=ACTION_OF[stage], ranking_id=ranking_id)
    return record_feedback(writer, principal, body)
