"""Needs: the list (filters by kind, platform, enterprise and status; each need's count of ranked candidates,
loaded after the page) and one need's ranked candidates with the row actions that record feedback.

The candidates come from ``service.api.rankings.need_candidates``, the function behind
``GET /needs/{id}/candidates``: the same ranking cache, receipt, audit rows, enterprise rules (own open needs,
card-only filters, daily quota) and masked cards. The actions go through ``record_feedback``, as ``POST /feedback``."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Form, Query
from fastapi.responses import HTMLResponse, Response
from markupsafe import escape
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from features.records import FeedbackAction, NeedKind, NeedStatus, RecordId
from matcher.pipeline import CANDIDATES
from service.api.access import visible_need
from service.api.feedback import record_feedback
from service.api.live import Writer
from service.api.ranking_schemas import FeedbackIn
from service.api.rankings import need_candidates
from service.console import filters
from service.console.render import htmx, redirect, render
from service.console.session import PREFIX, RANKERS, ConsoleError, Page, Posted, SignedIn, safe_next
from service.db import table
from service.keys import Role
from service.pipeline import stage_counts
from service.ranking import MAX_K

router = APIRouter()

LIST_LIMIT = 50
ACTIONS = (FeedbackAction.shortlist, FeedbackAction.contact, FeedbackAction.interview, FeedbackAction.hire,
           FeedbackAction.reject)  # fmt: skip
"""The row actions, in the order a candidate moves through them (``impression`` and ``view`` are not buttons)."""


def need_rows(page: Page, kind: NeedKind | None, platform: str | None, enterprise: str | None,
              status: NeedStatus | None, offset: int) -> tuple[list[dict[str, Any]], int, dict[str, str]]:  # fmt: skip
    """A page of needs in id order (an enterprise: its own only, as ``GET /needs``), the total, and the names of
    the enterprises and platforms shown."""
    n, e = table("need"), table("enterprise")
    where = [c == v for c, v in ((n.c.enterprise_id, enterprise), (n.c.kind, kind), (n.c.status, status)) if v]
    if platform:
        where.append(n.c.enterprise_id.in_(sa.select(e.c.id).where(e.c.platform_id == platform)))
    principal = page.principal
    if principal is not None and principal.role is Role.enterprise:
        where.append(n.c.enterprise_id == principal.enterprise_id)
    store = page.request.app.state.store
    with store.engine.connect() as conn:
        total = conn.scalar(sa.select(sa.func.count()).select_from(n).where(*where)) or 0
        rows = conn.execute(
            sa.select(n.c.data, e.c.data.label("enterprise"))
            .select_from(n.outerjoin(e, e.c.id == n.c.enterprise_id))
            .where(*where)
            .order_by(n.c.id)
            .limit(LIST_LIMIT)
            .offset(offset)
        ).all()
        platforms = dict(conn.execute(sa.select(table("platform").c.id, table("platform").c.data)).all())
    names = {pid: (d or {}).get("name", pid) for pid, d in platforms.items()}
    out = [{"need": r.data, "enterprise": r.enterprise or {}} for r in rows]
    return out, total, names


@router.get("/needs")
def needs_list(
    page: SignedIn,
    kind: Annotated[NeedKind | None, Query()] = None,
    platform: Annotated[RecordId | None, Query()] = None,
    enterprise: Annotated[RecordId | None, Query()] = None,
    status: Annotated[NeedStatus | None, Query()] = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Response:
    rows, total, platforms = need_rows(page, kind, platform, enterprise, status, offset)
    ids = [r["need"]["id"] for r in rows]
    stages = stage_counts(page.request.app.state.store, page.principal, ids)  # type: ignore[arg-type]
    chosen = {"kind": kind, "platform": platform, "enterprise": enterprise, "status": status}
    return render(page, "needs.html", rows=rows, total=total, platforms=platforms, chosen=chosen, offset=offset,
                  limit=LIST_LIMIT, kinds=list(NeedKind), statuses=list(NeedStatus), stages=stages)  # fmt: skip


@router.get("/needs/{need_id}/count", response_class=HTMLResponse)
def candidate_count(need_id: RecordId, page: SignedIn) -> str:
    """The need's number of ranked candidates (an htmx fragment of the list). The office ranks on demand; for an
    enterprise only a cached ranking is counted (a count is no reason to spend its ranking quota)."""
    state = page.request.app.state
    need = visible_need(state.store, page.principal, need_id)  # type: ignore[arg-type]
    if state.indices is None or page.principal.role not in RANKERS:  # type: ignore[union-attr]
        return "—"
    scorer = state.models.scorer
    full = state.rank_cache.cached(state.indices, need, scorer, None)
    if full is None and page.principal.role is not Role.enterprise:  # type: ignore[union-attr]
        with state.index_lock.read():
            full = state.rank_cache.get_or_rank(state.indices, need, scorer, None)
    return "—" if full is None else str(len(full.ids))


@router.get("/needs/{need_id}")
async def need_page(
    need_id: RecordId,
    page: SignedIn,
    k: Annotated[int, Query(ge=1, le=MAX_K)] = 20,
    offset: Annotated[int, Query(ge=0, le=CANDIDATES)] = 0,
    personalized: Annotated[bool, Query()] = True,
    tier: filters.Values = None,
    nationality: filters.Values = None,
    residence: filters.Values = None,
    site: Annotated[str | None, Query(max_length=40)] = None,
    language: filters.Values = None,
    incubator: filters.Values = None,
) -> Response:
    page.require(RANKERS)
    chosen = filters.parse(tier=tier, nationality=nationality, residence=residence, site=site, language=language,
                           incubator=incubator)  # fmt: skip
    state = page.request.app.state
    if state.indices is None:
        raise ConsoleError(503, "the indices are not built yet; retry in a moment")
    body = await run_in_threadpool(partial(need_candidates, state, page.principal, need_id, k=k, offset=offset,
                                           personalized=personalized, **chosen.given()))  # fmt: skip
    page.mark("rank")
    idx = state.indices
    need = idx.needs.get(need_id) or state.store.get("need", need_id)
    office = page.principal.role is not Role.enterprise  # type: ignore[union-attr]
    # languages are not on a card (an enterprise never learns them); the office reads them from the indexed record
    # (an erasure may take a talent out between the ranking and here: its row then shows no languages)
    languages = None
    if office:
        languages = {c["talent_id"]: t.languages for c in body["candidates"] if (t := idx.talents.get(c["talent_id"]))}
    scores = [c["score"] for c in body["candidates"]]
    lo, hi = (min(scores), max(scores)) if scores else (0.0, 1.0)
    flash = page.session.pop("flash", None)
    if flash:
        page.dirty = True
    return render(page, "need.html", need=need, body=body, chosen=chosen, k=k, offset=offset,
                  personalized=personalized, languages=languages, office=office, lo=lo, hi=hi,
                  actions=ACTIONS, flash=flash)  # fmt: skip


@router.post("/needs/{need_id}/feedback")
async def need_feedback(
    need_id: RecordId,
    page: Posted,
    talent_id: Annotated[str, Form(max_length=200)] = "",
    action: Annotated[str, Form(max_length=40)] = "",
    ranking_id: Annotated[str, Form(max_length=200)] = "",
    back: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    """A row action: the feedback event for this candidate on the ranking shown (``POST /feedback``'s checks)."""
    page.require(RANKERS)
    try:
        body = FeedbackIn(need_id=need_id, talent_id=talent_id, action=action, ranking_id=ranking_id)
    except ValidationError as e:
        raise ConsoleError.invalid(e) from None
    state = page.request.app.state
    if state.indices is None:
        raise ConsoleError(503, "the indices are not built yet; retry in a moment")
    await run_in_threadpool(record_feedback, Writer(state), page.principal, body)
    if htmx(page.request):  # the row says so; the page stays as it is
        return HTMLResponse(escape(page.t("need.recorded", talent=talent_id, action=page.label("action", body.action))))
    page.session["flash"] = [talent_id, str(body.action)]
    page.dirty = True
    target = safe_next(back)
    return redirect(page, target if target.startswith(f"{PREFIX}/needs/{need_id}") else f"{PREFIX}/needs/{need_id}")
