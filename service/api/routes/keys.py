"""API keys (admin only): create (the secret is shown once), list, revoke."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from service import keys
from service.api.deps import Admin, StoreDep
from service.api.errors import ERROR_RESPONSES, ApiError, not_found
from service.api.limits import KeyIdPath
from service.api.schemas import ErrorResponse, KeyCreate, KeyCreated, KeyInfo
from service.store import StoreError

router = APIRouter(prefix="/keys", tags=["keys / 密钥"], responses=ERROR_RESPONSES)


@router.post("", status_code=201)
def create_key(body: KeyCreate, principal: Admin, store: StoreDep) -> KeyCreated:
    """Create a key for a role (an enterprise key for one enterprise). The secret is in this response only.
    创建密钥（仅此一次显示明文）。"""
    try:
        info, secret = keys.issue_key(store, body.role, body.enterprise_id, label=body.label)
    except StoreError as e:
        raise ApiError(422, str(e), field="enterprise_id") from e
    return KeyCreated(**_info(info).model_dump(), key=secret)


@router.get("")
def list_keys(principal: Admin, store: StoreDep) -> list[KeyInfo]:
    """Every key, revoked ones included (never the secrets). 列出所有密钥。"""
    return [_info(k) for k in keys.list_keys(store)]


@router.delete("/{key_id}", status_code=204, responses={404: {"model": ErrorResponse}})
def revoke_key(key_id: KeyIdPath, principal: Admin, store: StoreDep, request: Request) -> Response:
    """Revoke a key at once; it stays listed (and in the audit log) with `revoked_at`. 吊销密钥。"""
    if not keys.revoke_key(store, key_id):
        raise not_found("key", key_id)
    request.app.state.principals.clear()
    return Response(status_code=204)


def _info(k: keys.KeyInfo) -> KeyInfo:
    return KeyInfo(id=k.id, role=k.role, enterprise_id=k.enterprise_id, label=k.label, created_at=k.created_at,
                   revoked_at=k.revoked_at)  # fmt: skip
