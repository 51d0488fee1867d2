"""The alert inbox: an enterprise reads the alerts made for its subscriptions (every channel) and marks them read.

Cards are rendered again at each read from the talent as it is now, so a talent who withdrew sharing consent since
the alert was made is masked here too."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from service import db
from service.alerts.matching import utc
from service.api.cards import talent_card
from service.api.crud import Paging, paging
from service.api.deps import StoreDep
from service.api.errors import ERROR_RESPONSES, not_found
from service.api.limits import AlertIdPath
from service.api.routes.subscriptions import EnterpriseKey
from service.api.schemas import ErrorResponse, Page, TalentCard
from service.disclosure import enterprise_reasons

router = APIRouter(prefix="/alerts", tags=["alerts / 匹配提醒"], responses=ERROR_RESPONSES)


class ReadState(StrEnum):
    unread = "unread"
    read = "read"


class Shown(StrEnum):
    """What an enterprise learns of a delivery: no remote status code, no error text (an SSRF oracle otherwise)."""

    queued = "queued"
    delivered = "delivered"
    failed = "failed"


SHOWN = {"inbox": Shown.delivered, "delivered": Shown.delivered, "queued": Shown.queued, "digest": Shown.queued,
         "dead": Shown.failed}  # fmt: skip
"""Stored alert status → shown status; ``cancelled`` alerts (consent withdrawn) are not listed at all."""


class AlertOut(BaseModel):
    id: int
    subscription_id: int
    need_id: str
    need_title: str
    talent: TalentCard
    score: float
    reason: str = Field(description="`threshold` (min_score reached), `top_n` (entered the top N) or `posted` (best "
                                    "matches when the need was posted).")  # fmt: skip
    reasons: list[dict[str, Any]] = Field(description="Why, in English and Chinese (`en`, `zh`), strongest first.")
    status: Shown = Field(
        description="`queued` (waiting or being retried), `delivered` (or in the inbox) or "
        "`failed` (given up); the remote's answers are kept for the office's operators only."
    )
    created_at: datetime
    read_at: datetime | None = None


def _out(row: Any, talents: dict) -> AlertOut:
    p = row.payload
    talent = talents.get(row.talent_id)
    card = talent_card(talent, reveal=False) if talent is not None else TalentCard.model_validate(p["talent"])
    return AlertOut(id=row.id, subscription_id=row.subscription_id, need_id=row.need_id, need_title=p["need"]["title"],
                    talent=card, score=row.score, reason=row.reason, reasons=enterprise_reasons(p.get("reasons", [])),
                    status=SHOWN.get(row.status, Shown.queued), created_at=utc(row.created_at),
                    read_at=utc(row.read_at))  # fmt: skip


def _talents(request: Request) -> dict:
    idx = request.app.state.indices
    return idx.talents if idx is not None else {}


@router.get("")
def list_alerts(
    principal: EnterpriseKey,
    store: StoreDep,
    request: Request,
    page: Annotated[Paging, Depends(paging)],
    state: Annotated[ReadState | None, Query(description="unread or read; both when omitted / 未读或已读")] = None,
) -> Page[AlertOut]:
    """Your alerts, newest first. 企业的匹配提醒（最新在前）。"""
    a = db.AlertRow.__table__
    where = [a.c.enterprise_id == principal.enterprise_id, a.c.status != "cancelled"]
    if state is ReadState.unread:
        where.append(a.c.read_at.is_(None))
    elif state is ReadState.read:
        where.append(a.c.read_at.is_not(None))
    with store.engine.connect() as conn:
        total = conn.scalar(sa.select(sa.func.count()).select_from(a).where(*where)) or 0
        rows = conn.execute(sa.select(a).where(*where).order_by(a.c.id.desc()).limit(page.limit)
                            .offset(page.offset)).all()  # fmt: skip
    talents = _talents(request)
    return Page[AlertOut](items=[_out(r, talents) for r in rows], total=total, limit=page.limit, offset=page.offset)


@router.post("/{alert_id}/read", responses={404: {"model": ErrorResponse, "description": "No such alert / 无此提醒"}})
def mark_read(alert_id: AlertIdPath, principal: EnterpriseKey, store: StoreDep, request: Request) -> AlertOut:
    """Mark one of your alerts read (again: no change). 标记为已读。"""
    a = db.AlertRow.__table__
    mine = (a.c.id == alert_id) & (a.c.enterprise_id == principal.enterprise_id) & (a.c.status != "cancelled")
    with store.engine.begin() as conn:
        conn.execute(sa.update(a).where(mine, a.c.read_at.is_(None)).values(read_at=datetime.now(UTC)))
        row = conn.execute(sa.select(a).where(mine)).first()
    if row is None:
        raise not_found("alert", alert_id)
    return _out(row, _talents(request))
