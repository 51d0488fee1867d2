"""Erasure of a talent (PIPL): from the store, the indices and graph, cached vectors, pending alerts and the
decision receipts; see ``service.erasure`` for the order and what stays (one audit row)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from service import audit
from service.api.crud import fetch
from service.api.deps import Office, StoreDep
from service.api.errors import ERROR_RESPONSES
from service.api.limits import IdPath
from service.api.schemas import ErrorResponse
from service.erasure import erase_talent

router = APIRouter(prefix="/talents", tags=["talents / 人才"], responses=ERROR_RESPONSES)


class ErasureOut(BaseModel):
    talent_id: str
    erased: bool = True
    receipt_rows: int = Field(description="Candidate rows redacted in decision receipts.")
    alerts: int | None = Field(description="Pending alerts deleted; null when the alerts module is not installed.")
    vectors: int = Field(description="Cached dense vectors erased from disk.")


@router.delete("/{talent_id}", responses={404: {"model": ErrorResponse, "description": "No such talent / 无此人才"}})
def erase(talent_id: IdPath, request: Request, principal: Office, store: StoreDep) -> ErasureOut:
    """Erase a talent everywhere (recruiter, admin): afterwards no route, ranking or search finds them, and their
    feedback is gone. Irreversible. 彻底删除人才（个人信息删除权），不可恢复。"""
    talent = fetch(store, "talent", talent_id)
    done = erase_talent(request.app.state, talent)  # type: ignore[arg-type]
    audit.record(store, principal, "erase", "talent", [talent_id],
                 {"receipt_rows": done.receipt_rows, "alerts": done.alerts, "vectors": done.vectors})  # fmt: skip
    return ErasureOut(talent_id=talent_id, receipt_rows=done.receipt_rows, alerts=done.alerts, vectors=done.vectors)
