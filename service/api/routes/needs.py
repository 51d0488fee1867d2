"""Needs (posts to fill). The office reads and writes all; an enterprise key only its own enterprise's needs, and
another enterprise's need is a 404 to it, exactly as if it did not exist."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query, Request, Response

from features.records import Need, NeedKind, NeedStatus, Record, RecordId
from service.api.access import visible_need
from service.api.crud import IMPORT_BODY, Paging, audit_write, check_path_id, import_upload, list_page, paging
from service.api.deps import AnyRole, NeedWriter, Office, SettingsDep, StoreDep, WriterDep, enterprise_quota
from service.api.errors import ERROR_RESPONSES, forbidden, not_found
from service.api.limits import IdPath
from service.api.schemas import RECORD_EXAMPLES, ErrorResponse, ImportResult, Page
from service.db import table
from service.keys import Principal, Role
from service.quotas import Quota

router = APIRouter(prefix="/needs", tags=["needs / 需求"], responses=ERROR_RESPONSES)

NeedBody = Annotated[Need, Body(openapi_examples=RECORD_EXAMPLES["need"])]
NOT_FOUND = {404: {"model": ErrorResponse, "description": "No such need (or not yours) / 无此需求"}}


def owned(principal: Principal, need: Need) -> Need:
    """An enterprise writes needs for its own enterprise only (filled in when the body leaves it out)."""
    if principal.role is not Role.enterprise:
        return need
    if need.enterprise_id is None:
        return need.model_copy(update={"enterprise_id": principal.enterprise_id})
    if need.enterprise_id != principal.enterprise_id:
        raise forbidden(
            f"an enterprise key may post needs only for its own enterprise {principal.enterprise_id!r}, "
            f"not {need.enterprise_id!r}",
            field="enterprise_id",
        )
    return need


QUOTA = {429: {"model": ErrorResponse, "description": "Enterprise: daily quota of new needs used; see Retry-After / "
                                                      "企业：今日新需求数已用完"}}  # fmt: skip


@router.post("", status_code=201, responses={409: {"model": ErrorResponse, "description": "The id exists / id 已存在"},
                                             **QUOTA})  # fmt: skip
def create_need(body: NeedBody, principal: NeedWriter, writer: WriterDep, settings: SettingsDep) -> Need:
    """Post a need (recruiter, admin, or an enterprise for itself, within its daily quota of new needs: 429 past
    it). 发布需求。"""
    need = owned(principal, body)
    writer.create(need, guard=lambda _: enterprise_quota(writer.store, settings, principal, Quota.needs))
    audit_write(writer.store, principal, "create", need)
    return need


@router.get("/{need_id}", responses=NOT_FOUND)
def read_need(need_id: IdPath, principal: AnyRole, store: StoreDep) -> Need:
    """A need (an enterprise: its own only). 读取需求。"""
    return visible_need(store, principal, need_id)


@router.put("/{need_id}", responses={201: {"model": Need, "description": "Created / 已新建"}, **NOT_FOUND, **QUOTA})
def replace_need(
    need_id: IdPath, body: NeedBody, principal: NeedWriter, writer: WriterDep, settings: SettingsDep, response: Response
) -> Need:
    """Replace a need with the body, or create it when the id is new (upsert: 200 replaced, 201 created; an
    enterprise creating one uses its daily quota of new needs); send the whole record. Closing a post: set `status`
    to `filled` or `closed`. 整体替换需求（不存在则新建）。"""
    check_path_id(body, need_id)
    if principal.role is Role.enterprise and writer.store.get("need", need_id) is not None:
        visible_need(writer.store, principal, need_id)  # another's need: 404 before any check of the body
    need = owned(principal, body)

    def guard(old: Record | None) -> AbstractContextManager[None]:
        # again under the write lock: the owner checked is the owner replaced (another write may have moved it)
        if old is not None:
            if principal.role is Role.enterprise and old.enterprise_id != principal.enterprise_id:  # type: ignore[attr-defined]
                raise not_found("need", need_id)
            return nullcontext()
        return enterprise_quota(writer.store, settings, principal, Quota.needs)

    response.status_code = 201 if writer.put(need, guard=guard) else 200
    audit_write(writer.store, principal, "replace", need)
    return need


@router.get("")
def list_needs(
    principal: AnyRole,
    store: StoreDep,
    page: Annotated[Paging, Depends(paging)],
    enterprise: Annotated[RecordId | None, Query(description="Posted by this enterprise / 发布企业")] = None,
    kind: Annotated[NeedKind | None, Query(description="Post kind / 岗位类型")] = None,
    status: Annotated[NeedStatus | None, Query(description="open, paused, filled, closed / 状态")] = None,
) -> Page[Need]:
    """Needs matching every filter, in id order (an enterprise: its own only). 分页列出需求。"""
    t = table("need")
    where = [c == v for c, v in ((t.c.enterprise_id, enterprise), (t.c.kind, kind), (t.c.status, status)) if v]
    if principal.role is Role.enterprise:
        where.append(t.c.enterprise_id == principal.enterprise_id)
    items, total = list_page(store, "need", where, page)
    return Page[Need](items=items, total=total, limit=page.limit, offset=page.offset)  # type: ignore[arg-type]


@router.post("/import", openapi_extra=IMPORT_BODY)
async def import_needs(request: Request, principal: Office, writer: WriterDep) -> ImportResult:
    """Bulk import needs from JSONL (or CSV), all or nothing (recruiter, admin). 批量导入需求。"""
    return await import_upload(request, "need", writer, principal)
