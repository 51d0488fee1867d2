"""The data team's page: the registered model versions with their evaluations (``GET /models/metrics``), NDCG@10 by
post kind across versions as an SVG chart drawn here (with the same numbers as a table), the champion and the
serving version, the latest training runs, and promotion and rollback through the API's own route functions (they
audit the change and reload the serving model). A change is never one click: a confirmation page, whose box the
server checks, comes first; the result is shown as a notice."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from service.api.ranking_schemas import ModelReportOut, PromoteIn
from service.api.routes.models import model_metrics, promote_model, rollback_model
from service.console.render import redirect, render
from service.console.session import PREFIX, ConsoleError, Page, Posted, SignedIn
from service.keys import Role

router = APIRouter()

DATA_TEAM = (Role.data_team, Role.admin)
"""Roles of ``deps.DataTeam``."""
MODEL = "lambdarank"
"""The evaluated model charted (the baselines ride along in the table of each version)."""
METRIC = "ndcg@10"
RUNS = 10
W, H, LEFT, BOTTOM, TOP, RIGHT = 640, 260, 44, 34, 12, 16
PALETTE = ("#0b57d0", "#b3261e", "#2f7d4f", "#8a4fff", "#b06000", "#00796b", "#5f6368", "#c2185b")


def chart(report: ModelReportOut) -> dict[str, Any]:
    """NDCG@10 of ``MODEL`` by post kind, one line per kind over the versions oldest to newest: the SVG geometry
    and the table of the same numbers (``None``: that version's run logged no value for the kind)."""
    versions = sorted(report.versions, key=lambda v: int(v.version))
    kinds = sorted({k for v in versions for k, models in v.by_kind.items() if METRIC in models.get(MODEL, {})})
    table = {k: [v.by_kind.get(k, {}).get(MODEL, {}).get(METRIC) for v in versions] for k in kinds}
    span = max(len(versions) - 1, 1)

    def x(i: int) -> float:
        return round(LEFT + (W - LEFT - RIGHT) * (i / span if len(versions) > 1 else 0.5), 1)

    def y(value: float) -> float:
        return round(TOP + (H - TOP - BOTTOM) * (1 - max(0.0, min(1.0, value))), 1)

    lines = []
    for n, kind in enumerate(kinds):
        points = [(x(i), y(v), v, versions[i].version) for i, v in enumerate(table[kind]) if v is not None]
        lines.append({"kind": kind, "colour": PALETTE[n % len(PALETTE)], "points": points,
                      "path": " ".join(f"{px},{py}" for px, py, _, _ in points)})  # fmt: skip
    ticks = [(round(t / 4, 2), y(t / 4)) for t in range(5)]
    return {"versions": [v.version for v in versions], "xs": [x(i) for i in range(len(versions))], "lines": lines,
            "table": table, "ticks": ticks, "w": W, "h": H, "left": LEFT, "right": W - RIGHT, "base": H - BOTTOM,
            "top": TOP}  # fmt: skip


def champion_of(report: ModelReportOut) -> str | None:
    return next((v.version for v in report.versions if "champion" in v.aliases), None)


def report_of(page: Page) -> ModelReportOut:
    page.require(DATA_TEAM)
    return model_metrics(page.request, page.principal, runs=RUNS)  # type: ignore[arg-type]


@router.get("/models")
def models_page(page: SignedIn) -> Response:
    report = report_of(page)
    page.mark("registry")
    notice = page.session.pop("models_notice", None)
    if notice:
        page.dirty = True
    baselines = sorted({m for v in report.versions for m in v.evaluation} - {MODEL})
    return render(page, "models.html", report=report, champion=champion_of(report), chart=chart(report),
                  model=MODEL, baselines=baselines, notice=notice)  # fmt: skip


def _version(raw: str) -> str:
    try:
        return PromoteIn(version=raw).version
    except ValidationError:
        raise ConsoleError(422, f"version {raw!r}: a version number such as 3; see the list", field="version") from None


def confirm_page(page: Page, action: str, version: str | None, status: int = 200, error: str | None = None) -> Response:
    report = report_of(page)
    champion = champion_of(report)
    if action == "promote" and version not in {v.version for v in report.versions}:
        raise ConsoleError(404, f"talent-ranker has no version {version!r}; see the list", field="version")
    by_version = {v.version: v for v in report.versions}
    return render(page, "models_confirm.html", status, action=action, version=version, champion=champion,
                  chosen=by_version.get(version or ""), current=by_version.get(champion or ""), model=MODEL,
                  metric=METRIC, error=error, serving=report.serving)  # fmt: skip


@router.get("/models/promote")
def promote_confirm(page: SignedIn, version: Annotated[str, Query(max_length=20)] = "") -> Response:
    return confirm_page(page, "promote", _version(version))


@router.get("/models/rollback")
def rollback_confirm(page: SignedIn) -> Response:
    return confirm_page(page, "rollback", None)


@router.post("/models/promote")
async def promote(
    page: Posted,
    version: Annotated[str, Form(max_length=20)] = "",
    confirm: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Make ``version`` the champion (``POST /models/promote``), once the confirmation box is ticked."""
    page.require(DATA_TEAM)
    chosen = _version(version)
    if confirm != "yes":
        return await run_in_threadpool(confirm_page, page, "promote", chosen, 422, page.t("models.confirm_missing"))
    change = await run_in_threadpool(promote_model, PromoteIn(version=chosen), page.request, page.principal)
    return _done(page, "promote", change)


@router.post("/models/rollback")
async def rollback(page: Posted, confirm: Annotated[str, Form(max_length=10)] = "") -> Response:
    """Give the champion back to the previous one (``POST /models/rollback``), once the box is ticked."""
    page.require(DATA_TEAM)
    if confirm != "yes":
        return await run_in_threadpool(confirm_page, page, "rollback", None, 422, page.t("models.confirm_missing"))
    change = await run_in_threadpool(rollback_model, page.request, page.principal)
    return _done(page, "rollback", change)


def _done(page: Page, action: str, change: Any) -> Response:
    page.session["models_notice"] = {"action": action, "champion": change.champion, "previous": change.previous,
                                     "serving": change.serving, "note": change.note}  # fmt: skip
    page.dirty = True
    return redirect(page, f"{PREFIX}/models")
