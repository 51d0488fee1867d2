"""Reading and writing record files (.jsonl, .csv) without a database.

Imports are all-or-nothing, so reading never stops at the first bad record: every problem becomes an
``ImportIssue`` (``file:line: field: message``) and the caller decides. Files are read as bytes, one line at a time,
so a non-UTF-8 byte names its line and offset and an overlong line is rejected before it is parsed or held whole.
"""

from __future__ import annotations

import csv
import os
import sys
import types
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import orjson
from pydantic import BaseModel, ValidationError

from features.records import RECORD_TYPES, WORLD_FILES, Record, dump

DEFAULT_MAX_LINE_BYTES = 1_048_576
LIST_SEPARATOR = ";"
_BOM = b"\xef\xbb\xbf"
_PROGRESS_EVERY = 2_000

ProgressFn = Callable[[int], None]
"""Called now and then with the number of bytes read since the previous call (drives a progress bar)."""


@dataclass(frozen=True, slots=True)
class ImportIssue:
    """One problem with an input record; ``field`` is the dotted pydantic location or ``-`` for the whole line."""

    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.field}: {self.message}"


@dataclass(slots=True)
class ReadResult:
    """The valid records of one file, the line each started on, and every problem found."""

    kind: str
    file: str
    records: list[Record] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    issues: list[ImportIssue] = field(default_factory=list)


class World(Mapping[str, list[Record]]):
    """Records by kind (in dependency order) plus where each came from, as read from a world directory."""

    def __init__(self, files: Mapping[str, ReadResult] = (), issues: Iterable[ImportIssue] = ()) -> None:
        files = dict(files)
        self.files: dict[str, ReadResult] = {k: files[k] for k in RECORD_TYPES if k in files}
        self._issues = list(issues)

    @property
    def issues(self) -> list[ImportIssue]:
        return self._issues + [i for r in self.files.values() for i in r.issues]

    def __getitem__(self, kind: str) -> list[Record]:
        return self.files[kind].records

    def __iter__(self) -> Iterator[str]:
        return iter(self.files)

    def __len__(self) -> int:
        return len(self.files)


def kind_of_file(path: str | Path) -> str | None:
    """The record kind a file name implies (``talents.jsonl`` → ``talent``), or ``None``."""
    stem = Path(path).stem
    return next((k for k, name in WORLD_FILES.items() if Path(name).stem == stem), None)


def read_records(
    path: str | Path,
    kind: str,
    *,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    progress: ProgressFn | None = None,
) -> ReadResult:
    """Read and validate one ``.jsonl`` or ``.csv`` file of ``kind`` records; never raises for bad content."""
    path = Path(path)
    result = ReadResult(kind=kind, file=str(path))
    if kind not in RECORD_TYPES:
        raise ValueError(f"unknown record kind {kind!r}; use one of {', '.join(RECORD_TYPES)}")
    suffix = path.suffix.lower()
    if suffix not in (".jsonl", ".csv"):
        result.issues.append(
            ImportIssue(result.file, 1, "-", f"unsupported file type {suffix or '(none)'!r}; use .jsonl or .csv")
        )
        return result
    try:
        f = path.open("rb")
    except OSError as e:
        result.issues.append(ImportIssue(result.file, 1, "-", f"cannot read the file: {e.strerror or e}"))
        return result
    with f:
        lines = _lines(f, result, max_line_bytes, progress)
        if suffix == ".jsonl":
            _read_jsonl(lines, result)
        else:
            _read_csv(lines, result, max_line_bytes)
    return result


def load_world(
    directory: str | Path,
    *,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    progress: Callable[[str, int], None] | None = None,
) -> World:
    """Read whichever record files of ``WORLD_FILES`` a directory holds (``.jsonl`` or ``.csv``); other files are
    never opened. ``progress(file, bytes)`` is called as each file is read."""
    directory = Path(directory)
    if not directory.is_dir():
        return World(issues=[ImportIssue(str(directory), 1, "-", "not a directory; pass a world directory or a file")])
    files: dict[str, ReadResult] = {}
    issues: list[ImportIssue] = []
    for kind, name in WORLD_FILES.items():
        candidates = [p for p in (directory / name, (directory / name).with_suffix(".csv")) if p.is_file()]
        if len(candidates) > 1:
            issues.append(
                ImportIssue(
                    str(candidates[1]),
                    1,
                    "-",
                    f"both {candidates[0].name} and {candidates[1].name} exist; keep only one file per kind",
                )
            )
            continue
        if candidates:
            p = candidates[0]
            tick = (lambda n, p=p: progress(str(p), n)) if progress else None
            files[kind] = read_records(p, kind, max_line_bytes=max_line_bytes, progress=tick)
    if not files and not issues:
        expected = ", ".join(WORLD_FILES.values())
        issues.append(
            ImportIssue(
                str(directory),
                1,
                "-",
                f"no record files found; expected any of {expected} (or .csv with the same names)",
            )
        )
    return World(files, issues)


