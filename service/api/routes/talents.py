"""Talents: the office's records of people. Full profiles go to recruiters, the data team and admins only, and
every profile read is audited; enterprises see talent only as candidate cards through ranking."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request, Response

from features.records import CountryCode, LanguageCode, RecordId, Site, Talent, Tier
from service import audit
from service.api.crud import (
    IMPORT_BODY,
    Paging,
    audit_write,
    check_path_id,
    fetch,
    import_upload,
    json_array_has,
    json_bool,
    json_text,
    list_page,
    paging,
)
from service.api.deps import Office, ProfileReader, StoreDep, WriterDep
from service.api.errors import ERROR_RESPONSES
from service.api.limits import IdPath
from service.api.schemas import RECORD_EXAMPLES, ErrorResponse, Page, PeopleLinked, TalentImportResult
from service.db import table
from service.store import ImportReport

log = logging.getLogger(__name__)
router = APIRouter(prefix="/talents", tags=["talents / 人才"], responses=ERROR_RESPONSES)

TalentBody = Annotated[Talent, Body(openapi_examples=RECORD_EXAMPLES["talent"])]
NOT_FOUND = {404: {"model": ErrorResponse, "description": "No such talent / 无此人才"}}


@router.post("", status_code=201, responses={409: {"model": ErrorResponse, "description": "The id exists / id 已存在"}})
def create_talent(body: TalentBody, principal: Office, writer: WriterDep) -> Talent:
    """Create a talent (recruiter, admin); it is rankable from the next request. 新建人才档案。"""
    writer.create(body)
    audit_write(writer.store, principal, "create", body)
    return body


@router.get("/{talent_id}", responses=NOT_FOUND)
def read_talent(talent_id: IdPath, principal: ProfileReader, store: StoreDep) -> Talent:
    """A full talent profile (recruiter, data team, admin); the read is written to the audit log.
    读取完整档案（记入审计）。"""
    talent = fetch(store, "talent", talent_id)
    audit.record(store, principal, "read", "talent", [talent_id])
    return talent  # type: ignore[return-value]


@router.put("/{talent_id}", responses={201: {"model": Talent, "description": "Created / 已新建"}})
def replace_talent(
    talent_id: IdPath, body: TalentBody, principal: Office, writer: WriterDep, response: Response
) -> Talent:
    """Replace a talent with the body, or create it when the id is new (upsert: 200 replaced, 201 created).
    Fields left out take their defaults: send the whole record. 整体替换（不存在则新建）。"""
    check_path_id(body, talent_id)
    response.status_code = 201 if writer.put(body) else 200
    audit_write(writer.store, principal, "replace", body)
    return body


@router.get("")
def list_talents(
    principal: ProfileReader,
    store: StoreDep,
    page: Annotated[Paging, Depends(paging)],
    tier: Annotated[Tier | None, Query(description="Exact tier A–E / 人才层级")] = None,
    nationality: Annotated[CountryCode | None, Query(description="ISO country code, e.g. CN / 国籍")] = None,
    residence: Annotated[
        str | None,
        Query(
            pattern=r"^([A-Za-z]{2}|yrd)$",
            description="Country of residence (e.g. DE), or `yrd` for the Yangtze "
            "River Delta / 常住地国家，或 yrd 表示长三角",
        ),
    ] = None,
    site: Annotated[Site | None, Query(description="Accepts this work site / 可接受的工作地点")] = None,
    language: Annotated[LanguageCode | None, Query(description="Speaks this language, e.g. en / 语言")] = None,
    incubator: Annotated[RecordId | None, Query(description="Came through this incubator / 所属孵化器")] = None,
) -> Page[Talent]:
    """Talents matching every filter, in id order; each profile returned is audited. 按条件分页列出人才。"""
    t = table("talent")
    where = []
    if tier:
        where.append(t.c.tier == tier.value)
    if nationality:
        where.append(t.c.nationality == nationality)
    if incubator:
        where.append(t.c.incubator_id == incubator)
    if residence == "yrd":
        where.append(json_bool(t.c.data, "residence", "in_yrd").is_(True))
    elif residence:
        where.append(json_text(t.c.data, "residence", "country") == residence.upper())
    if site:
        where.append(json_array_has(store, t.c.data, "sites", site.value))
    if language:
        where.append(json_array_has(store, t.c.data, "languages", language))
    items, total = list_page(store, "talent", where, page)
    audit.record(store, principal, "list", "talent", [r.id for r in items])
    return Page[Talent](items=items, total=total, limit=page.limit, offset=page.offset)  # type: ignore[arg-type]


@router.post("/import", openapi_extra=IMPORT_BODY)
async def import_talents(
    request: Request,
    principal: Office,
    writer: WriterDep,
    link: Annotated[
        bool,
        Query(
            description="Link the new talents into the existing people after the import, with "
            "the saved linkage model / 导入后关联到已有人员"
        ),
    ] = True,
) -> TalentImportResult:
    """Bulk import talents from JSONL (or CSV), all or nothing, like `talentmatch db import`; then, as it does, the
    talents in no person yet are linked into the existing people with the model of the last full link (`people`;
    a failure there leaves the import written and the people as they were). 批量导入（全部或全不），并关联人员。"""
    linked: list[PeopleLinked | None] = []

    def link_first(report: ImportReport) -> None:
        """Before the import's alerts: a copy of someone already alerted joins their person, and is not alerted as
        someone new."""
        if report.inserted.get("talent", 0) + report.updated.get("talent", 0):
            linked.append(link_imported(request.app.state))

    result = await import_upload(request, "talent", writer, principal, then=link_first if link else None)
    return TalentImportResult(**result.model_dump(), people=linked[0] if linked else None)


def link_imported(state: Any) -> PeopleLinked | None:
    """``service.people.link_new`` after an import; the ranking cache is emptied when persons changed (rankings read
    each candidate's person). A failure is logged and reported as not linked: the import stands."""
    from service import people

    try:
        report = people.link_new(state.store)
    except Exception as e:  # the import is committed: it stands, the people stay as they were
        log.exception("linking the imported talents failed")
        return PeopleLinked(linked=False, new_records=0, joined=0, new_persons=0, review_pairs=0, existing_records=0,
                            compared=0, load_seconds=0, score_seconds=0, seconds=0,
                            reason=f"linking failed ({type(e).__name__}); nothing of it was written: run "
                                   "`talentmatch people link --new`")  # fmt: skip
    if report.new_records:
        state.rank_cache.clear()
    return PeopleLinked(**report.to_dict())
