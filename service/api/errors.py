"""Every error the API returns is JSON ``{"error": {"code", "message", "field", "errors"}}``, and bad input is never a
500: validation names the field, oversized bodies get 413 before they are read whole, database outages 503."""

from __future__ import annotations

import logging
import re
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api.schemas import ErrorResponse
from service.store import ImportFailed

log = logging.getLogger("talentmatch.api")

UNAVAILABLE = "the database is unavailable; try again shortly"
_SURROGATE = re.compile("[\ud800-\udfff]")

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "body_too_large",
    422: "invalid",
    500: "internal",
    503: "unavailable",
}


class ApiError(Exception):
    """An error with its HTTP status, a stable code, a message saying how to fix it, and the field at fault."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        field: str | None = None,
        code: str | None = None,
        errors: list[str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.field = status, message, field
        self.code = code or CODES.get(status, "error")
        self.errors, self.headers = errors, headers


def not_found(kind: str, record_id: str | int) -> ApiError:
    return ApiError(404, f"no {kind} {str(record_id)!r}; check the id", field="id")


def forbidden(message: str, field: str | None = None) -> ApiError:
    return ApiError(403, message, field=field)


def unauthorized(message: str) -> ApiError:
    return ApiError(401, message, headers={"WWW-Authenticate": "Bearer"})


def error_body(status: int, message: str, field: str | None = None, code: str | None = None,
               errors: list[str] | None = None) -> dict[str, Any]:  # fmt: skip
    body: dict[str, Any] = {"code": code or CODES.get(status, "error"), "message": printable(message),
                            "field": None if field is None else printable(field)}  # fmt: skip
    if errors is not None:
        body["errors"] = [printable(e) for e in errors]
    return {"error": body}


def printable(text: str) -> str:
    """Messages echo input (a field name, an id): a lone surrogate in it would make the response unencodable."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8") if _SURROGATE.search(text) else text


def _json(status: int, content: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(content, status_code=status, headers=headers)


# --- validation messages -------------------------------------------------------------------------------------------

_WHERE = {"body": "body", "query": "query parameter", "path": "path parameter", "header": "header"}


def _message(e: dict[str, Any]) -> str:
    """Pydantic's message, phrased like the import errors (``features.io``) so users see one style."""
    kind, msg = e.get("type", ""), e.get("msg", "")
    if kind == "value_error":
        return msg.removeprefix("Value error, ")
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return "unknown field; check the spelling"
    if kind == "json_invalid":
        return f"invalid JSON: {e.get('ctx', {}).get('error', msg)}; send one JSON object"
    if kind in ("model_attributes_type", "dict_type") and tuple(e.get("loc", ())) == ("body",):
        return "expected one JSON object; send it with `Content-Type: application/json`"
    return msg


def _field(loc: tuple | list) -> tuple[str, str | None]:
    """(where, dotted field) from a pydantic location such as ``("body", "residence", "country")``."""
    where, *rest = [str(p) for p in loc] or ["body"]
    if where not in _WHERE:
        return "body", ".".join([where, *rest])
    if where == "body" and rest and rest[0].isdigit():  # a JSON decode position, not a field
        rest = []
    return _WHERE[where], ".".join(rest) or None


def validation_error(errors: list[dict[str, Any]]) -> JSONResponse:
    lines, first = [], None
    for e in errors:
        where, field = _field(e.get("loc", ()))
        msg = _message(e)
        lines.append(f"{field or where}: {msg}")
        if first is None:
            first = (where, field, msg)
    where, field, msg = first or ("body", None, "invalid request")
    message = f"{where} {field}: {msg}" if field else f"{where}: {msg}"
    if len(lines) > 1:
        message += f" (and {len(lines) - 1} more problem(s), see errors)"
    return _json(422, error_body(422, message, field, errors=lines))


# --- body size cap ---------------------------------------------------------------------------------------------------


class BodyTooLarge(StarletteHTTPException):
    """Raised from ``receive`` once a body passes the cap (a Starlette HTTPException, so FastAPI re-raises it
    while reading the body instead of calling it a parse error)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body is over the limit of {limit:,} bytes; split it or raise "
                              "TALENTMATCH_MAX_BODY_BYTES")  # fmt: skip


class BodySizeLimit:
    """ASGI middleware: 413 when Content-Length says the body is too big, or as soon as a streamed body passes the
    cap, so an oversized body is never held in memory."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            body = orjson.dumps(error_body(413, BodyTooLarge(self.max_bytes).detail))
            await send({"type": "http.response.start", "status": 413,
                        "headers": [(b"content-type", b"application/json"), (b"connection", b"close")]})  # fmt: skip
            await send({"type": "http.response.body", "body": body})
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        await self.app(scope, limited, send)


# --- handlers --------------------------------------------------------------------------------------------------------


def install(app: FastAPI) -> None:
    """Register the JSON error handlers."""

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return _json(exc.status, error_body(exc.status, exc.message, exc.field, exc.code, exc.errors), exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return validation_error(list(exc.errors()))

    @app.exception_handler(ImportFailed)
    async def _import_failed(request: Request, exc: ImportFailed) -> JSONResponse:
        shown = request.app.state.settings.max_errors_shown
        issues = exc.issues
        lines = [f"{i.line}: {i.field}: {i.message}" for i in issues[:shown]]
        if len(issues) > shown:
            lines.append(f"… and {len(issues) - shown} more")
        field = issues[0].field if len({i.field for i in issues}) == 1 and issues[0].field != "-" else None
        message = f"{len(issues)} invalid record(s); nothing was written: {lines[0]}"
        return _json(422, error_body(422, message, field, "invalid_records", lines))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404 and message == "Not Found":
            message = "no such route; see /docs for the API"
        if exc.status_code == 400 and message == "There was an error parsing the body":  # FastAPI: not UTF-8, …
            return _json(422, error_body(422, "body: it could not be read as JSON; send one JSON object in UTF-8"))
        return _json(exc.status_code, error_body(exc.status_code, message), getattr(exc, "headers", None))

    @app.exception_handler(OperationalError)
    async def _database_down(_: Request, exc: OperationalError) -> JSONResponse:
        # the driver's message names the database host and port: the log has it, the caller (perhaps anonymous:
        # the key check reads the database too) gets no more than that it is down
        log.error("database error: %s", str(exc.orig or exc).strip().splitlines()[0])
        return _json(503, error_body(503, UNAVAILABLE))

    @app.exception_handler(Exception)
    async def _internal(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return _json(500, error_body(500, "internal error; the service log has the details"))


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "Missing, unknown or revoked API key / 缺少或无效的 API 密钥"},
    403: {"model": ErrorResponse, "description": "The key's role may not do this / 该角色无权执行此操作"},
    422: {"model": ErrorResponse, "description": "Invalid input; `field` names it / 输入无效，`field` 指明字段"},
}
"""Error responses every authenticated route can give, for the OpenAPI document."""
