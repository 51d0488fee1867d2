"""Enterprises. The office creates them; an enterprise key reads and updates its own record only (others: 404)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query, Request, Response

from features.records import Enterprise, RecordId
from service.api.crud import IMPORT_BODY, Paging, audit_write, check_path_id, fetch, import_upload, list_page, paging
from service.api.deps import AnyRole, NeedWriter, Office, StoreDep, WriterDep
from service.api.errors import ERROR_RESPONSES, not_found
from service.api.limits import IdPath
from service.api.schemas import RECORD_EXAMPLES, ErrorResponse, ImportResult, Page
from service.db import table
from service.keys import Principal, Role

router = APIRouter(prefix="/enterprises", tags=["enterprises / 企业"], responses=ERROR_RESPONSES)

EnterpriseBody = Annotated[Enterprise, Body(openapi_examples=RECORD_EXAMPLES["enterprise"])]
NOT_FOUND = {404: {"model": ErrorResponse, "description": "No such enterprise (or not yours) / 无此企业"}}


def _own(principal: Principal, enterprise_id: str) -> None:
    if principal.role is Role.enterprise and enterprise_id != principal.enterprise_id:
        raise not_found("enterprise", enterprise_id)


@router.post("", status_code=201, responses={409: {"model": ErrorResponse, "description": "The id exists / id 已存在"}})
def create_enterprise(body: EnterpriseBody, principal: Office, writer: WriterDep) -> Enterprise:
    """Register an enterprise (recruiter, admin). 登记企业。"""
    writer.create(body)
    audit_write(writer.store, principal, "create", body)
    return body


@router.get("/{enterprise_id}", responses=NOT_FOUND)
def read_enterprise(enterprise_id: IdPath, principal: AnyRole, store: StoreDep) -> Enterprise:
    """An enterprise (an enterprise key: its own only). 读取企业信息。"""
    _own(principal, enterprise_id)
    return fetch(store, "enterprise", enterprise_id)  # type: ignore[return-value]


@router.put("/{enterprise_id}", responses={201: {"model": Enterprise, "description": "Created / 已新建"}, **NOT_FOUND})
def replace_enterprise(
    enterprise_id: IdPath, body: EnterpriseBody, principal: NeedWriter, writer: WriterDep, response: Response
) -> Enterprise:
    """Replace an enterprise with the body, or create it when the id is new (upsert: 200 replaced, 201 created;
    an enterprise key may only replace its own record). 整体替换企业信息。"""
    check_path_id(body, enterprise_id)
    _own(principal, enterprise_id)
    response.status_code = 201 if writer.put(body) else 200
    audit_write(writer.store, principal, "replace", body)
    return body


@router.get("")
def list_enterprises(
    principal: AnyRole,
    store: StoreDep,
    page: Annotated[Paging, Depends(paging)],
    platform: Annotated[RecordId | None, Query(description="On this platform / 所在平台")] = None,
) -> Page[Enterprise]:
    """Enterprises in id order (an enterprise key: only its own). 分页列出企业。"""
    t = table("enterprise")
    where = [t.c.platform_id == platform] if platform else []
    if principal.role is Role.enterprise:
        where.append(t.c.id == principal.enterprise_id)
    items, total = list_page(store, "enterprise", where, page)
    return Page[Enterprise](items=items, total=total, limit=page.limit, offset=page.offset)  # type: ignore[arg-type]


@router.post("/import", openapi_extra=IMPORT_BODY)
async def import_enterprises(request: Request, principal: Office, writer: WriterDep) -> ImportResult:
    """Bulk import enterprises from JSONL (or CSV), all or nothing (recruiter, admin). 批量导入企业。"""
    return await import_upload(request, "enterprise", writer, principal)
