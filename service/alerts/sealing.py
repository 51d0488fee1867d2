"""Webhook secrets at rest: sealed with AES-256-GCM under a key from settings, so a copy of the database alone
does not let anyone forge signed alerts. The service needs the secret itself to sign (HMAC), so it is encrypted,
not hashed.

The key is ``TALENTMATCH_SECRET_KEY`` (any long string, stretched with SHA-256), or else a random key written once
to ``TALENTMATCH_SECRET_KEY_FILE`` (mode 0600) — keep that file out of database backups. A sealed value is
``v1:<urlsafe base64 of nonce ‖ ciphertext ‖ tag>``; secrets are at most ``MAX_SECRET`` characters so it fits the
200-character column. Values without the prefix (stored before sealing) are read as they are, and sealed in place
by ``subscriptions.seal_plaintext`` (the dispatcher, ``talentmatch alerts seal-secrets``).
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from service.settings import Settings

PREFIX = "v1:"
MAX_SECRET = 100
"""Longest webhook secret accepted: its sealed form (3 + 4⌈(12 + 100 + 16)/3⌉ = 175 characters) fits the column."""
_AAD = b"talentmatch webhook secret"


class SealError(ValueError):
    """A sealed secret that does not open with this key (another key, or tampered with)."""


def key(settings: Settings) -> bytes:
    """The 32-byte sealing key from settings, generating the key file on first use."""
    if settings.secret_key is not None:
        return hashlib.sha256(settings.secret_key.get_secret_value().encode()).digest()
    path = Path(settings.secret_key_file).expanduser()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # written whole under a private name, then linked into place: another worker process starting at the same
        # moment finds either no file or the whole key, never an empty one
        draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(32))
        try:
            os.link(draft, path)
        except FileExistsError:
            pass  # another process made it first
        finally:
            draft.unlink()
    return hashlib.sha256(path.read_text().strip().encode()).digest()


def seal(secret: str, settings: Settings) -> str:
    nonce = os.urandom(12)
    sealed = AESGCM(key(settings)).encrypt(nonce, secret.encode(), _AAD)
    return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")


def unseal(stored: str, settings: Settings) -> str:
    if not stored.startswith(PREFIX):
        return stored
    raw = base64.urlsafe_b64decode(stored[len(PREFIX) :])
    try:
        return AESGCM(key(settings)).decrypt(raw[:12], raw[12:], _AAD).decode()
    except InvalidTag:
        raise SealError("the webhook secret does not open with this TALENTMATCH_SECRET_KEY") from None
