"""People: the review queue of record pairs that may be one person, and a person's golden record with provenance —
the API's ``/people`` routes as pages, through the functions behind them (``service.api.routes.people``: the same
audit rows, the ranking cache emptied on a change). The roles that read full profiles see both (recruiter, data
team, admin); recruiters and admins confirm or reject a pair and undo a merge. Undo comes after a confirmation page
whose box the server checks, as the models page's changes do: its pairs are recorded as split and leave the queue
for good, so the console cannot merge them back (the API and the CLI confirm a pair by hand). Enterprises get the
403 page, as on the API."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from features.records import RecordId, Talent
from service.api.routes import people as api
from service.console.render import redirect, render
from service.console.session import OFFICE, PREFIX, PROFILE_READERS, ConsoleError, Page, Posted, SignedIn

router = APIRouter()

QUEUE_LIMIT = 50
"""Pairs on the queue page, most probable first; a decided pair leaves the queue and the next one takes its place."""
NOTICE = "people_notice"
"""The session key of the notice a decision or an undo leaves for the next page."""


def take_notice(page: Page) -> dict[str, Any] | None:
    notice = page.session.pop(NOTICE, None)
    if notice:
        page.dirty = True
    return notice


def office(page: Page) -> bool:
    """The principal may decide (the data team reads only)."""
    return page.principal.role in OFFICE  # type: ignore[union-attr]


def shown(page: Page, value: Any) -> str:
    """A golden-record value as text: a nested record's non-empty fields as ``key: value``, a list joined."""
    if isinstance(value, bool):
        return page.t("yes" if value else "no")
    if isinstance(value, dict):
        return " · ".join(f"{k}: {shown(page, v)}" for k, v in value.items() if v not in (None, "", []))
    if isinstance(value, list):
        return ", ".join(shown(page, v) for v in value)
    return str(value)


def golden_rows(page: Page, card: api.PersonOut) -> list[tuple[str, list[tuple[str, str]]]]:
    """(field, [(value, source record)]) in the talent record's field order: one pair for a field, one per item for
    a list (each item keeps the record it came from); empty lists are left out."""
    rows = []
    for name in Talent.model_fields:
        source = card.provenance.get(name)
        if source is None:
            continue
        value = card.golden[name]
        items = list(zip(value, source, strict=True)) if isinstance(source, list) else [(value, source)]
        if items:
            rows.append((name, [(shown(page, v), s) for v, s in items]))
    return rows


@router.get("/people")
async def queue_page(page: SignedIn) -> Response:
    page.require(PROFILE_READERS)
    store = page.request.app.state.store
    pairs = await run_in_threadpool(api.review_pairs, store, page.principal, QUEUE_LIMIT)
    page.mark("queue")
    return render(page, "people.html", pairs=pairs, office=office(page), notice=take_notice(page), limit=QUEUE_LIMIT)


@router.post("/people/review")
async def review(
    page: Posted,
    left: Annotated[str, Form(max_length=200)] = "",
    right: Annotated[str, Form(max_length=200)] = "",
    decision: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Confirm or reject a pair (``POST /people/review``), then back to the queue with a notice."""
    page.require(OFFICE)
    try:
        body = api.ReviewIn(left=left, right=right, decision=decision)
    except ValidationError as e:
        raise ConsoleError.invalid(e) from None
    done = await run_in_threadpool(api.decide, page.request.app.state, page.principal, body)
    page.session[NOTICE] = {"action": done.decision, "left": done.left, "right": done.right,
                            "person": done.persons[done.left]}  # fmt: skip
    page.dirty = True
    return redirect(page, f"{PREFIX}/people")


@router.get("/people/{person_id}")
async def person_page(person_id: RecordId, page: SignedIn) -> Response:
    page.require(PROFILE_READERS)
    card = await run_in_threadpool(api.read, page.request.app.state.store, page.principal, person_id)
    page.mark("person")
    return render(page, "person.html", card=card, rows=golden_rows(page, card), office=office(page),
                  notice=take_notice(page))  # fmt: skip


def undo_confirm_page(page: Page, person_id: str, status: int = 200, error: str | None = None) -> Response:
    page.require(OFFICE)
    card = api.read(page.request.app.state.store, page.principal, person_id)  # 404 page for an unknown person
    return render(page, "person_undo.html", status, card=card, error=error)


@router.get("/people/{person_id}/undo")
async def undo_confirm(person_id: RecordId, page: SignedIn) -> Response:
    return await run_in_threadpool(undo_confirm_page, page, person_id)


@router.post("/people/{person_id}/undo")
async def undo(person_id: RecordId, page: Posted, confirm: Annotated[str, Form(max_length=10)] = "") -> Response:
    """Split the person (``POST /people/{id}/undo``) once the confirmation box is ticked, then its page."""
    page.require(OFFICE)
    if confirm != "yes":
        return await run_in_threadpool(undo_confirm_page, page, person_id, 422, page.t("models.confirm_missing"))
    done = await run_in_threadpool(api.undo, page.request.app.state, page.principal, person_id)
    page.session[NOTICE] = {"action": "undo", "records": done.records}
    page.dirty = True
    return redirect(page, f"{PREFIX}/people/{person_id}")
