"""Compare two to four candidates of one need side by side: score, tier, residence, availability, languages (the
office only: a card never shows them), top reasons and, for the office, the feature contributions of the decision
receipt. Each candidate is served as a one-row page of the need's ranking (``service.api.rankings.ranking_page``),
so what is shown is receipted, audited and masked exactly as on the need's page; an enterprise spends one ranking of
its daily quota per comparison, as for one page, and ranks only its own open needs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from features.records import RecordId
from service import receipts
from service.api.access import visible_need
from service.api.deps import take_quota
from service.api.errors import ApiError
from service.api.rankings import check_enterprise_ranking, interleaving, params_of, ranking_page
from service.console.render import render
from service.console.session import RANKERS, ConsoleError, Page, SignedIn
from service.console.talents import chart
from service.keys import Role
from service.quotas import Quota

router = APIRouter()

FEWEST, MOST = 2, 4
"""How many candidates a comparison holds: fewer says nothing side by side, more does not fit a screen."""
CONTRIBUTIONS = 5
"""Feature contributions listed per candidate: the largest by size."""


def compare_data(page: Page, need_id: str, talent_ids: list[str], personalized: bool) -> dict[str, Any]:
    """The need and one column per chosen candidate; 422 for fewer than two or more than four, 404 for a need the
    principal may not see or a talent that is not (or no longer) among its ranked candidates."""
    chosen = list(dict.fromkeys(talent_ids))
    if not FEWEST <= len(chosen) <= MOST:
        raise ConsoleError(422, page.t("compare.count", n=len(chosen)), field="talent")
    state, principal = page.request.app.state, page.principal
    need = visible_need(state.store, principal, need_id)  # type: ignore[arg-type]
    office = principal.role is not Role.enterprise  # type: ignore[union-attr]
    if not office:
        check_enterprise_ranking(need, {})
    idx = state.indices
    if idx is None:
        raise ConsoleError(503, "the indices are not built yet; retry in a moment")
    scorer = state.models.scorer if personalized else None
    with state.index_lock.read():
        full = state.rank_cache.get_or_rank(idx, need, scorer, None, *interleaving(state, principal, need, scorer,
                                                                                  "candidates"))  # fmt: skip
    at = {talent_id: i for i, talent_id in enumerate(full.ids)}
    for talent_id in chosen:
        if talent_id not in at or talent_id not in idx.talents:
            raise ApiError(404, f"talent {talent_id!r} is not a ranked candidate of need {need.id!r} (unknown, erased "
                           "or removed by a rule); pick candidates on the need's page", field="talent")  # fmt: skip
    take_quota(state.store, state.settings, principal, Quota.rankings)  # type: ignore[arg-type]
    columns, body = [], {}
    for talent_id in chosen:
        body = ranking_page(state, principal, need, route="candidates", filters=None, k=1, offset=at[talent_id],
                            personalized=personalized, params=params_of(None))  # type: ignore[arg-type]  # fmt: skip
        row = next((c for c in body["candidates"] if c["talent_id"] == talent_id), None)
        if row is None:  # re-ranked (a write, a new model) between the two reads
            raise ConsoleError(409, f"the ranking of need {need.id!r} changed while comparing; reload the page")
        contributions = None
        if office:  # as the receipt route: an enterprise reads no feature contributions
            receipt = receipts.get(state.store, body["ranking_id"])
            shown = [c for c in (receipt.candidates if receipt else []) if c["talent_id"] == talent_id]
            contributions = chart(shown[0]["contributions"])[:CONTRIBUTIONS] if shown else []
        talent = idx.talents.get(talent_id)
        languages = (talent.languages if talent else []) if office else None
        columns.append({"row": row, "ranking_id": body["ranking_id"], "languages": languages,
                        "contributions": contributions})  # fmt: skip
    return {"need": need, "columns": columns, "model_version": body.get("model_version"), "office": office,
            "personalized": bool(body.get("personalized"))}  # fmt: skip


@router.get("/needs/{need_id}/compare")
async def compare_page(
    need_id: RecordId,
    page: SignedIn,
    talent: Annotated[list[RecordId] | None, Query()] = None,
    personalized: Annotated[bool, Query()] = True,
) -> Response:
    page.require(RANKERS)
    data = await run_in_threadpool(compare_data, page, need_id, talent or [], personalized)
    page.mark("rank")
    return render(page, "compare.html", **data)
