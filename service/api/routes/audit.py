"""The audit log (admin only): who read or changed which record, when."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from service import audit
from service.api.crud import Paging, paging
from service.api.deps import Admin, StoreDep
from service.api.errors import ERROR_RESPONSES
from service.api.limits import KEY_ID_MAX, OBJECT_KIND_MAX, IdQuery
from service.api.schemas import AuditEntry, Page

router = APIRouter(prefix="/audit", tags=["audit / 审计"], responses=ERROR_RESPONSES)


@router.get("")
def list_audit(
    principal: Admin,
    store: StoreDep,
    page: Annotated[Paging, Depends(paging)],
    object_kind: Annotated[
        str | None, Query(max_length=OBJECT_KIND_MAX, pattern=r"^[a-z_]+$", description="talent, need, … / 对象类型")
    ] = None,
    object_id: Annotated[IdQuery | None, Query(description="The record's id / 对象 id")] = None,
    key_id: Annotated[int | None, Query(ge=1, le=KEY_ID_MAX, description="The acting key / 操作密钥")] = None,
) -> Page[AuditEntry]:
    """Audit entries, newest first. 审计记录（最新在前）。"""
    rows, total = audit.entries(
        store, object_kind=object_kind, object_id=object_id, key_id=key_id, limit=page.limit, offset=page.offset
    )
    items = [AuditEntry.model_validate(r, from_attributes=True) for r in rows]
    return Page[AuditEntry](items=items, total=total, limit=page.limit, offset=page.offset)
