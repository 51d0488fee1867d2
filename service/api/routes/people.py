"""People: the persons the linkage stored (``service.people``), for the office only. A person's golden record and
the review queue are read by the roles that read full profiles (recruiter, data team, admin; each read audited);
confirming, rejecting, undoing and erasing a person are the office's writes (recruiter, admin). Enterprises get
403, as for talents by id: they see talent only as candidate cards. Each route's audited work is a function
(``review_pairs``, ``decide``, ``read``, ``undo``) that the console's people pages call too."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from service import audit, people
from service.api.crud import fetch
from service.api.deps import Office, ProfileReader, StoreDep
from service.api.errors import ERROR_RESPONSES, ApiError
from service.api.limits import IdPath, IdQuery
from service.api.schemas import ErrorResponse, UtcDatetime
from service.erasure import erase_talent
from service.keys import Principal
from service.store import Store

router = APIRouter(prefix="/people", tags=["people / 人员"], responses=ERROR_RESPONSES)

NOT_FOUND = {404: {"model": ErrorResponse, "description": "No such person or talent / 无此人员或人才"}}
CONFLICT = {409: {"model": ErrorResponse, "description": "Conflicts with the office's decisions / 与既有决定冲突"}}
REVIEW_MAX = 1_000


class ReviewIn(BaseModel):
    left: IdQuery = Field(description="A talent id of the pair / 人才 id")
    right: IdQuery = Field(description="The other talent id / 另一人才 id")
    decision: Literal["confirm", "reject"] = Field(description="confirm: one person; reject: never merged / 确认或拒绝")


class Side(BaseModel):
    talent_id: str
    person_id: str
    name: str | None
    name_zh: str | None
    name_en: str | None
    employer: str | None
    email: str | None = Field(description="Masked: first letter and domain / 已脱敏")
    works: int
    updated_at: str | None


class ReviewPairOut(BaseModel):
    left: Side
    right: Side
    probability: float
    agreed: list[str] = Field(description="The comparisons that spoke for the pair / 一致的比较项")


class DecisionOut(BaseModel):
    decision: str
    left: str
    right: str
    persons: dict[str, str] = Field(description="Each record's person after the decision / 决定后所属人员")


class UndoOut(BaseModel):
    person_id: str
    records: list[str] = Field(description="The records, each now its own person / 拆分后的记录")
    split_pairs: int


class MemberOut(BaseModel):
    talent_id: str
    how: str = Field(description="linked (by the model), confirmed (by the office) or split (undone)")
    at: UtcDatetime
    key_id: int | None


class PersonErasureOut(BaseModel):
    person_id: str
    records: list[str] = Field(description="The records erased, each as `DELETE /talents/{id}` erases / 已删除的记录")
    receipt_rows: int = Field(description="Candidate rows redacted in decision receipts, all records together.")


class PersonOut(BaseModel):
    person_id: str
    records: list[MemberOut]
    golden: dict[str, Any] = Field(description="Per field the most recent non-empty value; lists unioned / 黄金记录")
    provenance: dict[str, str | list[str]] = Field(
        description="Field → the record it came from; for a list, one record per item / 字段来源"
    )


def _api(e: people.PeopleError) -> ApiError:
    return ApiError(e.status, str(e), field=e.field)


def read(store: Store, principal: Principal, person_id: str) -> PersonOut:
    """A person's golden record and records, the read audited per record: ``GET /people/{id}`` and the console's
    person page."""
    try:
        card, members = people.person(store, person_id)
    except people.PeopleError as e:
        raise _api(e) from None
    audit.record(store, principal, "read", "talent", card.records, {"person_id": person_id})
    return PersonOut(person_id=person_id, records=[MemberOut(**vars(m)) for m in members], golden=card.fields,
                     provenance=card.provenance)  # fmt: skip


def review_pairs(store: Store, principal: Principal, limit: int) -> list[ReviewPairOut]:
    """The review queue, the records shown audited as ``review``: ``GET /people/review`` and the console's queue."""
    items = people.review(store, limit)
    shown = sorted({s.talent_id for i in items for s in (i.left, i.right)})
    audit.record(store, principal, "review", "talent", shown)
    return [ReviewPairOut(**i.to_dict()) for i in items]


