"""Who is looking at a console page, and in which language: the signed session cookie (the API key and the
per-session CSRF token), the ``lang`` switch, and the request dependencies every page uses.

The session is a cookie signed with ``itsdangerous`` under ``TALENTMATCH_CONSOLE_SECRET`` (unset: a key derived from
the sealing key of ``service.alerts.sealing``, so there is one generated key file, not two). It is HttpOnly,
SameSite=Lax and Secure when the request came over https. The API key in it is also encrypted (AES-GCM under a key
derived from the same secret): a cookie copied out of a browser profile or a proxy log does not give away a key that
works on the API. It is authenticated again on every request (``service.keys.authenticate``, exactly as the API's
bearer check): a revoked key signs the browser out at once."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import quote

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from fastapi import Depends, Form, Query, Request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from pydantic import ValidationError

from service.alerts import sealing
from service.console.i18n import DEFAULT, LANGS, Lang, label, text
from service.keys import Principal, Role, authenticate
from service.settings import Settings

COOKIE = "tm_console"
LANG_COOKIE = "tm_lang"
SESSION_SECONDS = 12 * 3600
"""A signed session older than this is void (sign in again): a lost laptop's cookie does not live for ever."""
PREFIX = "/console"


OFFICE = (Role.recruiter, Role.admin)
"""Roles of ``deps.Office``: search, needs that fit a talent."""
RANKERS = (Role.recruiter, Role.admin, Role.enterprise)
"""Roles of ``deps.Ranker``: a need's candidates, feedback (an enterprise on its own needs)."""
PROFILE_READERS = (Role.recruiter, Role.data_team, Role.admin)
"""Roles of ``deps.ProfileReader``: full talent profiles."""


