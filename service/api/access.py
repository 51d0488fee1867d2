"""Tenancy: which needs a key may see. Its own module so the routes and the console's service functions
(``service.pipeline``, ``service.api.feedback``) share one rule without importing the routes."""

from __future__ import annotations

from features.indices import Indices
from features.records import Need
from service.api.crud import fetch
from service.api.errors import not_found
from service.keys import Principal, Role
from service.store import Store


def visible_need(store: Store, principal: Principal, need_id: str) -> Need:
    """The need if this principal may see it; 404 otherwise (an enterprise never learns of others' needs)."""
    return _visible(fetch(store, "need", need_id), principal, need_id)  # type: ignore[arg-type]


def ranked_need(indices: Indices, principal: Principal, need_id: str) -> Need:
    """``visible_need`` as the indices hold it, the version every ranking ranks against: a ranking reads no record
    from the store. This process's writes reach the indices before they answer; another process's, within
    ``TALENTMATCH_SYNC_SECONDS`` (``service.sync``), as their talents do."""
    need = indices.needs.get(need_id)
    if need is None:
        raise not_found("need", need_id)
    return _visible(need, principal, need_id)


def _visible(need: Need, principal: Principal, need_id: str) -> Need:
    if principal.role is Role.enterprise and need.enterprise_id != principal.enterprise_id:
        raise not_found("need", need_id)
    return need
