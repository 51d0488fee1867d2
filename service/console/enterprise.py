"""An enterprise's page: its needs (post one, edit one), its alert inbox (unread counts, mark read) and its alert
subscriptions (webhook, e-mail, inbox; delete; what became of their alerts). Recruiters and admins see a given
enterprise's needs (``?enterprise=``) and post or edit needs for it, as the API lets them; alerts and subscriptions
are the enterprise's own keys' only, as on the API.

Every write goes through the function behind the API route (``create_need``, ``replace_need``,
``create_subscription``, ``delete_subscription``, ``verify_subscription``, ``mark_read``): the same ownership rules,
daily quota of new needs, webhook guard and e-mail verification. A 422 is shown next to the field it names."""

from __future__ import annotations

import re
import secrets
from typing import Annotated, Any

import orjson
import sqlalchemy as sa
from fastapi import APIRouter, Form, Query
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from features.records import Need, NeedKind, NeedStatus, RecordId, Site, Tier
from features.taxonomy import INDUSTRY_NAMES
from service import db
from service.alerts.subscriptions import Channel, Delivery
from service.api.access import visible_need
from service.api.crud import Paging, fetch
from service.api.errors import ApiError, not_found, validation_error
from service.api.limits import AlertIdPath, SubscriptionIdPath
from service.api.live import Writer
from service.api.routes import alerts, subscriptions
from service.api.routes.needs import create_need, replace_need
from service.console.render import redirect, render
from service.console.session import PREFIX, ConsoleError, Page, Posted, SignedIn
from service.keys import Role

router = APIRouter()

WRITERS = (Role.recruiter, Role.admin, Role.enterprise)
"""Who may open the page: the roles that write needs (``deps.NeedWriter``)."""
INBOX_LIMIT = 50
NEED_LIMIT = 200
NEED_FIELDS = ("id", "title", "description", "kind", "status", "required_skills", "industry", "min_tier", "site",
               "months_per_year", "duration_years", "salary_budget", "languages")  # fmt: skip
"""The need form's fields (a need's other fields, e.g. its disciplines, are kept as they are on an edit)."""
LISTS = ("required_skills", "languages")
EnterpriseQuery = Annotated[RecordId | None, Query(description="The enterprise (recruiters and admins)")]


def field_errors(exc: ValidationError | ApiError) -> dict[str, str]:
    """Field → message, in the API's words (``validation_error``), the first problem of each top-level field."""
    if isinstance(exc, ApiError):
        return {(exc.field or "form").split(".")[0]: exc.message}
    lines = orjson.loads(validation_error(list(exc.errors())).body)["error"]["errors"]
    out: dict[str, str] = {}
    for line in lines:
        field, _, _ = line.partition(": ")
        out.setdefault(field.split(".")[0] or "form", line)
    return out


def enterprise_of(page: Page, asked: str | None) -> dict[str, Any] | None:
    """The enterprise shown: an enterprise key's own (another's is a 404, as ``GET /enterprises/{id}``), or the one a
    recruiter or admin asked for (``None``: they choose one)."""
    principal = page.principal
    page.require(WRITERS)
    store = page.request.app.state.store
    if principal.role is Role.enterprise:  # type: ignore[union-attr]
        if asked is not None and asked != principal.enterprise_id:  # type: ignore[union-attr]
            raise not_found("enterprise", asked)
        asked = principal.enterprise_id  # type: ignore[union-attr]
    if asked is None:
        return None
    return fetch(store, "enterprise", asked).model_dump(mode="json")


def own_key(page: Page) -> bool:
    return page.principal.role is Role.enterprise  # type: ignore[union-attr]


def unread_by_need(page: Page) -> dict[str, int]:
    a = db.AlertRow.__table__
    mine = [a.c.enterprise_id == page.principal.enterprise_id, a.c.status != "cancelled", a.c.read_at.is_(None)]  # type: ignore[union-attr]
    with page.request.app.state.store.engine.connect() as conn:
        return dict(conn.execute(sa.select(a.c.need_id, sa.func.count()).where(*mine).group_by(a.c.need_id)).all())