class SignInRequired(Exception):
    """No (or no longer a) signed-in key: the handler redirects to the sign-in page with ``next``."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


class ConsoleError(Exception):
    """An error page: status, message and the field at fault (the console's ``ApiError``)."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.field = status, message, field

    @classmethod
    def invalid(cls, e: ValidationError) -> ConsoleError:
        """The 422 page for a form the API's model refused: its first problem, naming the field."""
        err = e.errors()[0]
        return cls(422, f"{err['loc'][0]}: {err['msg']}", field=str(err["loc"][0]))


def serializer(request: Request) -> URLSafeTimedSerializer:
    """The app's cookie signer, made on first use (the derived key may create the sealing key file)."""
    state = request.app.state
    signer = getattr(state, "console_signer", None)
    if signer is None:
        signer = state.console_signer = URLSafeTimedSerializer(signing_key(state.settings), salt="tm-console-session")
    return signer


def _cipher(request: Request) -> AESGCM:
    state = request.app.state
    cipher = getattr(state, "console_cipher", None)
    if cipher is None:
        derived = hashlib.sha256(b"talentmatch console api key\0" + signing_key(state.settings)).digest()
        cipher = state.console_cipher = AESGCM(derived)
    return cipher


def seal_key(request: Request, key: str) -> str:
    """The API key as the session keeps it: nonce ‖ ciphertext, URL-safe base64."""
    nonce = os.urandom(12)
    return base64.urlsafe_b64encode(nonce + _cipher(request).encrypt(nonce, key.encode(), None)).decode("ascii")


def open_key(request: Request, sealed: object) -> str | None:
    """The API key a session keeps, or ``None`` for one that does not open (another secret, or not sealed)."""
    if not isinstance(sealed, str):
        return None
    try:
        raw = base64.urlsafe_b64decode(sealed)
        return _cipher(request).decrypt(raw[:12], raw[12:], None).decode()
    except (InvalidTag, ValueError, binascii.Error):
        return None


def signing_key(settings: Settings) -> bytes:
    if settings.console_secret is not None:
        return settings.console_secret.get_secret_value().encode()
    return hashlib.sha256(b"talentmatch console session\0" + sealing.key(settings)).digest()


def safe_next(path: str | None) -> str:
    """Where to go after signing in: a console path of this site only (no scheme, host or ``//``), else the needs."""
    home = f"{PREFIX}/needs"
    if not path or not path.startswith(PREFIX) or any(c in path for c in "\\\r\n\t"):
        return home
    rest = path[len(PREFIX) :]
    return path if rest == "" or (rest[0] in "/?" and not rest.startswith("//")) else home


@dataclass
class Page:
    """One request's view of the console: language, session, principal (``None`` before signing in)."""

    request: Request
    lang: Lang
    session: dict[str, Any]
    principal: Principal | None = None
    dirty: bool = False
    """The session changed: the response sets the cookie again."""
    set_lang: bool = False
    """``?lang=`` was given: the response remembers it in a cookie."""
    started: float = field(default_factory=time.perf_counter)
    """When the request's first dependency ran: ``Server-Timing`` says how long the page took to make."""
    timings: list[tuple[str, float]] = field(default_factory=list)

    def mark(self, name: str) -> None:
        """End the step ``name`` now (``Server-Timing``: where a slow page spent its time)."""
        self.timings.append((name, time.perf_counter()))

    def server_timing(self) -> str:
        parts, last = [], self.started
        for name, at in self.timings:
            parts.append(f"{name};dur={(at - last) * 1e3:.2f}")
            last = at
        return ", ".join([*parts, f"page;dur={(time.perf_counter() - self.started) * 1e3:.2f}"])

    def t(self, key: str, **values: object) -> str:
        return text(self.lang, key, **values)

    def label(self, group: str, value: object) -> str:
        return label(self.lang, group, value)

    @property
    def csrf(self) -> str:
        token = self.session.get("csrf")
        if not token:
            token = self.session["csrf"] = secrets.token_urlsafe(24)
            self.dirty = True
        return token

    def check_csrf(self, token: str | None) -> None:
        """403 unless ``token`` is this session's CSRF token (a form from another site cannot know it)."""
        expected = self.session.get("csrf")
        if not expected or not token or not hmac.compare_digest(expected.encode(), token.encode()):
            raise ConsoleError(403, self.t("error.csrf"), field="csrf")

    def require(self, roles: tuple[Role, ...]) -> None:
        """A 403 page for a role the API refuses the same request, with the API's message."""
        role = self.principal.role  # type: ignore[union-attr]
        if role not in roles:
            names = ", ".join(sorted(r.value for r in roles))
            raise ConsoleError(403, f"a key with role {role.value} may not do this; it needs one of: {names}")

    def sign_in(self, key: str, principal: Principal) -> None:
        """A fresh session (new CSRF token: a token seen before signing in is worth nothing after)."""
        self.session = {"key": seal_key(self.request, key), "csrf": secrets.token_urlsafe(24)}
        self.principal, self.dirty = principal, True

    def sign_out(self) -> None:
        self.session = {"csrf": secrets.token_urlsafe(24)}
        self.principal, self.dirty = None, True

    def url(self, lang: Lang | None = None) -> str:
        """This page's URL (path and query), with ``lang`` set to ``lang`` when given."""
        q = [(k, v) for k, v in self.request.query_params.multi_items() if k != "lang"]
        if lang is not None:
            q.append(("lang", lang))
        query = "&".join(f"{quote(k)}={quote(v)}" for k, v in q)
        return self.request.url.path + (f"?{query}" if query else "")

    def with_query(self, **changes: object) -> str:
        """This page's URL with the query parameters in ``changes`` replaced (``None``: dropped); paging links."""
        q = [(k, v) for k, v in self.request.query_params.multi_items() if k != "lang" and k not in changes]
        q += [(k, str(v).lower() if isinstance(v, bool) else str(v)) for k, v in changes.items() if v is not None]
        query = "&".join(f"{quote(k)}={quote(v)}" for k, v in q)
        return self.request.url.path + (f"?{query}" if query else "")

    @property
    def other_lang(self) -> Lang:
        return "en" if self.lang == "zh" else "zh"

    def write_cookies(self, response: Any) -> None:
        secure = self.request.url.scheme == "https"
        if self.dirty:
            value = serializer(self.request).dumps(self.session)
            response.set_cookie(COOKIE, value, httponly=True, samesite="lax", secure=secure, path=PREFIX)
        if self.set_lang:
            response.set_cookie(LANG_COOKIE, self.lang, max_age=365 * 86400, httponly=True, samesite="lax",
                                secure=secure, path=PREFIX)  # fmt: skip


LangQuery = Annotated[Lang | None, Query(description="Page language: zh (default) or en / 页面语言")]


def visitor(request: Request, lang: LangQuery = None) -> Page:
    """The page context of anyone (signed in or not). A plain ``def``: FastAPI runs it in the thread pool, and the
    key check reads the database."""
    chosen = lang or request.cookies.get(LANG_COOKIE)
    page = Page(request, chosen if chosen in LANGS else DEFAULT, {}, set_lang=lang is not None)  # type: ignore[arg-type]
    raw = request.cookies.get(COOKIE)
    if raw:
        try:
            page.session = dict(serializer(request).loads(raw, max_age=SESSION_SECONDS))
        except (BadSignature, TypeError, ValueError):
            page.dirty = True  # forged or expired: replaced by a fresh one
    if "key" in page.session:
        key = open_key(request, page.session["key"])
        page.principal = None if key is None else authenticate(request.app.state.store, key)
        if page.principal is None:  # revoked since: signed out at once
            page.session.pop("key", None)
            page.dirty = True
        page.mark("auth")
    return page


Visitor = Annotated[Page, Depends(visitor)]


def signed_in(page: Visitor) -> Page:
    """A signed-in page; otherwise the sign-in page with ``next`` back here."""
    if page.principal is None:
        raise SignInRequired(page.url())
    return page


SignedIn = Annotated[Page, Depends(signed_in)]


def posted(page: Visitor, csrf: Annotated[str, Form()] = "") -> Page:
    """A signed-in form post carrying this session's CSRF token: the token is checked first (403 page), then the
    key (the sign-in page)."""
    page.check_csrf(csrf)
    return signed_in(page)


Posted = Annotated[Page, Depends(posted)]
