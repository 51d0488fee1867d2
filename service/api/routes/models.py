"""Models (data team, admin): the registry's versions with their metrics, and a reload that swaps to the current
champion without a restart, keeping the serving model when the new one fails to load."""

from __future__ import annotations

from fastapi import APIRouter, Request

from service import audit
from service.api.deps import DataTeam
from service.api.errors import ERROR_RESPONSES
from service.api.ranking_schemas import ModelsOut, ModelVersionOut, ReloadOut

router = APIRouter(prefix="/models", tags=["models / 模型"], responses=ERROR_RESPONSES)


@router.get("")
def list_models(request: Request, principal: DataTeam) -> ModelsOut:
    """Every registered version of `talent-ranker`, newest first, with its metrics and aliases, and which one
    serves. 模型版本及其指标，以及当前使用的版本。"""
    from matcher import registry

    slot = request.app.state.models
    serving = slot.status.serving
    versions = [ModelVersionOut(**v, serving=v["version"] == serving) for v in registry.list_versions()]
    return ModelsOut(serving=serving, champion=slot.status.champion, note=slot.status.note, versions=versions)


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
