"""Free-text search for talent in Chinese or English with the ranking filters: ``POST /search``'s function
(``service.api.rankings.search_page``), so the same non-personalised ranking, receipt and audit rows. The office's
roles only, as the API (an enterprise learns of talent only as candidates for its posts)."""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from features.records import NeedKind
from matcher.pipeline import CANDIDATES
from service.api.limits import QUERY_MAX
from service.api.ranking_schemas import SearchIn
from service.api.rankings import search_page
from service.console import filters
from service.console.render import render
from service.console.searches import saved_list
from service.console.session import OFFICE, ConsoleError, SignedIn
from service.ranking import MAX_K

router = APIRouter()


@router.get("/search")
async def search(
    page: SignedIn,
    q: Annotated[str, Query(max_length=QUERY_MAX)] = "",
    kind: Annotated[NeedKind, Query()] = NeedKind.special_researcher,
    k: Annotated[int, Query(ge=1, le=MAX_K)] = 20,
    offset: Annotated[int, Query(ge=0, le=CANDIDATES)] = 0,
    tier: filters.Values = None,
    nationality: filters.Values = None,
    residence: filters.Values = None,
    site: Annotated[str | None, Query(max_length=40)] = None,
    language: filters.Values = None,
    incubator: filters.Values = None,
) -> Response:
    page.require(OFFICE)
    chosen = filters.parse(tier=tier, nationality=nationality, residence=residence, site=site, language=language,
                           incubator=incubator)  # fmt: skip
    body = None
    if q.strip():
        try:
            query = SearchIn(query=q, kind=kind, k=k, offset=offset, **chosen.given())
        except ValidationError as e:
            raise ConsoleError.invalid(e) from None
        state = page.request.app.state
        if state.indices is None:
            raise ConsoleError(503, "the indices are not built yet; retry in a moment")
        body = await run_in_threadpool(partial(search_page, state, page.principal, query))
    lo = hi = 0.0
    languages = {}
    if body and body["candidates"]:
        scores = [c["score"] for c in body["candidates"]]
        lo, hi = min(scores), max(scores)
        talents = page.request.app.state.indices.talents
        languages = {c["talent_id"]: t.languages for c in body["candidates"] if (t := talents.get(c["talent_id"]))}
    saved, notice = await run_in_threadpool(saved_list, page)
    return render(page, "search.html", q=q, kind=kind, kinds=list(NeedKind), k=k, offset=offset, chosen=chosen,
                  body=body, lo=lo, hi=hi, languages=languages, saved=saved, notice=notice)  # fmt: skip