def write_records(path: str | Path, records: Iterable[Record]) -> int:
    """Write records as canonical JSONL sorted by id (so exports are deterministic); atomic via a temporary file.
    Returns the number written."""
    path = Path(path)
    rows = sorted(records, key=lambda r: r.id)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("wb") as f:
        for r in rows:
            f.write(orjson.dumps(dump(r)))
            f.write(b"\n")
    os.replace(tmp, path)
    return len(rows)


# --- lines ---------------------------------------------------------------------------------------------------------


def _lines(f: BinaryIO, result: ReadResult, max_line_bytes: int, progress: ProgressFn | None) -> Iterator[str | None]:
    """Decoded lines (newline kept), one per physical line; ``None`` for a line already reported as unreadable."""
    lineno = 0
    pending = 0
    while True:
        raw = f.readline(max_line_bytes + 1)
        if not raw:
            break
        lineno += 1
        pending += len(raw)
        if progress and lineno % _PROGRESS_EVERY == 0:
            progress(pending)
            pending = 0
        if len(raw) > max_line_bytes and not (len(raw) == max_line_bytes + 1 and raw.endswith(b"\n")):
            size = len(raw)
            while not raw.endswith(b"\n"):
                raw = f.readline(1 << 20)
                if not raw:
                    break
                size += len(raw)
                pending += len(raw)
            size -= len(raw) - len(raw.rstrip(b"\r\n"))
            result.issues.append(
                ImportIssue(
                    result.file,
                    lineno,
                    "-",
                    f"line is {size:,} bytes, over the limit of {max_line_bytes:,} bytes; shorten the record or raise "
                    "TALENTMATCH_MAX_LINE_BYTES",
                )
            )
            yield None
            continue
        if lineno == 1 and raw.startswith(_BOM):
            raw = raw[len(_BOM) :]
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as e:
            result.issues.append(
                ImportIssue(
                    result.file,
                    lineno,
                    "-",
                    f"invalid UTF-8 byte 0x{raw[e.start]:02x} at byte offset {e.start} of the line; save the file "
                    "as UTF-8",
                )
            )
            yield None
    if progress and pending:
        progress(pending)


# --- JSONL ---------------------------------------------------------------------------------------------------------


def _read_jsonl(lines: Iterator[str | None], result: ReadResult) -> None:
    model = RECORD_TYPES[result.kind]
    seen: dict[str, int] = {}
    content = False
    for lineno, text in enumerate(lines, start=1):
        if text is None:
            content = True
            continue
        if not text.strip():
            continue
        content = True
        try:
            obj = orjson.loads(text)
        except orjson.JSONDecodeError as e:
            result.issues.append(
                ImportIssue(
                    result.file,
                    lineno,
                    "-",
                    f"invalid JSON at column {e.colno}: {e.msg}; each line must be one complete JSON object",
                )
            )
            continue
        if not isinstance(obj, dict):
            result.issues.append(
                ImportIssue(result.file, lineno, "-", f"expected a JSON object {{...}}, got {_json_type(obj)}")
            )
            continue
        _validate(model, obj, lineno, result, seen)
    if not content:
        result.issues.append(
            ImportIssue(result.file, 1, "-", "empty file: no records; expected one JSON object per line")
        )


def _json_type(obj: object) -> str:
    return {list: "an array", str: "a string", int: "a number", float: "a number", bool: "a boolean"}.get(
        type(obj), "null"
    )


def _validate(model: type[Record], obj: dict, lineno: int, result: ReadResult, seen: dict[str, int]) -> None:
    """Validate one record; a duplicate id is caught even when either copy is otherwise invalid."""
    raw_id = obj.get("id")
    if isinstance(raw_id, str) and raw_id.strip() and not _first_sighting(raw_id.strip(), lineno, result, seen):
        return
    try:
        record = model.model_validate(obj)
    except ValidationError as e:
        result.issues.extend(_issues(model, e, result.file, lineno))
        return
    if record.id != raw_id and not _first_sighting(record.id, lineno, result, seen):
        return
    result.records.append(record)
    result.lines.append(lineno)


def _first_sighting(record_id: str, lineno: int, result: ReadResult, seen: dict[str, int]) -> bool:
    """Remember the id; return False (and report) when an earlier line had it."""
    first = seen.setdefault(record_id, lineno)
    if first == lineno:
        return True
    message = f"duplicate id {record_id!r} (also on line {first}); ids must be unique within a file"
    result.issues.append(ImportIssue(result.file, lineno, "id", message))
    return False


def _issues(model: type[Record], err: ValidationError, file: str, lineno: int) -> Iterator[ImportIssue]:
    """Pydantic errors as issues; its messages already say what is allowed (enum values, ranges, patterns)."""
    for e in err.errors(include_url=False):
        loc = ".".join(str(p) for p in e["loc"]) or "-"
        kind, msg = e["type"], e["msg"]
        if kind == "value_error":
            msg = msg.removeprefix("Value error, ")
        elif kind == "missing":
            msg = "required field is missing"
        elif kind == "extra_forbidden":
            msg = "unknown field; check the spelling"
            if len(e["loc"]) == 1:
                msg += f" (fields of a {model.record_kind}: {', '.join(model.model_fields)})"
        value = e.get("input")
        if kind not in ("missing", "extra_forbidden", "value_error") and isinstance(value, str | int | float | bool):
            shown = repr(value)
            msg += f" (got {shown[:60] + '…' if len(shown) > 60 else shown})"
        yield ImportIssue(file, lineno, loc, msg)


