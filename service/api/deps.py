"""Request dependencies as ``Annotated`` aliases: the app's store, indices, writer and settings, the calling
principal (from ``Authorization: Bearer <key>``) and role guards.

Dependencies that do no I/O are ``async def``: FastAPI runs a plain ``def`` dependency in the thread pool, a hop
that costs more than the dependency itself on the hot ranking route. ``get_principal`` reads the database only for
a key it has not seen live lately, in the thread pool."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from features.indices import Indices
from service.api.errors import ApiError, forbidden, unauthorized
from service.api.live import Writer
from service.api.metrics import Metrics
from service.keys import Principal, Role, authenticate
from service.quotas import Quota, QuotaExceeded, give_back, take
from service.settings import Settings
from service.store import Store

_bearer = HTTPBearer(auto_error=False, description="An API key from `talentmatch keys create` or `POST /keys`.")


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_store(request: Request) -> Store:
    return request.app.state.store


async def get_indices(request: Request) -> Indices:
    indices = request.app.state.indices
    if indices is None:
        raise ApiError(503, "the indices are not built yet; retry when /readyz says ready")
    return indices


async def get_writer(request: Request) -> Writer:
    """Writes go through here: store and indices change together, one write at a time."""
    await get_indices(request)  # 503 before the indices are loaded
    return Writer(request.app.state)


async def get_metrics(request: Request) -> Metrics:
    return request.app.state.metrics


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[Store, Depends(get_store)]
IndicesDep = Annotated[Indices, Depends(get_indices)]
WriterDep = Annotated[Writer, Depends(get_writer)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]


Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def get_principal(request: Request, credentials: Credentials) -> Principal:
    """The key's principal; 401 when the header is missing, not Bearer, or the key is unknown or revoked. A key seen
    live in the last ``key_cache_seconds`` costs no database read (nor a thread-pool hop)."""
    if credentials is None:
        raise unauthorized("missing API key; send `Authorization: Bearer <key>`")
    cache = request.app.state.principals
    principal = cache.get(credentials.credentials)
    if principal is None:
        principal = await run_in_threadpool(authenticate, request.app.state.store, credentials.credentials)
        if principal is None:
            raise unauthorized("unknown or revoked API key; ask an admin for a new one")
        cache.put(credentials.credentials, principal)
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require_roles(*roles: Role):
    """A dependency admitting only ``roles`` (403 for the others), returning the principal. It finds the principal
    itself rather than through ``PrincipalDep``: each dependency level costs FastAPI's resolution on every request
    (the hot ranking route's among them)."""
    allowed = frozenset(roles)
    names = ", ".join(sorted(r.value for r in allowed))

    async def guard(request: Request, credentials: Credentials) -> Principal:
        principal = await get_principal(request, credentials)
        if principal.role not in allowed:
            raise forbidden(f"a key with role {principal.role.value} may not do this; it needs one of: {names}")
        return principal

    return Depends(guard)


AnyRole = PrincipalDep
"""Any valid key; tenancy (an enterprise's own records) is checked by the route."""
Admin = Annotated[Principal, require_roles(Role.admin)]
"""Keys management."""
Office = Annotated[Principal, require_roles(Role.recruiter, Role.admin)]
"""The talent office: writes talents, needs, enterprises, platforms, incubators."""
ProfileReader = Annotated[Principal, require_roles(Role.recruiter, Role.data_team, Role.admin)]
"""May read full talent profiles (each read audited); enterprises never do."""
NeedWriter = Annotated[Principal, require_roles(Role.recruiter, Role.admin, Role.enterprise)]
"""Creates and replaces needs (an enterprise only its own)."""
DataTeam = Annotated[Principal, require_roles(Role.data_team, Role.admin)]
"""Models: list, reload (the ranking routes use it)."""
Ranker = Annotated[Principal, require_roles(Role.recruiter, Role.admin, Role.enterprise)]
"""Ranks candidates for a need (an enterprise only for its own needs, as masked cards)."""


def take_quota(store: Store, settings: Settings, principal: Principal, quota: Quota) -> None:
    """An enterprise key takes one unit of its enterprise's daily ``quota``; over it: 429 with ``Retry-After``. The
    office's roles are not counted. A database write: call it from the thread pool."""
    if principal.role is not Role.enterprise:
        return
    try:
        take(store, settings, principal.enterprise_id, quota)  # type: ignore[arg-type]
    except QuotaExceeded as e:
        raise ApiError(429, str(e), code="quota_exceeded", headers={"Retry-After": str(e.retry_after)}) from None


@contextmanager
def enterprise_quota(store: Store, settings: Settings, principal: Principal, quota: Quota) -> Iterator[None]:
    """``take_quota`` for a write, given back when the write raises (a refused write uses nothing)."""
    take_quota(store, settings, principal, quota)
    try:
        yield
    except BaseException:
        if principal.role is Role.enterprise:
            give_back(store, settings, principal.enterprise_id, quota)  # type: ignore[arg-type]
        raise


def _query_names(dependant: Any) -> frozenset[str]:
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return frozenset(names)


async def no_unknown_query(request: Request) -> None:
    """An app-wide dependency: a query parameter the route does not take is a 422 naming it (a misspelt filter
    would otherwise be ignored silently and return everything)."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None or not request.query_params:
        return
    known = getattr(route, "query_names", None)  # worked out at the route's first request, kept on the route
    if known is None:
        known = route.query_names = _query_names(dependant)  # type: ignore[union-attr]
    for name in request.query_params:
        if name not in known:
            hint = f"this route takes {', '.join(sorted(known))}" if known else "this route takes none"
            raise ApiError(422, f"query parameter {name}: unknown; {hint}", field=name)
