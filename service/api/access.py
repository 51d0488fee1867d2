"""Tenancy: which needs a key may see. Its own module so the routes and the console's service functions
(``service.pipeline``, ``service.api.feedback``) share one rule without importing the routes."""

from __future__ import annotations

from features.records import Need
from service.api.crud import fetch
from service.api.errors import not_found
from service.keys import Principal, Role
from service.store import Store


def visible_need(store: Store, principal: Principal, need_id: str) -> Need:
    """The need if this principal may see it; 404 otherwise (an enterprise never learns of others' needs)."""
    need = fetch(store, "need", need_id)
    if principal.role is Role.enterprise and need.enterprise_id != principal.enterprise_id:  # type: ignore[attr-defined]
        raise not_found("need", need_id)
    return need  # type: ignore[return-value]