# --- CSV -----------------------------------------------------------------------------------------------------------


def _shape(annotation: object) -> tuple[str, type[BaseModel] | None]:
    """How a field is written in CSV: ``scalar``, ``list`` (split on ``;``), ``json`` (a JSON cell) or ``model``
    (dotted headers such as ``residence.city``)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _shape(inner[0]) if len(inner) == 1 else ("scalar", None)
    if origin is list:
        item = next(iter(typing.get_args(annotation)), str)
        return ("json", None) if isinstance(item, type) and issubclass(item, BaseModel) else ("list", None)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "model", annotation
    return "scalar", None


def _column_plan(model: type[Record], header: list[str]) -> tuple[list[tuple[str, ...] | None], list[str]]:
    """For each header column its path and shape, plus the problems with the header as a whole."""
    plan: list[tuple[str, ...] | None] = []
    unknown: list[str] = []
    for col in header:
        name = col.strip()
        head, _, rest = name.partition(".")
        info = model.model_fields.get(head)
        if info is None:
            unknown.append(name)
            plan.append(None)
            continue
        shape, sub = _shape(info.annotation)
        if not rest:
            plan.append((("json" if shape == "model" else shape), head))
        elif sub is not None and rest in sub.model_fields:
            plan.append((_shape(sub.model_fields[rest].annotation)[0], head, rest))
        else:
            unknown.append(name)
            plan.append(None)
    problems: list[str] = []
    present = {p[1] for p in plan if p}
    missing = [n for n, f in model.model_fields.items() if f.is_required() and n not in present]
    if missing:
        problems.append(f"missing required column(s) {', '.join(missing)}")
    if model.record_kind == "talent" and not present & {"name", "name_zh", "name_en", "summary"}:
        problems.append("missing a name column (one of name, name_zh, name_en, summary)")
    if unknown:
        problems.append(f"unknown column(s) {', '.join(unknown)}; check the spelling")
    if len(set(header)) != len(header):
        problems.append("a column appears twice")
    return plan, problems


def _read_csv(lines: Iterator[str | None], result: ReadResult, max_line_bytes: int) -> None:
    model = RECORD_TYPES[result.kind]
    csv.field_size_limit(max(csv.field_size_limit(), min(max_line_bytes, sys.maxsize)))
    reader = csv.reader((t if t is not None else "\n" for t in lines), strict=True)
    plan: list[tuple[str, ...] | None] | None = None
    width = 0
    seen: dict[str, int] = {}
    last = 0
    while True:
        start = last + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            last = reader.line_num
            result.issues.append(ImportIssue(result.file, start, "-", f"malformed CSV: {e}; check the quoting"))
            continue
        last = reader.line_num
        if not any(c.strip() for c in row):
            continue
        if plan is None:
            plan, problems = _column_plan(model, row)
            if problems:
                found = ", ".join(c.strip() for c in row)
                result.issues.append(
                    ImportIssue(result.file, start, "header", f"{'; '.join(problems)}; columns found: {found}")
                )
                return
            width = len(row)
            continue
        if len(row) != width:
            result.issues.append(
                ImportIssue(
                    result.file,
                    start,
                    "-",
                    f"row has {len(row)} cells but the header has {width} columns; quote cells that contain commas",
                )
            )
            continue
        obj = _csv_object(row, plan, result, start)
        if obj is not None:
            _validate(model, obj, start, result, seen)
    if plan is None and not result.issues:
        result.issues.append(ImportIssue(result.file, 1, "-", "empty file: no header and no records"))
    elif plan is not None and not seen and not result.issues:
        result.issues.append(ImportIssue(result.file, 1, "-", "no records below the header"))


def _csv_object(row: list[str], plan: list, result: ReadResult, lineno: int) -> dict | None:
    obj: dict = {}
    ok = True
    for cell, spec in zip(row, plan, strict=True):
        cell = cell.strip()
        if not cell:
            continue
        shape, *path = spec
        if shape == "list":
            value: object = [p.strip() for p in cell.split(LIST_SEPARATOR) if p.strip()]
        elif shape == "json":
            try:
                value = orjson.loads(cell)
            except orjson.JSONDecodeError as e:
                result.issues.append(
                    ImportIssue(
                        result.file,
                        lineno,
                        ".".join(path),
                        f"invalid JSON in cell at column {e.colno}: "
                        f'{e.msg}; this column holds JSON (e.g. [{{"title": "..."}}])',
                    )
                )
                ok = False
                continue
        else:
            value = cell
        if len(path) == 1:
            obj[path[0]] = value
        else:
            obj.setdefault(path[0], {})[path[1]] = value
    return obj if ok else None