def delivery_counts(page: Page) -> dict[int, dict[str, int]]:
    """Per subscription, its alerts by the state an enterprise is shown (queued, delivered, failed: no more)."""
    a = db.AlertRow.__table__
    q = (sa.select(a.c.subscription_id, a.c.status, sa.func.count())
         .where(a.c.enterprise_id == page.principal.enterprise_id, a.c.status != "cancelled")  # type: ignore[union-attr]
         .group_by(a.c.subscription_id, a.c.status))  # fmt: skip
    out: dict[int, dict[str, int]] = {}
    with page.request.app.state.store.engine.connect() as conn:
        for sub_id, status, n in conn.execute(q):
            shown = alerts.SHOWN.get(status, alerts.Shown.queued).value
            counts = out.setdefault(sub_id, {s.value: 0 for s in alerts.Shown})
            counts[shown] += n
    return out


def page_data(page: Page, enterprise: dict[str, Any] | None, state: alerts.ReadState | None) -> dict[str, Any]:
    store = page.request.app.state.store
    data: dict[str, Any] = {"enterprise": enterprise, "state": state, "own": own_key(page)}
    if enterprise is None:
        with store.engine.connect() as conn:
            e = db.table("enterprise")
            data["choices"] = conn.execute(sa.select(e.c.id, e.c.data).order_by(e.c.id).limit(500)).all()
        return data
    n = db.table("need")
    with store.engine.connect() as conn:
        rows = conn.scalars(sa.select(n.c.data).where(n.c.enterprise_id == enterprise["id"]).order_by(n.c.id)
                            .limit(NEED_LIMIT)).all()  # fmt: skip
    data["needs"] = rows
    if own_key(page):
        principal, request = page.principal, page.request
        data["unread"] = unread_by_need(page)
        data["alerts"] = alerts.list_alerts(principal, store, request, Paging(INBOX_LIMIT, 0), state)  # type: ignore[arg-type]
        data["subs"] = subscriptions.list_subscriptions(principal, store)  # type: ignore[arg-type]
        data["delivery"] = delivery_counts(page)
    return data


def take_notice(page: Page) -> Any:
    notice = page.session.pop("notice", None)
    if notice:
        page.dirty = True
    return notice


def back_to(enterprise_id: str | None, page: Page, anchor: str = "") -> str:
    query = f"?enterprise={enterprise_id}" if enterprise_id and not own_key(page) else ""
    return f"{PREFIX}/enterprise{query}{anchor}"


@router.get("/enterprise")
def enterprise_page(
    page: SignedIn,
    enterprise: EnterpriseQuery = None,
    state: Annotated[alerts.ReadState | None, Query()] = None,
) -> Response:
    chosen = enterprise_of(page, enterprise)
    data = page_data(page, chosen, state)
    page.mark("read")
    return render(page, "enterprise.html", notice=take_notice(page), errors={}, values={}, channels=list(Channel),
                  deliveries=list(Delivery), **data)  # fmt: skip


# --- needs: post one, edit one --------------------------------------------------------------------------------------


def need_values(form: dict[str, str]) -> dict[str, Any]:
    """The form as a need's fields: empty means not given, lists are split on commas, semicolons or new lines."""
    out: dict[str, Any] = {}
    for name in NEED_FIELDS:
        value = form.get(name, "").strip()
        if name in LISTS:
            out[name] = [v.strip() for v in re.split(r"[,，;；\n]", value) if v.strip()]
        elif value:
            out[name] = value
    return out


def form_of(need: dict[str, Any]) -> dict[str, str]:
    """A stored need as the form's text values."""
    out = {name: "" if need.get(name) is None else str(need[name]) for name in NEED_FIELDS if name not in LISTS}
    return out | {name: ", ".join(need.get(name) or []) for name in LISTS}


