"""What the record routes share: fetch or 404, filtered pages in SQL (one count, one page query), JSON-field filters
for SQLite and PostgreSQL, and reading an uploaded JSONL/CSV body exactly as the CLI reads a file."""

from __future__ import annotations

import functools
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Query, Request
from starlette.concurrency import run_in_threadpool

from features.io import World, read_records
from features.records import RECORD_TYPES, WORLD_FILES, Record
from service import audit, db
from service.api.errors import ApiError, not_found
from service.api.limits import OffsetQuery
from service.api.live import Writer
from service.api.schemas import MAX_LIMIT, ImportResult
from service.keys import Principal
from service.settings import Settings
from service.store import ImportReport, Store


def fetch(store: Store, kind: str, record_id: str) -> Record:
    record = store.get(kind, record_id)
    if record is None:
        raise not_found(kind, record_id)
    return record


@dataclass(frozen=True, slots=True)
class Paging:
    limit: int
    offset: int


def paging(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"Items per page (at most {MAX_LIMIT}).")] = 50,
    offset: OffsetQuery = 0,
) -> Paging:
    return Paging(limit, offset)


def list_page(store: Store, kind: str, where: list[Any], paging: Paging) -> tuple[list[Record], int]:
    """A page of records in id order matching every condition in ``where``, and the total matching."""
    t = db.table(kind)
    model = RECORD_TYPES[kind]
    with store.engine.connect() as conn:
        total = conn.scalar(sa.select(sa.func.count()).select_from(t).where(*where)) or 0
        rows = conn.scalars(
            sa.select(t.c.data).where(*where).order_by(t.c.id).limit(paging.limit).offset(paging.offset)
        ).all()
    return [model.model_validate(d) for d in rows], total


def json_text(column: Any, *path: str) -> Any:
    """A JSON field of the canonical record as text (``json_extract`` on SQLite, ``#>>`` on PostgreSQL)."""
    return column[path].as_string()


def json_bool(column: Any, *path: str) -> Any:
    return column[path].as_boolean()


def json_array_has(store: Store, column: Any, key: str, value: str) -> Any:
    """The record's top-level array ``key`` contains the string ``value``."""
    if store.engine.dialect.name == "postgresql":
        return column[key].op("?", is_comparison=True)(value)
    items = sa.func.json_each(column, f"$.{key}").table_valued("value")
    return sa.exists(sa.select(sa.literal(1)).select_from(items).where(items.c.value == value))


def check_path_id(record: Record, record_id: str) -> None:
    if record.id != record_id:
        raise ApiError(422, f"the body's id {record.id!r} differs from the path's {record_id!r}; they must match",
                       field="id")  # fmt: skip


def audit_write(store: Store, principal: Principal, action: str, record: Record) -> None:
    audit.record(store, principal, action, record.record_kind, [record.id])


# --- bulk import ------------------------------------------------------------------------------------------------------

IMPORT_BODY = {
    "requestBody": {
        "required": True,
        "description": "One JSON record per line (JSONL), or CSV with `Content-Type: text/csv`. All or nothing: "
        "with any invalid line nothing is written and every problem is listed as `line: field: message`. "
        "/ 每行一条 JSON 记录；任何一行无效则全部不写入，并逐条列出 `行: 字段: 问题`。",
        "content": {
            "application/x-ndjson": {"schema": {"type": "string"}},
            "text/csv": {"schema": {"type": "string"}},
        },
    }
}
"""OpenAPI description of an import route's raw body (FastAPI cannot infer it)."""


async def import_upload(
    request: Request,
    kind: str,
    writer: Writer,
    principal: Principal,
    *,
    then: Callable[[ImportReport], object] | None = None,
) -> ImportResult:
    """Stream the body to a temporary file (the size cap applies as it arrives), read it with ``features.io``
    exactly like the CLI, and write it all or nothing (``then``: as ``Writer.write``'s)."""
    settings: Settings = request.app.state.settings
    csv = request.headers.get("content-type", "").split(";")[0].strip().lower() == "text/csv"
    with tempfile.TemporaryDirectory(prefix="talentmatch-upload-") as tmp:
        path = Path(tmp) / Path(WORLD_FILES[kind]).with_suffix(".csv" if csv else ".jsonl")
        with path.open("wb") as f:
            async for chunk in request.stream():
                f.write(chunk)
        result = await run_in_threadpool(read_records, path, kind, max_line_bytes=settings.max_line_bytes)
        report = await run_in_threadpool(functools.partial(writer.write, World({kind: result}), then=then))
    ids = [r.id for r in result.records]
    await run_in_threadpool(audit.record, writer.store, principal, "import", kind, ids)
    return ImportResult(
        kind=kind,
        records=len(ids),
        inserted=report.inserted.get(kind, 0),
        updated=report.updated.get(kind, 0),
        unchanged=report.unchanged.get(kind, 0),
    )
