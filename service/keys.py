"""API keys: created with a role (and an enterprise for enterprise keys), stored only as a hash, revoked not deleted.

A key is ``tm_`` + 32 random bytes (``secrets.token_urlsafe``): 256 bits of entropy, so a plain SHA-256 is enough
to store it. Slow password hashes (bcrypt, argon2) exist to stop guessing of *low*-entropy secrets from a stolen
table; nobody can enumerate 2^256 keys, and a fast hash lets every request be checked with one indexed lookup.
Revoked keys stay in the table so the audit log keeps pointing at who did what.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

import sqlalchemy as sa

from service import db
from service.store import Store, StoreError

PREFIX = "tm_"


class Role(StrEnum):
    recruiter = "recruiter"
    enterprise = "enterprise"
    data_team = "data_team"
    admin = "admin"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the key's id, role, enterprise (enterprise keys only) and label."""

    key_id: int
    role: Role
    enterprise_id: str | None = None
    label: str | None = None


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """A stored key without its secret."""

    id: int
    role: Role
    enterprise_id: str | None
    label: str | None
    created_at: datetime
    revoked_at: datetime | None


def hash_key(secret: str) -> str:
    """Hex SHA-256 of the whole key string (prefix included)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def _table() -> sa.Table:
    return db.ApiKeyRow.__table__  # type: ignore[return-value]


def issue_key(store: Store, role: Role | str, enterprise_id: str | None = None, *, label: str | None = None
              ) -> tuple[KeyInfo, str]:  # fmt: skip
    """Create a key; returns its stored info and the plaintext, which exists only in this return value."""
    try:
        role = Role(role)
    except ValueError:
        raise StoreError(f"unknown role {role!r}; use one of {', '.join(Role)}") from None
    if role is Role.enterprise and not enterprise_id:
        raise StoreError("an enterprise key needs the enterprise it belongs to (--enterprise ID)")
    if role is not Role.enterprise and enterprise_id:
        raise StoreError(f"only enterprise keys belong to an enterprise; drop the enterprise for a {role} key")
    store.check_schema()
    if enterprise_id and store.get("enterprise", enterprise_id) is None:
        raise StoreError(f"unknown enterprise {enterprise_id!r}; import or create it first")
    secret = PREFIX + secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    with store.engine.begin() as conn:
        key_id = conn.execute(
            sa.insert(_table())
            .values(hash=hash_key(secret), role=role.value, enterprise_id=enterprise_id, label=label, created_at=now)
            .returning(_table().c.id)
        ).scalar_one()
    return KeyInfo(key_id, role, enterprise_id, label, now, None), secret


def create_key(store: Store, role: Role | str, enterprise_id: str | None = None, *, label: str | None = None) -> str:
    """Create a key and return its plaintext (shown once; only the hash is stored)."""
    return issue_key(store, role, enterprise_id, label=label)[1]


def authenticate(store: Store, secret: str) -> Principal | None:
    """The principal of a live key, or ``None`` for an unknown or revoked one."""
    if not secret.startswith(PREFIX):
        return None
    t = _table()
    with store.engine.connect() as conn:
        row = conn.execute(
            sa.select(t.c.id, t.c.role, t.c.enterprise_id, t.c.label).where(
                t.c.hash == hash_key(secret), t.c.revoked_at.is_(None)
            )
        ).first()
    return None if row is None else Principal(row.id, Role(row.role), row.enterprise_id, row.label)


class PrincipalCache:
    """Principals of live keys, kept ``seconds`` so a busy client costs no database read per request.

    Only keys found live are kept (an unknown key is looked up each time, so guessing fills nothing), at most
    ``size``. A revocation through this process empties it at once; one made by another process (the CLI) takes
    effect within ``seconds``. ``seconds`` = 0 keeps nothing."""

    def __init__(self, seconds: float, size: int = 10_000) -> None:
        self.seconds, self.size = seconds, size
        self._kept: dict[str, tuple[Principal, float]] = {}

    def get(self, secret: str) -> Principal | None:
        hit = self._kept.get(hash_key(secret))
        return hit[0] if hit is not None and hit[1] > time.monotonic() else None

    def put(self, secret: str, principal: Principal) -> None:
        if self.seconds <= 0:
            return
        if len(self._kept) >= self.size:
            self._kept = {}
        self._kept[hash_key(secret)] = (principal, time.monotonic() + self.seconds)

    def clear(self) -> None:
        self._kept = {}


def enterprise_of(store: Store, key_id: int) -> str | None:
    """The enterprise a key belongs to (``None``: an office key, or no such key)."""
    t = _table()
    with store.engine.connect() as conn:
        return conn.scalar(sa.select(t.c.enterprise_id).where(t.c.id == key_id))


def list_keys(store: Store) -> list[KeyInfo]:
    """Every key, revoked ones included, oldest first."""
    t = _table()
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(t.c.id, t.c.role, t.c.enterprise_id, t.c.label, t.c.created_at, t.c.revoked_at).order_by(t.c.id)
        ).all()
    return [KeyInfo(r.id, Role(r.role), r.enterprise_id, r.label, r.created_at, r.revoked_at) for r in rows]


def revoke_key(store: Store, key_id: int) -> bool:
    """Revoke a key at once (kept for the audit trail); False if there is no such key. Revoking twice is a no-op."""
    t = _table()
    with store.engine.begin() as conn:
        if conn.scalar(sa.select(t.c.id).where(t.c.id == key_id)) is None:
            return False
        conn.execute(
            sa.update(t).where(t.c.id == key_id, t.c.revoked_at.is_(None)).values(revoked_at=datetime.now(UTC))
        )
    return True