def need_form(page: Page, enterprise_id: str, values: dict[str, str], need_id: str | None = None,
              errors: dict[str, str] | None = None, status: int = 200) -> Response:  # fmt: skip
    return render(page, "need_form.html", status, enterprise_id=enterprise_id, values=values, need_id=need_id,
                  errors=errors or {}, kinds=list(NeedKind), statuses=list(NeedStatus), tiers=list(Tier),
                  sites=list(Site), back=back_to(enterprise_id, page),
                  industries=[(i.value, pair[page.lang == "en"]) for i, pair in INDUSTRY_NAMES.items()])  # fmt: skip


def _writer(page: Page) -> Writer:
    state = page.request.app.state
    if state.indices is None:
        raise ConsoleError(503, "the indices are not built yet; retry in a moment")
    return Writer(state)


@router.get("/enterprise/needs/new")
def new_need_form(page: SignedIn, enterprise: EnterpriseQuery = None) -> Response:
    chosen = enterprise_of(page, enterprise)
    if chosen is None:
        raise ConsoleError(422, "choose an enterprise first (?enterprise=)", field="enterprise")
    fresh = {
        "id": f"n-{secrets.token_hex(4)}",
        "kind": NeedKind.full_time.value,
        "status": NeedStatus.open.value,
        "site": Site.jiaxing.value,
    }  # a new id suggested; the enterprise may type its own
    return need_form(page, chosen["id"], fresh)


@router.get("/enterprise/needs/{need_id}/edit")
def edit_need_form(need_id: RecordId, page: SignedIn) -> Response:
    page.require(WRITERS)
    need = visible_need(page.request.app.state.store, page.principal, need_id)  # type: ignore[arg-type]
    return need_form(page, need.enterprise_id or "", form_of(need.model_dump(mode="json")), need_id=need_id)


async def _form(page: Page) -> dict[str, str]:
    form = await page.request.form()
    return {k: v for k, v in form.items() if isinstance(v, str) and len(v) <= 20_000}


@router.post("/enterprise/needs")
async def post_need(page: Posted, enterprise: Annotated[RecordId | None, Form()] = None) -> Response:
    """Post a need (``POST /needs``: an enterprise for itself, within its daily quota)."""
    chosen = await run_in_threadpool(enterprise_of, page, enterprise)
    if chosen is None:
        raise ConsoleError(422, "choose an enterprise first", field="enterprise")
    form = await _form(page)
    try:
        need = Need.model_validate(need_values(form) | {"enterprise_id": chosen["id"]})
    except ValidationError as e:
        return need_form(page, chosen["id"], form, errors=field_errors(e), status=422)
    state = page.request.app.state
    try:
        await run_in_threadpool(create_need, need, page.principal, _writer(page), state.settings)
    except ApiError as e:
        if e.status not in (409, 422, 429):
            raise
        errors = field_errors(e) if e.status != 429 else {"quota": e.message}
        response = need_form(page, chosen["id"], form, errors=errors, status=e.status)
        response.headers.update(e.headers or {})  # the quota's Retry-After, as on the API
        return response
    page.session["notice"] = ["need.created", need.id]
    page.dirty = True
    return redirect(page, back_to(chosen["id"], page, "#needs"))


@router.post("/enterprise/needs/{need_id}")
async def edit_need(need_id: RecordId, page: Posted) -> Response:
    """Replace a need with the form over its stored fields (``PUT /needs/{id}``; another's need: 404)."""
    page.require(WRITERS)
    store = page.request.app.state.store
    old = await run_in_threadpool(visible_need, store, page.principal, need_id)
    form = await _form(page) | {"id": need_id}
    fields = old.model_dump(mode="json", exclude={"updated_at"}) | need_values(form)
    for name in ("description", "industry", "min_tier", "months_per_year", "duration_years", "salary_budget"):
        if not form.get(name, "").strip():
            fields[name] = None  # emptied on the form: no longer stated
    try:
        need = Need.model_validate(fields)
    except ValidationError as e:
        return need_form(page, old.enterprise_id or "", form, need_id=need_id, errors=field_errors(e), status=422)
    state = page.request.app.state
    try:
        await run_in_threadpool(replace_need, need_id, need, page.principal, _writer(page), state.settings, Response())
    except ApiError as e:
        if e.status != 422:
            raise
        return need_form(page, old.enterprise_id or "", form, need_id=need_id, errors=field_errors(e), status=422)
    page.session["notice"] = ["need.saved", need_id]
    page.dirty = True
    return redirect(page, back_to(old.enterprise_id, page, "#needs"))


