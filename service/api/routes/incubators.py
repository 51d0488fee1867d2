"""Overseas "Haina" incubators: every key reads them; the office writes them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query, Request, Response

from features.records import CountryCode, Incubator
from service.api.crud import IMPORT_BODY, Paging, audit_write, check_path_id, fetch, import_upload, list_page, paging
from service.api.deps import AnyRole, Office, StoreDep, WriterDep
from service.api.errors import ERROR_RESPONSES
from service.api.limits import IdPath
from service.api.schemas import RECORD_EXAMPLES, ErrorResponse, ImportResult, Page
from service.db import table

router = APIRouter(prefix="/incubators", tags=["incubators / 孵化器"], responses=ERROR_RESPONSES)

IncubatorBody = Annotated[Incubator, Body(openapi_examples=RECORD_EXAMPLES["incubator"])]
NOT_FOUND = {404: {"model": ErrorResponse, "description": "No such incubator / 无此孵化器"}}


@router.post("", status_code=201, responses={409: {"model": ErrorResponse, "description": "The id exists / id 已存在"}})
def create_incubator(body: IncubatorBody, principal: Office, writer: WriterDep) -> Incubator:
    """Create a incubator (recruiter, admin). 新建孵化器。"""
    writer.create(body)
    audit_write(writer.store, principal, "create", body)
    return body


@router.get("/{incubator_id}", responses=NOT_FOUND)
def read_incubator(incubator_id: IdPath, principal: AnyRole, store: StoreDep) -> Incubator:
    """A incubator (any key). 读取孵化器。"""
    return fetch(store, "incubator", incubator_id)  # type: ignore[return-value]


@router.put("/{incubator_id}", responses={201: {"model": Incubator, "description": "Created / 已新建"}})
def replace_incubator(
    incubator_id: IdPath, body: IncubatorBody, principal: Office, writer: WriterDep, response: Response
) -> Incubator:
    """Replace a incubator with the body, or create it when the id is new (upsert: 200 replaced, 201 created); send
    the whole record. 整体替换孵化器（不存在则新建）。"""
    check_path_id(body, incubator_id)
    response.status_code = 201 if writer.put(body) else 200
    audit_write(writer.store, principal, "replace", body)
    return body


@router.get("")
def list_incubators(
    principal: AnyRole,
    store: StoreDep,
    page: Annotated[Paging, Depends(paging)],
    country: Annotated[CountryCode | None, Query(description="In this country, e.g. DE / 所在国家")] = None,
) -> Page[Incubator]:
    """Incubators in id order (any key). 分页列出孵化器。"""
    t = table("incubator")
    where = [t.c.country == country] if country else []
    items, total = list_page(store, "incubator", where, page)
    return Page[Incubator](items=items, total=total, limit=page.limit, offset=page.offset)  # type: ignore[arg-type]


@router.post("/import", openapi_extra=IMPORT_BODY)
async def import_incubators(request: Request, principal: Office, writer: WriterDep) -> ImportResult:
    """Bulk import incubators from JSONL (or CSV), all or nothing (recruiter, admin). 批量导入孵化器。"""
    return await import_upload(request, "incubator", writer, principal)
