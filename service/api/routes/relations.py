"""Relations (conflict of interest): ties between a talent and an enterprise or a named person. Personal data, as a
profile is: the office writes them, the office and the data team read them (each read audited), an enterprise key
none (403: not even its own enterprise's, which would tell it who declared family ties to its staff)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query, Request, Response

from features.records import RecordId, Relation, RelationKind
from service import audit
from service.api.crud import IMPORT_BODY, Paging, audit_write, check_path_id, fetch, import_upload, list_page, paging
from service.api.deps import Office, ProfileReader, StoreDep, WriterDep
from service.api.errors import ERROR_RESPONSES, not_found
from service.api.limits import IdPath
from service.api.schemas import RECORD_EXAMPLES, ErrorResponse, ImportResult, Page
from service.db import table

router = APIRouter(prefix="/relations", tags=["relations / 利益关联"], responses=ERROR_RESPONSES)

RelationBody = Annotated[Relation, Body(openapi_examples=RECORD_EXAMPLES["relation"])]
NOT_FOUND = {404: {"model": ErrorResponse, "description": "No such relation / 无此关联"}}


@router.post("", status_code=201, responses={409: {"model": ErrorResponse, "description": "The id exists / id 已存在"}})
def create_relation(body: RelationBody, principal: Office, writer: WriterDep) -> Relation:
    """Declare a relation (recruiter, admin); without an `id`, one is derived from its content. 新建利益关联。"""
    writer.create(body)
    audit_write(writer.store, principal, "create", body)
    return body


@router.get("/{relation_id}", responses=NOT_FOUND)
def read_relation(relation_id: IdPath, principal: ProfileReader, store: StoreDep) -> Relation:
    """A relation (recruiter, data team, admin); the read is audited. 读取利益关联（记入审计）。"""
    relation = fetch(store, "relation", relation_id)
    audit.record(store, principal, "read", "relation", [relation_id])
    return relation  # type: ignore[return-value]


@router.put("/{relation_id}", responses={201: {"model": Relation, "description": "Created / 已新建"}})
def replace_relation(
    relation_id: IdPath, body: RelationBody, principal: Office, writer: WriterDep, response: Response
) -> Relation:
    """Replace a relation with the body, or create it when the id is new (upsert: 200 replaced, 201 created); send
    the whole record. 整体替换利益关联（不存在则新建）。"""
    check_path_id(body, relation_id)
    response.status_code = 201 if writer.put(body) else 200
    audit_write(writer.store, principal, "replace", body)
    return body


@router.delete("/{relation_id}", status_code=204, responses=NOT_FOUND)
def delete_relation(relation_id: IdPath, principal: Office, writer: WriterDep) -> Response:
    """Withdraw a relation (recruiter, admin): the conflict rule stops counting it at once. 删除利益关联。"""
    if not writer.delete_relation(relation_id):
        raise not_found("relation", relation_id)
    audit.record(writer.store, principal, "delete", "relation", [relation_id])
    return Response(status_code=204)


@router.get("")
def list_relations(
    principal: ProfileReader,
    store: StoreDep,
    page: Annotated[Paging, Depends(paging)],
    talent_id: Annotated[RecordId | None, Query(description="Of this talent / 该人才的")] = None,
    enterprise_id: Annotated[RecordId | None, Query(description="With this enterprise / 与该企业的")] = None,
    kind: Annotated[RelationKind | None, Query(description="Of this kind / 关联类型")] = None,
) -> Page[Relation]:
    """Relations in id order (recruiter, data team, admin); the talents listed are audited. 分页列出利益关联。"""
    t = table("relation")
    where = [c == v for c, v in ((t.c.talent_id, talent_id), (t.c.enterprise_id, enterprise_id), (t.c.kind, kind))
             if v is not None]  # fmt: skip
    items, total = list_page(store, "relation", where, page)
    if items:
        audit.record(store, principal, "read", "relation", [r.id for r in items])
    return Page[Relation](items=items, total=total, limit=page.limit, offset=page.offset)  # type: ignore[arg-type]


@router.post("/import", openapi_extra=IMPORT_BODY)
async def import_relations(request: Request, principal: Office, writer: WriterDep) -> ImportResult:
    """Bulk import relations from JSONL (or CSV), all or nothing (recruiter, admin). 批量导入利益关联。"""
    return await import_upload(request, "relation", writer, principal)
