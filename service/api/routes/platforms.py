"""Platforms (the parks where enterprises sit): every key reads them; the office writes them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Request, Response

from features.records import Platform
from service.api.crud import IMPORT_BODY, Paging, audit_write, check_path_id, fetch, import_upload, list_page, paging
from service.api.deps import AnyRole, Office, StoreDep, WriterDep
from service.api.errors import ERROR_RESPONSES
from service.api.limits import IdPath
from service.api.schemas import RECORD_EXAMPLES, ErrorResponse, ImportResult, Page

router = APIRouter(prefix="/platforms", tags=["platforms / 平台"], responses=ERROR_RESPONSES)

PlatformBody = Annotated[Platform, Body(openapi_examples=RECORD_EXAMPLES["platform"])]
NOT_FOUND = {404: {"model": ErrorResponse, "description": "No such platform / 无此平台"}}


@router.post("", status_code=201, responses={409: {"model": ErrorResponse, "description": "The id exists / id 已存在"}})
def create_platform(body: PlatformBody, principal: Office, writer: WriterDep) -> Platform:
    """Create a platform (recruiter, admin). 新建平台。"""
    writer.create(body)
    audit_write(writer.store, principal, "create", body)
    return body


@router.get("/{platform_id}", responses=NOT_FOUND)
def read_platform(platform_id: IdPath, principal: AnyRole, store: StoreDep) -> Platform:
    """A platform (any key). 读取平台。"""
    return fetch(store, "platform", platform_id)  # type: ignore[return-value]


@router.put("/{platform_id}", responses={201: {"model": Platform, "description": "Created / 已新建"}})
def replace_platform(
    platform_id: IdPath, body: PlatformBody, principal: Office, writer: WriterDep, response: Response
) -> Platform:
    """Replace a platform with the body, or create it when the id is new (upsert: 200 replaced, 201 created); send
    the whole record. 整体替换平台（不存在则新建）。"""
    check_path_id(body, platform_id)
    response.status_code = 201 if writer.put(body) else 200
    audit_write(writer.store, principal, "replace", body)
    return body


@router.get("")
def list_platforms(
    principal: AnyRole,
    store: StoreDep,
    page: Annotated[Paging, Depends(paging)],
) -> Page[Platform]:
    """Platforms in id order (any key). 分页列出平台。"""
    items, total = list_page(store, "platform", [], page)
    return Page[Platform](items=items, total=total, limit=page.limit, offset=page.offset)  # type: ignore[arg-type]


@router.post("/import", openapi_extra=IMPORT_BODY)
async def import_platforms(request: Request, principal: Office, writer: WriterDep) -> ImportResult:
    """Bulk import platforms from JSONL (or CSV), all or nothing (recruiter, admin). 批量导入平台。"""
    return await import_upload(request, "platform", writer, principal)