# --- the alert inbox ------------------------------------------------------------------------------------------------


def _own(page: Page) -> None:
    """Alerts and subscriptions are an enterprise key's own (``EnterpriseKey``): 403 for the office, as the API."""
    page.require((Role.enterprise,))


@router.post("/enterprise/alerts/{alert_id}/read")
def alert_read(alert_id: AlertIdPath, page: Posted) -> Response:
    """Mark one of the enterprise's alerts read (``POST /alerts/{id}/read``; another's: 404)."""
    _own(page)
    alerts.mark_read(alert_id, page.principal, page.request.app.state.store, page.request)  # type: ignore[arg-type]
    page.session["notice"] = ["alert.marked", str(alert_id)]
    page.dirty = True
    return redirect(page, f"{PREFIX}/enterprise#inbox")


# --- subscriptions --------------------------------------------------------------------------------------------------


def sub_values(form: dict[str, str]) -> dict[str, Any]:
    """The subscription form as ``POST /subscriptions``'s body: the fields its channel takes, empty ones left out."""
    channel = form.get("channel", "")
    wanted = dict.fromkeys(("need_id", "channel", "top_n", "min_score", "delivery"))
    wanted |= dict.fromkeys(subscriptions.CHANNEL_FIELDS.get(channel, ()))  # type: ignore[call-overload]
    return {k: form[k].strip() for k in wanted if form.get(k, "").strip()}


@router.post("/enterprise/subscriptions")
async def subscribe(page: Posted) -> Response:
    """Subscribe (``POST /subscriptions``): the webhook guard, e-mail verification and need ownership as there."""
    _own(page)
    form = await _form(page)
    state = page.request.app.state
    try:
        body = subscriptions.SubscriptionCreate.model_validate(sub_values(form))
        sub = await subscriptions.create_subscription(body, page.principal, state.store, state.settings, page.request)  # type: ignore[arg-type]
    except (ValidationError, ApiError) as e:
        if isinstance(e, ApiError) and e.status != 422:
            raise
        chosen = await run_in_threadpool(enterprise_of, page, None)
        data = await run_in_threadpool(page_data, page, chosen, None)
        return render(page, "enterprise.html", 422, notice=None, errors=field_errors(e), values=form,
                      channels=list(Channel), deliveries=list(Delivery), **data)  # fmt: skip
    page.session["notice"] = ["sub.created", str(sub.id)]
    page.dirty = True
    return redirect(page, f"{PREFIX}/enterprise#subscriptions")


@router.post("/enterprise/subscriptions/{sub_id}/delete")
async def unsubscribe(sub_id: SubscriptionIdPath, page: Posted) -> Response:
    """End a subscription (``DELETE /subscriptions/{id}``; another's: 404)."""
    _own(page)
    await subscriptions.delete_subscription(sub_id, page.principal, page.request.app.state.store, page.request)  # type: ignore[arg-type]
    page.session["notice"] = ["sub.deleted", str(sub_id)]
    page.dirty = True
    return redirect(page, f"{PREFIX}/enterprise#subscriptions")


@router.post("/enterprise/subscriptions/{sub_id}/verify")
async def verify(
    sub_id: SubscriptionIdPath, page: Posted, token: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    """Confirm an e-mail subscription with the mailed token (``POST /subscriptions/{id}/verify``)."""
    _own(page)
    try:
        body = subscriptions.VerifyIn(token=token.strip())
    except ValidationError as e:
        raise ConsoleError(422, next(iter(field_errors(e).values())), field="token") from None
    await subscriptions.verify_subscription(sub_id, body, page.principal, page.request.app.state.store, page.request)  # type: ignore[arg-type]
    page.session["notice"] = ["sub.verified", str(sub_id)]
    page.dirty = True
    return redirect(page, f"{PREFIX}/enterprise#subscriptions")
