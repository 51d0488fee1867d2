"""A need's pipeline board and its shortlist export (recruiters, admins, an enterprise for its own needs: another's
is a 404). The board is derived from feedback (``service.pipeline``); cards move with ``POST /feedback``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from starlette.concurrency import run_in_threadpool

from service.api.deps import Ranker, StoreDep
from service.api.errors import ERROR_RESPONSES
from service.api.limits import IdPath
from service.api.schemas import ErrorResponse
from service.exports import MEDIA_TYPES, ExportFormat, export_shortlist
from service.pipeline import Board, board

router = APIRouter(prefix="/needs", tags=["pipeline / 招聘进度"], responses=ERROR_RESPONSES)

NOT_FOUND = {404: {"model": ErrorResponse, "description": "No such need (or not yours) / 无此需求"}}
EXPORT_OK = {
    200: {
        "description": "The shortlist as a file / 入围名单文件",
        "content": {media.split(";")[0]: {"schema": {"type": "string", "format": "binary"}}
                    for media in MEDIA_TYPES.values()},
    }
}  # fmt: skip


@router.get("/{need_id}/pipeline", responses=NOT_FOUND)
async def read_pipeline(need_id: IdPath, principal: Ranker, store: StoreDep) -> Board:
    """The need's pipeline board: each candidate's stage (shortlisted → contacted → interview → offer → hired, or
    rejected), when they entered it, the ranking to act from, their card (an enterprise: masked without sharing
    consent) and their history with the need; counts per stage. Move a card with `POST /feedback`. The cards shown
    are audited. 招聘进度看板。"""
    return await run_in_threadpool(board, store, principal, need_id)


@router.get("/{need_id}/pipeline/export", response_class=Response, responses=NOT_FOUND | EXPORT_OK)
async def export_pipeline(
    need_id: IdPath,
    principal: Ranker,
    store: StoreDep,
    format: Annotated[ExportFormat, Query(description="csv or xlsx / 文件格式")] = ExportFormat.csv,
) -> Response:
    """The need's shortlist (candidates shortlisted and later, not rejected) as CSV (UTF-8, formula-safe cells) or
    XLSX, one row per candidate with their stage and card (masked for an enterprise as on the API). Audited as an
    export of each talent. 导出入围名单（CSV 或 XLSX）。"""
    done = await run_in_threadpool(export_shortlist, store, principal, need_id, format)
    return Response(done.content, media_type=done.media_type, headers={"Content-Disposition": done.disposition})
