"""Liveness, readiness and Prometheus metrics (no key needed: probes and scrapers do not hold one)."""

from __future__ import annotations

import logging
import os

import sqlalchemy as sa
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from service.api.deps import MetricsDep
from service.api.errors import ERROR_RESPONSES
from service.api.schemas import Health, Readiness

log = logging.getLogger("talentmatch.api")

router = APIRouter(tags=["health / 运行状态"], responses={422: ERROR_RESPONSES[422]})  # unknown query parameters


@router.get("/healthz")
def healthz() -> Health:
    """The process is up. 进程存活。"""
    return Health(status="ok")


@router.get("/readyz", responses={503: {"model": Readiness, "description": "Not ready / 未就绪"}})
def readyz(request: Request) -> Readiness:
    """Ready for traffic: the store answers and the indices are built and in step with it (503 otherwise, with
    the reasons). 可以接收请求：数据库可达且索引已建立。"""
    state = request.app.state
    reasons = []
    try:
        with state.store.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except SQLAlchemyError as e:  # the driver's text names the host: logged, not shown to an anonymous probe
        log.error("readyz: store unreachable: %s", str(getattr(e, "orig", None) or e).strip().splitlines()[0])
        reasons.append("store unreachable (the service log has the details)")
    indices = getattr(state, "indices", None)
    if indices is None:
        reasons.append("indices not built")
    if getattr(state, "stale", None):  # its text (an exception's) is in the log already
        reasons.append("indices out of step with the store: restart the service (the service log says why)")
    body = Readiness(
        status="not ready" if reasons else "ready",
        talents=len(indices.talents) if indices is not None else 0,
        needs=len(indices.needs) if indices is not None else 0,
        reasons=reasons,
        model=state.models.status.serving,
        model_note=state.models.status.note,
        pid=os.getpid(),
        snapshot=getattr(state, "snapshot", None),
    )
    if (poller := getattr(state, "sync", None)) is not None:
        behind, seconds = poller.lag()
        body.sync_lag_changes, body.sync_lag_seconds = behind, None if seconds is None else round(seconds, 3)
    if reasons:
        return JSONResponse(body.model_dump(), status_code=503)  # type: ignore[return-value]
    return body


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
def metrics(metrics: MetricsDep) -> Response:
    """Prometheus text format: request latency histograms by route and status, ranking counters. 监控指标。"""
    return Response(metrics.render(), media_type=metrics.content_type)
