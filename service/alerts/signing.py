"""Webhook signatures: ``X-Talentmatch-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>``.

The timestamp is inside the signed text, so a receiver that rejects stale timestamps also rejects replays of an old,
validly signed request. Receivers verify like this (the same algorithm as ``verify_signature``)::

    import hashlib, hmac, time

    def verify(secret: str, header: str, body: bytes, tolerance: int = 300) -> bool:
        parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
        t, sig = parts.get("t", ""), parts.get("v1", "")
        if not t.isdigit() or abs(time.time() - int(t)) > tolerance:
            return False  # missing or stale timestamp: reject
        mac = hmac.new(secret.encode(), t.encode() + b"." + body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(mac, sig)

Verify the raw body bytes as received (before any JSON parsing), and drop repeats by the ``Idempotency-Key``
header: a message may arrive more than once (a retry after a lost response), never with a different key.
"""

from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "X-Talentmatch-Signature"
TOLERANCE = 300


class SignatureError(ValueError):
    """A signature that does not verify; the message says why."""


def sign(secret: str, body: bytes, *, timestamp: int | None = None) -> str:
    """The signature header value for ``body`` at ``timestamp`` (now by default)."""
    t = int(time.time()) if timestamp is None else int(timestamp)
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def verify_signature(
    secret: str, header: str | None, body: bytes, *, tolerance: int = TOLERANCE, now: float | None = None
) -> int:
    """Check a signature header against the raw body; returns its timestamp, or raises ``SignatureError`` when the
    header is missing or malformed, the timestamp is more than ``tolerance`` seconds off, or the MAC differs."""
    if not header:
        raise SignatureError(f"missing {HEADER} header")
    parts = dict(p.strip().split("=", 1) for p in header.split(",") if "=" in p)
    t, given = parts.get("t", ""), parts.get("v1", "")
    if not t.isdigit() or not given:
        raise SignatureError(f"malformed {HEADER} header: expected t=<unix seconds>,v1=<hex HMAC-SHA256>")
    now = time.time() if now is None else now
    if abs(now - int(t)) > tolerance:
        raise SignatureError(
            f"stale signature: timestamp {t} is {abs(now - int(t)):.0f} s from now (limit {tolerance})"
        )
    expected = sign(secret, body, timestamp=int(t)).partition(",v1=")[2]
    if not hmac.compare_digest(expected, given):
        raise SignatureError("signature mismatch: the body was changed or signed with another secret")
    return int(t)