def decide(state: Any, principal: Principal, body: ReviewIn) -> DecisionOut:
    """The office's confirm or reject of a pair, audited; the ranking cache is emptied, so rankings show the persons
    as they are now (``POST /people/review`` and the console's buttons). ``state``: the app state."""
    try:
        doc = people.decide(state.store, body.left, body.right, body.decision, principal.key_id)
    except people.PeopleError as e:
        raise _api(e) from None
    audit.record(state.store, principal, body.decision, "person", [doc["persons"][doc["left"]]],
                 {"left": doc["left"], "right": doc["right"]})  # fmt: skip
    state.rank_cache.clear()
    return DecisionOut(**doc)


def undo(state: Any, principal: Principal, person_id: str) -> UndoOut:
    """Split a person back into its records, audited; the ranking cache is emptied as for a decision."""
    try:
        doc = people.undo(state.store, person_id, principal.key_id)
    except people.PeopleError as e:
        raise _api(e) from None
    audit.record(state.store, principal, "undo", "person", [person_id], {"records": doc["records"]})
    state.rank_cache.clear()
    return UndoOut(**doc)


@router.get("/review")
async def review_queue(
    principal: ProfileReader,
    store: StoreDep,
    limit: Annotated[int, Query(ge=1, le=REVIEW_MAX, description="Pairs to list / 条数")] = 100,
) -> list[ReviewPairOut]:
    """The pairs waiting for review, most probable first, both records side by side (e-mail masked).
    待复核的记录对。"""
    return await run_in_threadpool(review_pairs, store, principal, limit)


@router.post("/review", responses=NOT_FOUND | CONFLICT)
async def decide_pair(body: Annotated[ReviewIn, Body()], request: Request, principal: Office) -> DecisionOut:
    """Confirm (the two persons merge) or reject (never merged again, not even by a re-link) a pair; rankings
    show the persons as they are now from the next request on. 确认或拒绝一对记录。"""
    return await run_in_threadpool(decide, request.app.state, principal, body)


@router.get("/{person_id}", responses=NOT_FOUND)
async def read_person(person_id: IdPath, principal: ProfileReader, store: StoreDep) -> PersonOut:
    """A person's golden record with provenance and its records (the read is audited per record).
    人员的黄金记录（记入审计）。"""
    return await run_in_threadpool(read, store, principal, person_id)


@router.post("/{person_id}/undo", responses=NOT_FOUND | CONFLICT)
async def undo_person(person_id: IdPath, request: Request, principal: Office) -> UndoOut:
    """Split a person back into its records; recorded, so a re-link does not merge them again. 撤销合并。"""
    return await run_in_threadpool(undo, request.app.state, principal, person_id)


@router.delete("/{person_id}", responses=NOT_FOUND)
def erase_person(person_id: IdPath, request: Request, principal: Office, store: StoreDep) -> PersonErasureOut:
    """Erase a person: every record of them, each as `DELETE /talents/{id}` erases one (recruiter, admin).
    Irreversible; if it is interrupted, the same call erases the records left. 删除该人员的全部记录，不可恢复。"""
    try:
        records, receipt_rows = [m.talent_id for m in people.members(store, person_id)], 0
    except people.PeopleError as e:
        raise _api(e) from None
    for talent_id in records:
        done = erase_talent(request.app.state, fetch(store, "talent", talent_id))  # type: ignore[arg-type]
        receipt_rows += done.receipt_rows
        audit.record(store, principal, "erase", "talent", [talent_id], {"person_id": person_id,
                     "receipt_rows": done.receipt_rows, "alerts": done.alerts, "vectors": done.vectors})  # fmt: skip
    return PersonErasureOut(person_id=person_id, records=records, receipt_rows=receipt_rows)
