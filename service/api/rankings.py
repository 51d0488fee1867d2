"""Serving one ranking page: the model to use, the cached ranking, candidate cards and reasons by role, the decision
receipt, the audit row and the ranking counters. The routes in ``routes/ranking.py`` only parse; the console
(``service.console``) renders the same page data."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from features.records import Need, NeedStatus, Talent
from features.schema import SCHEMA
from matcher.interleaving import interleave_seed
from matcher.retrieve import Filters
from service import audit, db, disclosure, receipts
from service.api.access import ranked_need
from service.api.cards import reveals_identity, talent_card
from service.api.deps import take_quota
from service.api.errors import ApiError
from service.api.ranking_schemas import SearchIn
from service.disclosure import enterprise_reasons
from service.group_commit import Part
from service.keys import Principal, Role
from service.quotas import Quota
from service.ranking import PageRow, search_need


def filters_of(
    tier: list | None,
    nationality: list[str] | None,
    residence: list[str] | None,
    site: Any,
    language: list[str] | None,
    incubator: list[str] | None,
) -> Filters | None:
    """The recruiter's filters (``None`` when there are none, so unfiltered rankings share cache entries)."""
    if not any((tier, nationality, residence, site, language, incubator)):
        return None

    def fs(values: list | None) -> frozenset[str] | None:
        return frozenset(str(v) for v in values) if values else None

    return Filters(
        tiers=fs(tier),
        nationalities=fs(nationality),
        residence_countries=fs(residence),
        site=site,
        languages=fs(language),
        incubators=fs(incubator),
    )


FILTER_PARAMS = {"tier": "tiers", "nationality": "nationalities", "residence": "residence_countries",
                 "language": "languages", "incubator": "incubators", "site": "site"}  # fmt: skip
"""Query parameter → its ``Filters`` field, which is also its key in a receipt's ``params``."""


def params_of(filters: Filters | None, **extra: Any) -> dict[str, Any]:
    """The request as the receipt keeps it (JSON)."""
    out: dict[str, Any] = dict(extra)
    if filters is not None:
        for name in FILTER_PARAMS.values():
            if (v := getattr(filters, name)) is not None:
                out[name] = v.value if name == "site" else sorted(v)
    return out


def need_candidates(
    state: Any, principal: Principal, need_id: str, *, k: int, offset: int, personalized: bool, **given: Any
) -> dict[str, Any]:
    """A need's ranked candidates page for ``principal`` (``GET /needs/{id}/candidates`` and the console's need
    page): the need if visible (404 otherwise), an enterprise's limits (its own open needs, filters on what a card
    shows, its daily quota), then ``ranking_page``. ``given``: the query filters (tier, nationality, residence,
    site, language, incubator). The need is the indices' (``ranked_need``). Blocking (the receipt's write): call it
    from the thread pool."""
    need = ranked_need(state.indices, principal, need_id)
    filters = filters_of(**{name: given.get(name) for name in FILTER_PARAMS})
    if principal.role is Role.enterprise:
        check_enterprise_ranking(need, {name: given.get(name) for name in FILTER_PARAMS})
        take_quota(state.store, state.settings, principal, Quota.rankings)
    return ranking_page(state, principal, need, route="candidates", filters=filters, k=k, offset=offset,
                        personalized=personalized, params=params_of(filters))  # fmt: skip


def search_page(state: Any, principal: Principal, body: SearchIn) -> dict[str, Any]:
    """Talents for free text (``POST /search`` and the console's search page): always the non-personalised
    ranking, with the hard rules of a post of ``body.kind``."""
    need = search_need(body.query, body.kind, body.site)
    filters = filters_of(body.tier, body.nationality, body.residence, body.site, body.language, body.incubator)
    params = params_of(filters, query=body.query, kind=body.kind.value)
    return ranking_page(state, principal, need, route="search", filters=filters, k=body.k, offset=body.offset,
                        personalized=False, params=params)  # fmt: skip


def check_enterprise_ranking(need: Need, filters: dict[str, object]) -> None:
    """An enterprise ranks only its open needs (its own: ``ranked_need``), with filters on what a card shows."""
    if need.status is not NeedStatus.open:
        raise ApiError(409, f"need {need.id!r} is {need.status.value}; an enterprise ranks only its open needs "
                       "(set status to open to rank it again)", field="status")  # fmt: skip
    if hidden := disclosure.hidden_filters(filters):
        allowed = ", ".join(disclosure.CARD_FILTERS)
        raise ApiError(422, f"query parameter {hidden[0]}: an enterprise may not filter on what a candidate card "
                       f"does not show; filter on {allowed} only", field=hidden[0])  # fmt: skip


