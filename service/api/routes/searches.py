"""Saved searches (recruiters, admins: the roles that search the talent pool): each key's own, named, re-run on
visit with what is new since the last one (``service.saved_searches``). Another key's search is a 404."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Request, Response
from starlette.concurrency import run_in_threadpool

from service import saved_searches
from service.api.deps import IndicesDep, Office, StoreDep
from service.api.errors import ERROR_RESPONSES
from service.api.limits import SavedSearchIdPath
from service.api.schemas import ErrorResponse
from service.saved_searches import SavedSearch, SavedSearchIn, SavedSearchRun

router = APIRouter(prefix="/searches", tags=["saved searches / 保存的检索"], responses=ERROR_RESPONSES)

NOT_FOUND = {404: {"model": ErrorResponse, "description": "No such saved search (or not this key's) / 无此检索"}}
STALE = {409: {"model": ErrorResponse, "description": "Saved under rules no longer accepted / 已失效"}}
EXAMPLES = {
    "zh": {"summary": "中文", "value": {"name": "钙钛矿人才", "query": "钙钛矿 薄膜太阳能电池", "tier": ["B", "C"]}},
    "en": {"summary": "English", "value": {"name": "RISC-V leads", "query": "RISC-V SoC design lead", "k": 50}},
}


@router.post("", status_code=201, responses={409: {"model": ErrorResponse, "description": "Too many saved / 已达上限"}})
async def save_search(
    body: Annotated[SavedSearchIn, Body(openapi_examples=EXAMPLES)], principal: Office, store: StoreDep
) -> SavedSearch:
    """Save a free-text search (the `POST /search` body and a name) for this key. 保存检索。"""
    return await run_in_threadpool(saved_searches.create, store, principal, body)


@router.get("")
async def list_searches(principal: Office, store: StoreDep) -> list[SavedSearch]:
    """This key's saved searches, newest first. 本密钥保存的检索。"""
    return await run_in_threadpool(saved_searches.list_own, store, principal)


@router.get("/{search_id}", responses=NOT_FOUND | STALE)
async def run_search(
    search_id: SavedSearchIdPath, request: Request, principal: Office, _: IndicesDep
) -> SavedSearchRun:
    """Re-run a saved search (as `POST /search`: receipt and audit included), with the talent ids on the page that
    the last visit did not show; this visit becomes the last. 重新运行检索，并标出上次访问以来的新人才。"""
    return await run_in_threadpool(saved_searches.run, request.app.state, principal, search_id)


@router.delete("/{search_id}", status_code=204, responses=NOT_FOUND)
async def delete_search(search_id: SavedSearchIdPath, principal: Office, store: StoreDep) -> Response:
    """Delete a saved search. 删除检索。"""
    await run_in_threadpool(saved_searches.delete, store, principal, search_id)
    return Response(status_code=204)
