"""Saved searches: save the search page's current search under a name, re-run one with the talents new since the
key's last visit marked, delete one (``service.saved_searches``, what ``/searches`` runs). Recruiters and admins
only, each key its own (another key's is a 404 page), as the API. The list is on the search page."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Path
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from features.records import NeedKind
from service import saved_searches
from service.api.limits import QUERY_MAX, SAVED_SEARCH_ID_MAX
from service.console import filters
from service.console.render import redirect, render
from service.console.session import OFFICE, PREFIX, ConsoleError, Page, Posted, SignedIn
from service.ranking import MAX_K
from service.saved_searches import SavedSearchIn

router = APIRouter()

FILTERS = ("tier", "nationality", "residence", "site", "language", "incubator")
SearchId = Annotated[int, Path(ge=1, le=SAVED_SEARCH_ID_MAX)]


def search_url(params: dict[str, Any]) -> str:
    """The search page's URL for a saved ``POST /search`` body (where a saved search can be changed and saved anew)."""
    q: list[tuple[str, Any]] = [("q", params.get("query", "")), ("kind", params["kind"])]
    if params.get("k", 20) != 20:
        q.append(("k", params["k"]))
    for name in FILTERS:
        value = params.get(name)
        q += [(name, v) for v in value] if isinstance(value, list) else [(name, value)] if value else []
    return f"{PREFIX}/search?{urlencode(q)}"


def saved_list(page: Page) -> tuple[list[saved_searches.SavedSearch], str | None]:
    """The key's saved searches and a notice left by the last save or delete (the search page shows both)."""
    notice = page.session.pop("flash_saved", None)
    if notice:
        page.dirty = True
    return saved_searches.list_own(page.request.app.state.store, page.principal), notice  # type: ignore[arg-type]


@router.post("/searches")
async def save_search(
    page: Posted,
    name: Annotated[str, Form(max_length=400)] = "",
    q: Annotated[str, Form(max_length=QUERY_MAX)] = "",
    kind: Annotated[NeedKind, Form()] = NeedKind.special_researcher,
    k: Annotated[int, Form(ge=1, le=MAX_K)] = 20,
    tier: Annotated[str, Form(max_length=200)] = "",
    nationality: Annotated[str, Form(max_length=200)] = "",
    residence: Annotated[str, Form(max_length=200)] = "",
    site: Annotated[str, Form(max_length=40)] = "",
    language: Annotated[str, Form(max_length=200)] = "",
    incubator: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Save the search the form carries (the search page's query, kind, page size and filters) under ``name``."""
    page.require(OFFICE)
    chosen = filters.parse(tier=[tier], nationality=[nationality], residence=[residence], site=site,
                           language=[language], incubator=[incubator])  # fmt: skip
    try:
        body = SavedSearchIn(name=name, query=q, kind=kind, k=k, **chosen.given())
    except ValidationError as e:
        err = e.errors()[0]
        field = "q" if err["loc"][0] == "query" else str(err["loc"][0])
        raise ConsoleError(422, f"{field}: {err['msg']}", field=field) from None
    saved = await run_in_threadpool(saved_searches.create, page.request.app.state.store, page.principal, body)
    page.session["flash_saved"] = page.t("saved.saved", name=saved.name)
    page.dirty = True
    return redirect(page, search_url(saved.search))


@router.get("/searches/{search_id}")
async def run_saved(search_id: SearchId, page: SignedIn) -> Response:
    """Re-run a saved search as ``GET /searches/{id}``: its first page, the talents the last visit did not show
    marked new; this visit becomes the last."""
    page.require(OFFICE)
    state = page.request.app.state
    if state.indices is None:
        raise ConsoleError(503, "the indices are not built yet; retry in a moment")
    done = await run_in_threadpool(saved_searches.run, state, page.principal, search_id)
    page.mark("rank")
    body = done.ranking.model_dump(mode="json")
    scores = [c["score"] for c in body["candidates"]]
    lo, hi = (min(scores), max(scores)) if scores else (0.0, 1.0)
    talents = state.indices.talents
    languages = {c["talent_id"]: t.languages for c in body["candidates"] if (t := talents.get(c["talent_id"]))}
    return render(page, "saved.html", run=done, body=body, new=set(done.new), lo=lo, hi=hi, languages=languages,
                  edit=search_url(done.search.search))  # fmt: skip


@router.post("/searches/{search_id}/delete")
async def delete_saved(search_id: SearchId, page: Posted) -> Response:
    page.require(OFFICE)
    await run_in_threadpool(saved_searches.delete, page.request.app.state.store, page.principal, search_id)
    page.session["flash_saved"] = page.t("saved.deleted")
    page.dirty = True
    return redirect(page, f"{PREFIX}/search#saved")