def interleaving(state: Any, principal: Principal, need: Need, scorer: Any, route: str) -> tuple[Any, int]:
    """(challenger, coin-flip seed) when this ranking interleaves the champion's list with the challenger's
    (``matcher.interleaving``), else (None, 0): a personalised ranking of a stored need for an office role, on the
    share of needs ``TALENTMATCH_INTERLEAVE_SHARE`` picks by hash, with coin flips of the key's own. An enterprise
    is always served the champion's list: it sees scores, and an interleaved list's order against them would tell it
    which model placed whom."""
    challenger = state.models.challenger
    if scorer is None or challenger is None or route != "candidates" or principal.role is Role.enterprise:
        return None, 0
    seed = interleave_seed(need.id, scorer.version, challenger.version, state.settings.interleave_share,
                           str(principal.key_id))  # fmt: skip
    return (None, 0) if seed is None else (challenger, seed)


def ranking_page(
    state: Any,
    principal: Principal,
    need: Need,
    *,
    route: str,
    filters: Filters | None,
    k: int,
    offset: int,
    personalized: bool,
    params: dict[str, Any],
) -> dict[str, Any]:
    """Rank (or take the cached ranking), build the page, write its receipt and audit the cards shown; returns the
    page as the API sends it, a ``RankingOut`` as JSON-ready data built straight from the memoised page (no
    per-request model validation: this is the hot route, and its shape is pinned by the route's ``response_model``
    and the tests), which the console renders too."""
    slot = state.models
    scorer = slot.scorer if personalized else None  # one read: a reload mid-request does not mix two models
    challenger, seed = interleaving(state, principal, need, scorer, route)
    idx = state.indices
    cache = state.rank_cache
    full = cache.cached(idx, need, scorer, filters, challenger, seed)
    rows = full.pages.get((offset, k)) if full is not None else None
    if rows is None:  # ranking reads the indices: shared with other readers, never amid a write
        with state.index_lock.read():
            full = cache.get_or_rank(idx, need, scorer, filters, challenger, seed)
            rows = cache.page(full, idx, k, offset)
    stored_need = None if route == "search" else need.id
    reveal = reveals_identity(principal)
    tenant = principal.role is Role.enterprise
    params = params | {"k": k, "offset": offset, "personalized": personalized}
    # The receipt and the page's audit row commit together, under the lock an erasure holds alone: an
    # erasure cannot slip between the check that each talent still exists and the receipt naming them.
    with state.receipt_lock.read():
        rows = [r for r in rows if r.talent_id in idx.talents]
        cards = [_card(r, idx.talents, reveal) for r in rows]  # a record read before an erasure may take it
        # The same cached page served again to the same key for the same request reuses its receipt: the decision
        # is the same one, so only the audit row (who saw which cards, when) is new.
        reuse = (rows[0].page_id if rows else (offset, k), principal.key_id, route, stored_need,
                 orjson.dumps(params, option=orjson.OPT_SORT_KEYS))  # fmt: skip
        ranking_id = full.receipts.get(reuse)
        parts: list[Part] = []
        stored: set[str] = set()
        if ranking_id is None:
            ranking_id = db.new_id()
            parts, stored = receipts.rows(ranking_id, dialect=state.store.engine.dialect.name, route=route,
                                          need_id=stored_need, principal=principal, full=full, shown=rows,
                                          params=params)  # fmt: skip
        parts.append(audit.page_rows(principal, ranking_id, {"need_id": stored_need, "revealed": reveal}))
        state.store.group_commit.write(parts)  # with other requests' rows, in one transaction
        full.stored_pages |= stored  # committed
        full.receipts[reuse] = ranking_id
    state.metrics.ranked(route, full.personalized, full.removed)
    note = None
    if personalized and not full.personalized:
        note = slot.status.note or "no model is serving: rankings are non-personalised"
    body = {
        "ranking_id": ranking_id,
        "need_id": stored_need,
        "model_version": full.model_version,
        "personalized": full.personalized,
        "note": note,
        "schema_version": SCHEMA.version,
        "k": k,
        "offset": offset,
        "ranked": len(full.ids),
        "removed": full.removed,
        "filtered": full.filtered,
        "candidates": [
            {
                "position": r.position,
                "talent_id": r.talent_id,
                "score": r.score,
                "reasons": enterprise_reasons(r.reason_dicts) if tenant else r.reason_dicts,
                "human_review": r.human_review,
                "person_id": None if tenant else full.persons.get(r.talent_id),
                "card": card,
            }
            for r, card in zip(rows, cards, strict=True)
        ],
    }
    return body


def _card(row: PageRow, talents: Mapping[str, Talent], reveal: bool) -> dict:
    """The row's card, memoised in it: its talent's record is read only to make it (a loaded snapshot's records are
    unpickled when read; 20 reads were ~0.06 ms of a page)."""
    card = row.cards.get(reveal)
    if card is None:
        card = row.cards[reveal] = talent_card(talents[row.talent_id], reveal=reveal).model_dump(mode="json")
    return card
