"""Models (data team, admin): the registry's versions with their metrics, the evaluations the console's data-team page
charts (by post kind, across versions) with the latest training runs, promotion and rollback of the champion, and a
reload that swaps to the current champion without a restart, keeping the serving model when the new one fails to
load. Promotion and rollback reload this process at once; other processes pick the champion up within
`TALENTMATCH_MODEL_POLL_SECONDS` (``ModelSlot.watch``), or at once with their own `POST /models/reload`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Request

from service import audit
from service.api.deps import DataTeam, StoreDep
from service.api.errors import ERROR_RESPONSES, ApiError
from service.api.ranking_schemas import (
    AliasOut,
    ModelReportOut,
    ModelsOut,
    ModelVersionOut,
    OnlineComparisonOut,
    PromoteIn,
    ReloadOut,
    RunReport,
    VersionReport,
)
from service.api.schemas import ErrorResponse

router = APIRouter(prefix="/models", tags=["models / 模型"], responses=ERROR_RESPONSES)

CONFLICT = {409: {"model": ErrorResponse, "description": "The registry cannot do it (the message says why) / 无法执行"}}
NO_VERSION = {404: {"model": ErrorResponse, "description": "No such version / 无此版本"}}


@router.get("")
def list_models(request: Request, principal: DataTeam) -> ModelsOut:
    """Every registered version of `talent-ranker`, newest first, with its metrics and aliases, and which one
    serves. 模型版本及其指标，以及当前使用的版本。"""
    from matcher import registry

    slot = request.app.state.models
    serving = slot.status.serving
    versions = [ModelVersionOut(**v, serving=v["version"] == serving) for v in registry.list_versions()]
    status = slot.status
    return ModelsOut(serving=serving, champion=status.champion, note=status.note, versions=versions,
                     challenger=status.challenger, challenger_note=status.challenger_note)  # fmt: skip


@router.get("/metrics")
def model_metrics(
    request: Request,
    principal: DataTeam,
    runs: Annotated[int, Query(ge=0, le=100, description="Latest training runs to list / 最近训练次数")] = 10,
) -> ModelReportOut:
    """Every version with the evaluation its training run logged — each model and baseline, overall and by post
    kind (NDCG@10 by kind across versions is the data team's chart) — and the latest training runs. 模型评估（含按岗位
    类型的 NDCG@10）与最近的训练。"""
    from matcher import registry

    serving = request.app.state.models.status.serving
    report = registry.model_report(runs)
    return ModelReportOut(
        serving=serving,
        versions=[VersionReport(**v, serving=v["version"] == serving) for v in report["versions"]],
        runs=[RunReport(**r) for r in report["runs"]],
    )


@router.get("/compare")
def compare_models(principal: DataTeam, store: StoreDep) -> list[OnlineComparisonOut]:
    """The online comparison by team-draft interleaving (`TALENTMATCH_INTERLEAVE_SHARE`): per pair of champion and
    challenger versions, the rankings interleaved, the challenger's wins, losses and ties among those with credited
    feedback, and the sign test's p-value. 冠军与挑战者模型的在线交错比较。"""
    from service.interleaving import compare

    return [OnlineComparisonOut(**c.to_dict()) for c in compare(store)]


@router.post("/promote", responses=NO_VERSION | CONFLICT)
def promote_model(body: Annotated[PromoteIn, Body()], request: Request, principal: DataTeam) -> AliasOut:
    """Make a version the champion by hand (it must load and match this code's feature schema), then serve it here
    at once (a champion whose dense encoder differs from the serving indices is refused by the reload: `note` says
    so, and the previous model keeps serving). 手动将某版本设为冠军模型并立即加载。"""
    from matcher import registry

    if body.version not in {v["version"] for v in registry.list_versions()}:
        raise ApiError(404, f"talent-ranker has no version {body.version!r}; see GET /models", field="version")
    if body.require_online_win:
        _check_online_win(request, body)
    try:
        change = registry.promote(body.version)
    except registry.RegistryError as e:
        raise ApiError(409, str(e), field="version") from None
    return _reloaded(request, principal, "promote", change)


@router.post("/rollback", responses=CONFLICT)
def rollback_model(request: Request, principal: DataTeam) -> AliasOut:
    """Give the champion alias back to the previous champion (it must still load), then serve it here at once;
    repeated calls walk further back. 回滚到上一个冠军模型并立即加载。"""
    from matcher import registry

    try:
        change = registry.rollback()
    except registry.RegistryError as e:
        raise ApiError(409, str(e)) from None
    return _reloaded(request, principal, "rollback", change)


def _check_online_win(request: Request, body: PromoteIn) -> None:
    """409 unless ``body.version`` won significantly online against the current champion."""
    from matcher import registry
    from matcher.interleaving import online_win
    from service.interleaving import pair

    champion = registry.champion_version()
    if champion is None or champion == body.version:
        return
    result = pair(request.app.state.store, champion, body.version)
    if (why := online_win(result, alpha=body.alpha, min_rankings=body.min_rankings)) is not None:
        raise ApiError(409, f"version {body.version} is not promoted: it has no significant online win over champion "
                       f"{champion}: {why}", field="require_online_win")  # fmt: skip


def _reloaded(request: Request, principal, action: str, change) -> AliasOut:
    """Reload this process onto the new champion and audit the change."""
    state = request.app.state
    status = state.models.reload()
    audit.record(state.store, principal, action, "model", [change.champion],
                 {"previous": change.previous, "serving": status.serving})  # fmt: skip
    return AliasOut(champion=change.champion, previous=change.previous, serving=status.serving, note=status.note)


@router.post("/reload")
def reload_model(request: Request, principal: DataTeam) -> ReloadOut:
    """Swap to the registry's current champion now. A champion that fails to load (corrupt artifact, another
    feature schema) never replaces the serving model: the response names the version still serving and why.
    重新加载冠军模型；新模型加载失败时继续使用原模型。"""
    state = request.app.state
    before = state.models.status.serving
    status = state.models.reload()
    audit.record(state.store, principal, "reload", "model", [status.serving],
                 {"previous": before, "champion": status.champion})  # fmt: skip
    return ReloadOut(serving=status.serving, previous=before, champion=status.champion,
                     changed=status.serving != before, note=status.note)  # fmt: skip
