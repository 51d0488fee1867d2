"""Rendering: the Jinja2 templates (autoescaped), the response with the session and language cookies, and the error
pages the console shows instead of the API's JSON (same statuses: 404 for another tenant's need, 403, 422 naming
the field, 429)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import escape
from sqlalchemy.exc import OperationalError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api.errors import ApiError, validation_error
from service.console.i18n import CATALOGUE, DEFAULT, HTML_LANG, LANGS
from service.console.session import (
    LANG_COOKIE,
    OFFICE,
    PREFIX,
    PROFILE_READERS,
    ConsoleError,
    Page,
    SignInRequired,
    visitor,
)
from service.keys import Role

HERE = Path(__file__).parent
log = logging.getLogger("talentmatch.api")
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.trim_blocks = templates.env.lstrip_blocks = True

NAV: list[tuple[str, str, tuple[Role, ...]]] = [
    ("nav.needs", f"{PREFIX}/needs", tuple(Role)),
    ("nav.search", f"{PREFIX}/search", OFFICE),
    ("nav.enterprise", f"{PREFIX}/enterprise", (Role.enterprise, Role.recruiter, Role.admin)),
    ("nav.models", f"{PREFIX}/models", (Role.data_team, Role.admin)),
    ("nav.people", f"{PREFIX}/people", PROFILE_READERS),
]
"""The header's links: catalogue key, path, the roles that see it (a new page group appends its own)."""


def render(page: Page, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    """The template ``name`` for ``page`` (``t``, ``label``, ``page`` and the principal in its context)."""
    me = page.principal
    nav = [(key, path) for key, path, roles in NAV if me is not None and me.role in roles]
    base = {"page": page, "html_lang": HTML_LANG[page.lang], "t": page.t, "label": page.label, "me": me, "nav": nav}
    response = templates.TemplateResponse(page.request, name, base | context, status_code=status)
    page.write_cookies(response)
    page.mark("render")
    response.headers["Server-Timing"] = page.server_timing()
    return response


def bar_width(score: float, lo: float, hi: float) -> int:
    """A score bar's width in percent: the share of the page's best score when no score is negative (a text
    relevance, a probability), else the place between the page's worst and best (a model's raw scores)."""
    if lo >= 0:
        return round(100 * score / hi) if hi > 0 else 100
    return round(4 + 96 * (score - lo) / (hi - lo)) if hi > lo else 100


templates.env.globals["bar_width"] = bar_width


def redirect(page: Page, url: str) -> RedirectResponse:
    """A 303 (a form post becomes a GET of ``url``) carrying the session's cookies."""
    response = RedirectResponse(url, status_code=303)
    page.write_cookies(response)
    return response


def htmx(request: Request) -> bool:
    """An htmx request: it wants a fragment of a page, not a page."""
    return request.headers.get("HX-Request") == "true"


def error_page(page: Page, status: int, message: str, field: str | None = None) -> Response:
    """The error page; for an htmx request, the message alone (swapped in where the fragment would have gone)."""
    if htmx(page.request):
        return HTMLResponse(f'<span class="error" role="alert">{escape(message)}</span>', status)
    key = f"error.{status}"
    title = page.t(key if key in CATALOGUE else "error.title")
    return render(page, "error.html", status, code=status, title=title, message=message, field=field)


def _console(scope: Scope) -> bool:
    """Whether the request is the console's: by the scope's path, not ``request.url`` (which parses a whole URL, and
    the middleware asks it of every API request too)."""
    path = scope["path"]
    return path == PREFIX or path.startswith(PREFIX + "/")


async def _page_of(request: Request) -> Page:
    """The page context for an error: the language and session as the request had them (the key checked as on
    every page, so the header says who is signed in)."""
    page = await run_in_threadpool(visitor, request, None)
    if request.query_params.get("lang") in ("zh", "en"):
        page.lang = request.query_params["lang"]  # type: ignore[assignment]
    return page


def _bare_page(request: Request) -> Page:
    """The page context for a server fault: the language only. The database may be what failed, so the session's
    key is not looked up (the header shows nobody signed in)."""
    chosen = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE)
    return Page(request, chosen if chosen in LANGS else DEFAULT, {})  # type: ignore[arg-type]


class ConsoleFaults:
    """A fault no handler knows (a bug) on a console page: logged as the API logs it, answered with the 500 page,
    not the API's JSON. Here rather than as an ``Exception`` handler: Starlette re-raises after those, and the
    server then drops the connection."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _console(scope):
            await self.app(scope, receive, send)
            return
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception as exc:
            if started:
                raise
            log.exception("unhandled error", exc_info=exc)
            page = _bare_page(Request(scope))
            await error_page(page, 500, page.t("error.internal"))(scope, receive, send)


def install(app: FastAPI) -> None:
    """Console requests get HTML error pages; every other path keeps the API's JSON handlers. Server faults (the
    database down, a bug) are logged as the API logs them and shown without their text, as the API shows them."""
    api_error = app.exception_handlers[ApiError]
    database_down = app.exception_handlers[OperationalError]
    invalid = app.exception_handlers[RequestValidationError]
    http = app.exception_handlers[StarletteHTTPException]

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, exc: SignInRequired) -> Response:
        url = f"{PREFIX}/signin?next={quote(exc.next_path, safe='')}"
        if htmx(request):  # the whole page goes to sign in, not the fragment
            return Response(status_code=204, headers={"HX-Redirect": url})
        return RedirectResponse(url, status_code=303)

    @app.exception_handler(ConsoleError)
    async def _console_error(request: Request, exc: ConsoleError) -> Response:
        return error_page(await _page_of(request), exc.status, exc.message, exc.field)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Response:
        if not _console(request.scope):
            return await api_error(request, exc)
        return error_page(await _page_of(request), exc.status, exc.message, exc.field)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        if not _console(request.scope):
            return await invalid(request, exc)
        err = orjson.loads(validation_error(list(exc.errors())).body)["error"]
        return error_page(await _page_of(request), 422, err["message"], err.get("field"))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if not _console(request.scope):
            return await http(request, exc)
        page = await _page_of(request)
        message = page.t("error.404") if exc.status_code == 404 else str(exc.detail)
        return error_page(page, exc.status_code, message)

    @app.exception_handler(OperationalError)
    async def _down(request: Request, exc: OperationalError) -> Response:
        response = await database_down(request, exc)
        if not _console(request.scope):
            return response
        page = _bare_page(request)
        return error_page(page, 503, page.t("error.unavailable"))

    app.add_middleware(ConsoleFaults)
