"""Alert subscriptions: an enterprise key manages its own enterprise's only; another's is a 404 to it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.concurrency import run_in_threadpool

from features.records import RecordId
from service.alerts import subscriptions as subs_db
from service.alerts import verification, webhook
from service.alerts.sealing import MAX_SECRET
from service.alerts.subscriptions import Channel, Delivery, Subscription
from service.api.deps import SettingsDep, StoreDep, require_roles
from service.api.errors import ERROR_RESPONSES, ApiError, not_found
from service.api.limits import EMAIL_MAX, SubscriptionIdPath, WebhookUrl, text
from service.api.routes.needs import visible_need
from service.api.schemas import ErrorResponse
from service.keys import Principal, Role
from service.settings import Settings
from service.store import Store

router = APIRouter(prefix="/subscriptions", tags=["alerts / 匹配提醒"], responses=ERROR_RESPONSES)

EnterpriseKey = Annotated[Principal, require_roles(Role.enterprise)]
"""Subscriptions and alerts belong to an enterprise: only its own key manages them."""
NOT_FOUND = {404: {"model": ErrorResponse, "description": "No such subscription (or not yours) / 无此订阅"}}
Email = text(strip_whitespace=True, max_length=EMAIL_MAX, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
CHANNEL_FIELDS = {Channel.webhook: ("url", "secret"), Channel.email: ("email",), Channel.inbox: ()}


class SubscriptionCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"need_id": "n-2001", "channel": "webhook", "url": "https://hr.example.com/talentmatch",
                 "secret": "whsec_5f2b…", "top_n": 10, "delivery": "immediate"},
                {"channel": "email", "email": "hr@example.com", "min_score": 0.4, "delivery": "digest"},
                {"need_id": "n-2002", "channel": "inbox", "top_n": 5},
            ]
        },
    )  # fmt: skip

    need_id: RecordId | None = Field(default=None, description="One of your needs; omit for all your open needs.")
    channel: Channel
    url: WebhookUrl | None = Field(
        default=None,
        description="Webhook: the HTTPS endpoint alerts are POSTed to. It must resolve to public addresses only "
        "(checked now and at every send; redirects are not followed) unless the operator allows the host.",
    )
    secret: text(min_length=16, max_length=MAX_SECRET) | None = Field(default=None,
                               description="Webhook: the HMAC key signing each request (kept to sign; never shown "
                               "again).")  # fmt: skip
    email: Email | None = Field(default=None, description="E-mail: where alerts are sent.")
    top_n: int | None = Field(default=None, ge=1, le=100, description="Alert when a talent enters the need's top N.")
    min_score: float | None = Field(
        default=None,
        allow_inf_nan=False,
        description="Alert when a talent's score reaches this (the serving model's scale; 0–1 text "
        "relevance when no model is deployed).",
    )
    delivery: Delivery = Field(default=Delivery.immediate, description="`immediate`, or one `digest` a day.")

    @model_validator(mode="after")
    def _channel_fields(self) -> SubscriptionCreate:
        for name in CHANNEL_FIELDS[self.channel]:
            if getattr(self, name) is None:
                raise ApiError(422, f"body {name}: a {self.channel.value} subscription needs `{name}`", field=name)
        for name in ("url", "secret", "email"):
            if name not in CHANNEL_FIELDS[self.channel] and getattr(self, name) is not None:
                raise ApiError(422, f"body {name}: only for the {'webhook' if name != 'email' else 'email'} channel; "
                               f"drop it from a {self.channel.value} subscription", field=name)  # fmt: skip
        if self.top_n is None and self.min_score is None:
            raise ApiError(422, "body top_n: give `top_n`, `min_score` or both, so alerts know when to fire",
                           field="top_n")  # fmt: skip
        return self


class SubscriptionOut(BaseModel):
    id: int
    enterprise_id: str
    need_id: str | None
    channel: Channel
    url: str | None = None
    has_secret: bool = Field(description="The webhook secret is stored (to sign) but never returned.")
    email: str | None = None
    top_n: int | None = None
    min_score: float | None = None
    delivery: Delivery
    created_at: datetime
    verified: bool = Field(default=True, description="E-mail: `false` until the address is confirmed with the token "
                           "mailed to it (`POST /subscriptions/{id}/verify`); nothing is sent before.")  # fmt: skip
    in_force: bool = Field(
        description="Whether alerts are made and delivered for it now: `false` while unconfirmed, "
        "when the need it names is no longer yours, or while your enterprise holds no live key."
    )


class VerifyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: str = Field(min_length=1, max_length=200, description="The confirmation token mailed to the address.")


def outs(store: Store, subs: list[Subscription]) -> list[SubscriptionOut]:
    """The subscriptions as shown, each with whether it is in force now (``subs_db.in_force_clause``, the predicate
    the matcher and the dispatcher apply)."""
    with store.engine.connect() as conn:
        live = subs_db.still_in_force(conn, {s.id for s in subs})
    return [
        SubscriptionOut(id=s.id, enterprise_id=s.enterprise_id, need_id=s.need_id, channel=s.channel, url=s.url,
                        has_secret=bool(s.secret), email=s.email, top_n=s.top_n, min_score=s.min_score,
                        delivery=s.delivery, created_at=s.created_at, verified=not s.pending, in_force=s.id in live)
        for s in subs
    ]  # fmt: skip


def out(store: Store, s: Subscription) -> SubscriptionOut:
    return outs(store, [s])[0]


def _own(store, principal: Principal, sub_id: int) -> Subscription:
    sub = subs_db.get(store, sub_id, pending=True)
    if sub is None or sub.enterprise_id != principal.enterprise_id:
        raise not_found("subscription", sub_id)
    return sub


def check_webhook_url(url: str, settings: Settings) -> None:
    """422 on ``url`` when the webhook target may not be reached (``service.alerts.webhook``), naming the rule."""
    try:
        webhook.check(url, webhook.Allow.parse(settings.alerts_webhook_allow),
                      dns_timeout=settings.alerts_dns_timeout_seconds)  # fmt: skip
    except webhook.TargetRefused as e:
        raise ApiError(422, f"body url: {e.public}", field="url") from None


def _refresh(request: Request) -> Any:
    matcher = getattr(request.app.state, "alerts", None)
    return run_in_threadpool(matcher.refresh) if matcher is not None else None


@router.post("", status_code=201, responses={404: {"model": ErrorResponse, "description": "No such need / 无此需求"}})
async def create_subscription(
    body: Annotated[SubscriptionCreate, Body()],
    principal: EnterpriseKey,
    store: StoreDep,
    settings: SettingsDep,
    request: Request,
) -> SubscriptionOut:
    """Subscribe to match alerts for one of your needs, or all your open needs (enterprise keys). An e-mail
    subscription starts unverified: a token is mailed to the address, and alerts flow once it is confirmed.
    订阅匹配提醒。"""
    if body.need_id is not None:
        try:
            await run_in_threadpool(visible_need, store, principal, body.need_id)
        except ApiError as e:
            e.field = "need_id"
            raise
    if body.url is not None:
        await run_in_threadpool(check_webhook_url, str(body.url), settings)
    token, verify_hash = verification.new_token() if body.channel is Channel.email else (None, None)
    sub = await run_in_threadpool(
        lambda: subs_db.create(store, settings=settings, enterprise_id=principal.enterprise_id, need_id=body.need_id,  # type: ignore[arg-type]
                               channel=body.channel, url=str(body.url) if body.url else None, secret=body.secret,
                               email=body.email, top_n=body.top_n, min_score=body.min_score, delivery=body.delivery,
                               verify_hash=verify_hash)
    )  # fmt: skip
    if token is not None:
        await run_in_threadpool(verification.send, sub, token, settings)
    if (refresh := _refresh(request)) is not None:
        await refresh
    return await run_in_threadpool(out, store, sub)


@router.get("")
def list_subscriptions(principal: EnterpriseKey, store: StoreDep) -> list[SubscriptionOut]:
    """Your subscriptions (active, and e-mail ones awaiting confirmation), oldest first. 列出订阅。"""
    subs = subs_db.active(store, principal.enterprise_id) + subs_db.awaiting(store, principal.enterprise_id)
    return outs(store, sorted(subs, key=lambda s: s.id))


@router.get("/{sub_id}", responses=NOT_FOUND)
def read_subscription(sub_id: SubscriptionIdPath, principal: EnterpriseKey, store: StoreDep) -> SubscriptionOut:
    """One of your subscriptions. 读取订阅。"""
    return out(store, _own(store, principal, sub_id))


@router.delete("/{sub_id}", status_code=204, responses=NOT_FOUND)
async def delete_subscription(
    sub_id: SubscriptionIdPath, principal: EnterpriseKey, store: StoreDep, request: Request
) -> Response:
    """End a subscription; alerts already made stay in your inbox. 取消订阅。"""
    await run_in_threadpool(_own, store, principal, sub_id)
    await run_in_threadpool(subs_db.deactivate, store, sub_id)
    if (refresh := _refresh(request)) is not None:
        await refresh
    return Response(status_code=204)


@router.post("/{sub_id}/verify", responses=NOT_FOUND)
async def verify_subscription(
    sub_id: SubscriptionIdPath,
    body: Annotated[VerifyIn, Body()],
    principal: EnterpriseKey,
    store: StoreDep,
    request: Request,
) -> SubscriptionOut:
    """Confirm an e-mail subscription's address with the token mailed to it; alerts flow from then on. 确认邮箱。"""
    sub = await run_in_threadpool(_own, store, principal, sub_id)
    if not sub.pending:
        return await run_in_threadpool(out, store, sub)
    if not await run_in_threadpool(subs_db.confirm, store, sub_id, verification.digest(body.token)):
        raise ApiError(422, "body token: not the token mailed to this address; use the latest e-mail", field="token")
    if (refresh := _refresh(request)) is not None:
        await refresh
    return await run_in_threadpool(lambda: out(store, _own(store, principal, sub_id)))
