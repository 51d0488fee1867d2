"""Ranking routes: candidates for a need, free-text search, needs that fit a talent, feedback on ranked candidates and
the decision receipts behind every ranking.

Who may do what: recruiters and admins everywhere; an enterprise ranks only its own open needs (another's is a 404,
as if it did not exist; its own closed one a 409), within a daily quota (``service.quotas``), filters only on what a
card shows and reads reasons without what a card hides (``service.disclosure``), sees masked cards unless the talent
consented to sharing, posts feedback and reads receipts for its own needs only (without other keys' ids), and
neither searches the talent pool nor looks a talent up by id (``/search`` and ``/talents/{id}/needs`` are 403: a
tenant learns of talent only as candidates for its posts). The data team reads receipts (model audits), ranks
nothing.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated

import orjson
from fastapi import APIRouter, Body, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from features.records import CountryCode, FeedbackEvent, LanguageCode, RecordId, Site, Tier
from matcher.pipeline import CANDIDATES
from matcher.retrieve import retrieve_needs
from service import audit, disclosure, keys, receipts
from service.api.access import visible_need
from service.api.deps import AnyRole, IndicesDep, Office, Ranker, StoreDep, WriterDep
from service.api.errors import ERROR_RESPONSES, ApiError, not_found
from service.api.feedback import record_feedback
from service.api.limits import IdPath, RankingIdPath
from service.api.query_model import QueryModelRoute
from service.api.ranking_schemas import (
    FeedbackIn,
    NeedMatch,
    NeedMatches,
    RankingOut,
    ReceiptCandidate,
    ReceiptOut,
    SearchIn,
)
from service.api.rankings import FILTER_PARAMS, need_candidates, search_page
from service.api.schemas import ErrorResponse
from service.keys import Principal, Role
from service.ranking import MAX_K

router = APIRouter(responses=ERROR_RESPONSES, route_class=QueryModelRoute)

NOT_FOUND = {404: {"model": ErrorResponse, "description": "No such need, talent or ranking (or not yours) / 不存在"}}

SEARCH_EXAMPLES = {
    "zh": {"summary": "中文检索", "value": {"query": "钙钛矿 薄膜太阳能电池 研发", "k": 10}},
    "en": {
        "summary": "English search",
        "value": {"query": "RISC-V SoC design lead", "kind": "enclave", "tier": ["B", "C"], "language": ["en"]},
    },
}
FEEDBACK_EXAMPLES = {
    "zh": {
        "summary": "入围",
        "value": {"need_id": "n-2001", "talent_id": "t-1001", "action": "shortlist",
                  "ranking_id": "0c9e6f1d2a3b4c5d6e7f8091a2b3c4d5"},
    },
    "en": {
        "summary": "Reject",
        "value": {"need_id": "n-2002", "talent_id": "t-1002", "action": "reject",
                  "ranking_id": "51ab6f1d2a3b4c5d6e7f8091a2b3c4d5", "position": 3},
    },
}  # fmt: skip

KQuery = Annotated[int, Query(ge=1, le=MAX_K, description=f"Candidates per page (1–{MAX_K}) / 每页人数")]
OffsetQuery = Annotated[
    int, Query(ge=0, le=CANDIDATES, description=f"Candidates to skip; {CANDIDATES} are re-ranked / 跳过人数")
]
TierQuery = Annotated[list[Tier] | None, Query(description="Tiers A–E, repeatable: `tier=A&tier=B` / 人才层级")]
NationalityQuery = Annotated[
    list[CountryCode] | None, Query(description="ISO country codes, repeatable, e.g. CN / 国籍")
]
ResidenceQuery = Annotated[
    list[CountryCode] | None, Query(description="Countries of residence, repeatable, e.g. DE / 常住地国家")
]
SiteQuery = Annotated[Site | None, Query(description="Accepts this work site / 可接受的工作地点")]
LanguageQuery = Annotated[
    list[LanguageCode] | None,
    Query(
        description="Speaks all of these languages, repeatable / 语言（须全部掌握）",
        openapi_examples={"zh": {"summary": "中文", "value": ["zh"]}, "en": {"summary": "English", "value": ["en"]}},
    ),
]
IncubatorQuery = Annotated[list[RecordId] | None, Query(description="Came through these incubators / 所属孵化器")]
PersonalizedQuery = Annotated[
    bool,
    Query(
        description="false: the non-personalised ranking (hard rules and text relevance, no learned model), "
        "always available / false 表示非个性化排序（仅规则与文本相关度）"
    ),
]


ENTERPRISE_LIMITS = {
    409: {"model": ErrorResponse, "description": "Enterprise: the need is not open / 企业：需求未开放"},
    429: {"model": ErrorResponse,
          "description": "Enterprise: daily ranking quota used; see Retry-After / 企业：今日排序次数已用完"},
}  # fmt: skip


@router.get("/needs/{need_id}/candidates", tags=["ranking / 排序"], responses=NOT_FOUND | ENTERPRISE_LIMITS,
            response_model=RankingOut)  # fmt: skip
async def candidates(
    need_id: IdPath,
    request: Request,
    principal: Ranker,
    _: IndicesDep,
    k: KQuery = 20,
    offset: OffsetQuery = 0,
    tier: TierQuery = None,
    nationality: NationalityQuery = None,
    residence: ResidenceQuery = None,
    site: SiteQuery = None,
    language: LanguageQuery = None,
    incubator: IncubatorQuery = None,
    personalized: PersonalizedQuery = True,
) -> Response:
    """Ranked candidates for a need, each with score, reasons and a card (recruiters: full; enterprises: masked
    unless the talent consented to sharing), the rules' removal counts and the `ranking_id` of the decision
    receipt. Only talents who consented to matching are ever ranked. An enterprise ranks its own open needs only
    (409 otherwise), filters only on what a card shows (`tier`, `residence`), within a daily quota of requests (429
    past it), and its reasons say nothing a card hides (no salary figures, incubator name, work permit, stated
    languages or sites). 为岗位排序候选人（附理由与决策记录编号）。"""
    given = {"tier": tier, "nationality": nationality, "residence": residence, "site": site, "language": language,
             "incubator": incubator}  # fmt: skip
    body = await run_in_threadpool(partial(need_candidates, request.app.state, principal, need_id, k=k, offset=offset,
                                           personalized=personalized, **given))  # fmt: skip
    return Response(orjson.dumps(body), media_type="application/json")


@router.post("/search", tags=["ranking / 排序"], response_model=RankingOut)
def search(
    body: Annotated[SearchIn, Body(openapi_examples=SEARCH_EXAMPLES)],
    request: Request,
    principal: Office,
    _: IndicesDep,
) -> Response:
    """Talents for free text in Chinese or English, with the same filters as candidates. Always the
    non-personalised ranking (text relevance): the learned model scores posts with a history and a place in the
    talent graph, and a typed query has neither, so its scores would be out of what the model was trained on.
    The hard rules of a post of `kind` apply. 自由文本检索人才（非个性化文本相关度排序）。"""
    return Response(orjson.dumps(search_page(request.app.state, principal, body)), media_type="application/json")


@router.get("/talents/{talent_id}/needs", tags=["ranking / 排序"], responses=NOT_FOUND)
def needs_for_talent(
    talent_id: IdPath,
    request: Request,
    principal: Office,
    store: StoreDep,
    indices: IndicesDep,
    k: KQuery = 20,
) -> NeedMatches:
    """Open needs that fit a talent, best first (text and vector search over open needs, then each need's hard
    rules for this talent). Recruiters and admins. 与人才匹配的开放岗位（双向匹配）。"""
    with request.app.state.index_lock.read():
        talent = indices.talents.get(talent_id)
        if talent is None:
            raise not_found("talent", talent_id)
        found = retrieve_needs(indices, talent, k=k)
        needs = {n: indices.needs[n] for n, _ in found}
    audit.record(store, principal, "match", "talent", [talent_id], {"needs": len(found)})
    return NeedMatches(
        talent_id=talent_id,
        needs=[NeedMatch(need_id=n, score=round(s, 6), need=needs[n]) for n, s in found],
    )


@router.post("/feedback", status_code=201, tags=["feedback / 反馈"], responses=NOT_FOUND)
async def feedback(
    body: Annotated[FeedbackIn, Body(openapi_examples=FEEDBACK_EXAMPLES)],
    principal: Ranker,
    writer: WriterDep,
) -> FeedbackEvent:
    """Record a recruiter's (or an enterprise's, on its own needs) action on a ranked candidate, for retraining.
    The `ranking_id` must be a ranking of that need in which the talent was shown. 记录对候选人的操作（用于再训练）。"""
    return await run_in_threadpool(record_feedback, writer, principal, body)


@router.get("/rankings/{ranking_id}", tags=["ranking / 排序"], responses=NOT_FOUND)
def read_receipt(ranking_id: RankingIdPath, principal: AnyRole, store: StoreDep) -> ReceiptOut:
    """The decision receipt of a ranking: request, model and feature-schema versions, the rules' removals, and
    each candidate's score, reasons, named feature row and contributions (erased talents redacted). Office roles
    read any; an enterprise only its own needs' rankings, without feature rows, reasons saying what a card hides
    or the id of a key not its enterprise's (a recruiter's), and never an interleaved ranking's (office roles see
    which model drafted each candidate, `team`, and `challenger_version`). 排序决策记录（可解释性）。"""
    receipt = receipts.get(store, ranking_id)
    if receipt is None:
        raise not_found("ranking", ranking_id)
    enterprise = principal.role is Role.enterprise
    if enterprise:
        _check_enterprise_receipt(store, principal, receipt)
    cands = [ReceiptCandidate(**(_for_enterprise(c) if enterprise else c)) for c in receipt.candidates]
    key_id = receipt.key_id
    if enterprise and key_id is not None and key_id != principal.key_id:
        key_id = key_id if keys.enterprise_of(store, key_id) == principal.enterprise_id else None
    return ReceiptOut(
        ranking_id=receipt.id,
        route=receipt.route,
        need_id=receipt.need_id,
        created_at=receipt.created_at,
        key_id=key_id,
        model_version=receipt.model_version,
        personalized=receipt.personalized,
        schema_version=receipt.schema_version,
        params=receipt.params,
        # the relations behind conflicts are personal data no enterprise reads (see /relations)
        summary={k: v for k, v in receipt.summary.items() if k != "conflicts"} if enterprise else receipt.summary,
        candidates=cands,
        challenger_version=receipt.challenger_version,
    )


def _for_enterprise(candidate: dict) -> dict:
    """A receipt's candidate as an enterprise reads it: no feature row or contributions, no reason saying what a
    card hides."""
    out = candidate | {"features": None, "contributions": None, "person_id": None}
    if "reasons" in out:
        out["reasons"] = disclosure.enterprise_reasons(out["reasons"])
    return out


def _check_enterprise_receipt(store, principal: Principal, receipt: receipts.Receipt) -> None:
    """An enterprise reads receipts of its own needs' rankings, except those filtered on what a card hides (who
    a recruiter's `nationality=DE` left would tell it each one's nationality): those are a 404 like another's."""
    used = {query: receipt.params.get(name) for query, name in FILTER_PARAMS.items()}
    # An interleaved ranking (office roles only) is one an enterprise is never served: its order and scores would
    # tell which model placed whom.
    if receipt.need_id is None or disclosure.hidden_filters(used) or receipt.challenger_version is not None:
        raise not_found("ranking", receipt.id)
    try:
        visible_need(store, principal, receipt.need_id)
    except ApiError:
        raise not_found("ranking", receipt.id) from None
