"""A talent: the profile exactly as ``GET /talents/{id}`` gives it (the office's roles; the read audited), the open
needs that fit (``GET /talents/{id}/needs``: recruiters and admins, audited too) and "why this candidate": the
decision receipts of the latest rankings the talent was shown in, each with its feature contributions as a chart."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from features.records import RecordId
from service import receipts
from service.api.routes.ranking import needs_for_talent
from service.api.routes.talents import read_talent
from service.console.render import render
from service.console.session import OFFICE, PROFILE_READERS, ConsoleError, Page, SignedIn

router = APIRouter()

CHART_BARS = 10
"""Contributions charted per receipt: the largest by size (the rest are small by construction)."""


def chart(contributions: dict[str, float | None]) -> list[tuple[str, float, float]]:
    """(feature, contribution, bar length 0–1 of the largest) for the ``CHART_BARS`` largest contributions."""
    items = [(k, v) for k, v in contributions.items() if v and k != "bias"]
    items.sort(key=lambda kv: -abs(kv[1]))
    top = items[:CHART_BARS]
    scale = max((abs(v) for _, v in top), default=1.0) or 1.0
    return [(k, v, abs(v) / scale) for k, v in top]


def talent_data(page: Page, talent_id: str) -> dict:
    state = page.request.app.state
    talent = read_talent(talent_id, page.principal, state.store)  # 404 page for an unknown talent; audited
    matches = None
    if page.principal.role in OFFICE:  # type: ignore[union-attr]
        if state.indices is None:
            raise ConsoleError(503, "the indices are not built yet; retry in a moment")
        matches = needs_for_talent(talent_id, page.request, page.principal, state.store, state.indices, k=10)
    seen = receipts.appearances(state.store, talent_id)
    for item in seen:
        item["chart"] = chart(item["contributions"])
    return {"talent": talent, "matches": matches, "seen": seen}


@router.get("/talents/{talent_id}")
async def talent_page(talent_id: RecordId, page: SignedIn) -> Response:
    page.require(PROFILE_READERS)
    data = await run_in_threadpool(talent_data, page, talent_id)
    return render(page, "talent.html", **data)
