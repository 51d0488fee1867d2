"""The store: the one API the service uses to read and write records in the talent database.

Imports are all-or-nothing: everything is parsed and validated first (``features.io``), every reference is checked
against the batch and the database, and only a clean batch is written, all kinds in dependency order, in one
transaction, with the dialect's upsert. Upsert is by id and compares a digest of the canonical JSON, so a
re-import of the same data writes nothing and reports every record unchanged.
"""

from __future__ import annotations

import gc
import hashlib
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from features.io import (
    DEFAULT_MAX_LINE_BYTES,
    ImportIssue,
    World,
    kind_of_file,
    load_world,
    read_records,
    write_records,
)
from features.records import RECORD_TYPES, REFERENCES, WORLD_FILES, Record
from service import db
from service.group_commit import GroupCommit
from service.settings import ensure_sqlite_dir

CHUNK = 1_000
"""Ids per ``IN (…)`` lookup (well under SQLite's and PostgreSQL's bound-parameter limits), rows per progress tick."""
WRITE_CHUNK = 5_000
"""Rows per SQLite executemany: larger batches spend less per row in SQLAlchemy (measured: 1,000 → 5,000 rows cut the
write's CPU by a third; one batch of 20,000 saved nothing more) and still tick the progress bar."""

COPY_MIN_ROWS = 500
"""From this many rows of a kind, PostgreSQL gets them by COPY: below it the temporary table's own statements cost as
much as they save (measured: even at 300 rows, COPY ahead from 1,000), and an API write creating a table each time
would churn the system catalogue."""

PENDING = ("talent", "need")
"""Kinds with a ``match_pending`` flag (the alerts change feed): set in the transaction that writes a new or changed
talent or a new need, cleared (``Store.matched``) once alerts have matched it, so a crash in between loses nothing:
the next start (or ``talentmatch alerts dispatch``) matches what is still pending."""

CASCADED = {"talent": ("feedback", "relation"), "need": ("feedback",)}
"""Kinds deleted with the record they reference (``ON DELETE CASCADE``): they never block its deletion."""

ProgressFn = Callable[[str, int, int], None]
"""``progress(kind, done, total)`` while rows are written."""


@cache
def _get_statement(kind: str) -> sa.Select:
    """``Store.get``'s statement per kind, built once (every ranking reads its need): the record as JSON text,
    validated in one step as ``iter_records`` does, not parsed into dicts first."""
    t = db.table(kind)
    return sa.select(sa.cast(t.c.data, sa.Text)).where(t.c.id == sa.bindparam("id"))


class StoreError(Exception):
    """A request the store cannot carry out; the message says why and what to do."""


class ImportFailed(StoreError):
    """Records failed validation; nothing was written. ``issues`` lists every problem."""

    def __init__(self, issues: list[ImportIssue]) -> None:
        self.issues = issues
        shown = "\n".join(str(i) for i in issues[:10])
        more = f"\n… and {len(issues) - 10} more" if len(issues) > 10 else ""
        super().__init__(f"{len(issues)} invalid record(s); nothing was written:\n{shown}{more}")


@dataclass
class ImportReport:
    """What an import did (or, with ``dry_run``, would do) per kind; with any issue, nothing was written."""

    issues: list[ImportIssue] = field(default_factory=list)
    inserted: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    unchanged: dict[str, int] = field(default_factory=dict)
    dry_run: bool = False
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.issues

    @property
    def records(self) -> int:
        return sum(self.inserted.values()) + sum(self.updated.values()) + sum(self.unchanged.values())

    def to_dict(self, max_issues: int | None = None) -> dict[str, Any]:
        kinds = [k for k in RECORD_TYPES if k in self.inserted]
        return {
            "ok": self.ok,
            "dry_run": self.dry_run,
            "written": self.ok and not self.dry_run,
            "records": self.records if self.ok else 0,
            "seconds": round(self.seconds, 3),
            "kinds": {
                k: {"inserted": self.inserted[k], "updated": self.updated[k], "unchanged": self.unchanged[k]}
                for k in kinds
            }
            if self.ok
            else {},
            "error_count": len(self.issues),
            "errors": [str(i) for i in self.issues[:max_issues]],
        }


@dataclass
class _Batch:
    """One kind's records with where each came from (file and line), for messages."""

    kind: str
    records: list[Record]
    origins: list[tuple[str, int]]


class Store:
    """Records in a SQLAlchemy database (SQLite file by default, PostgreSQL when scaled)."""

    def __init__(self, url: str, *, engine: Engine | None = None) -> None:
        self.url = db.normalize_url(url)
        ensure_sqlite_dir(self.url)
        self.engine = engine or db.make_engine(self.url)
        self.group_commit = GroupCommit(self.engine)
        """Where a served page's receipt and audit rows are written (``service.group_commit``)."""

    def close(self) -> None:
        self.group_commit.close()
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- schema ----------------------------------------------------------------------------------------------------

    def upgrade(self) -> str:
        """Run the migrations up to head; returns the revision."""
        return db.upgrade(self.engine)

    def revision(self) -> str | None:
        """The schema revision, or ``None`` for a database talentmatch has not set up (a missing SQLite file is
        not created by asking)."""
        if self._missing_sqlite_file():
            return None
        with self.engine.connect() as conn:
            return db.current_revision(conn)

    def check_schema(self) -> None:
        """Raise a ``StoreError`` saying what to run unless the schema is at head."""
        current, head = self.revision(), db.head_revision()
        if current is None:
            raise StoreError(
                f"{db.safe_url(self.url)} has no talentmatch tables; run `talentmatch db upgrade` (or import data)"
            )
        if current != head:
            raise StoreError(
                f"{db.safe_url(self.url)} is at schema revision {current}, the code expects {head}; "
                "run `talentmatch db upgrade`"
            )

    def _missing_sqlite_file(self) -> bool:
        url = self.engine.url
        return (
            url.get_backend_name() == "sqlite"
            and url.database not in (None, "", ":memory:")
            and not Path(url.database).exists()
        )

    # --- reads -----------------------------------------------------------------------------------------------------

    def get(self, kind: str, record_id: str) -> Record | None:
        with self.engine.connect() as conn:
            text = conn.scalar(_get_statement(_check_kind(kind)), {"id": record_id})
        return None if text is None else RECORD_TYPES[kind].model_validate_json(text)

    def ids(self, kind: str) -> list[str]:
        t = db.table(_check_kind(kind))
        with self.engine.connect() as conn:
            return sorted(conn.scalars(sa.select(t.c.id)))

    def count(self, kind: str) -> int:
        t = db.table(_check_kind(kind))
        with self.engine.connect() as conn:
            return conn.scalar(sa.select(sa.func.count()).select_from(t)) or 0

    def counts(self) -> dict[str, int]:
        return {kind: self.count(kind) for kind in RECORD_TYPES}

    def iter_records(self, kind: str) -> Iterator[Record]:
        """Every record of a kind, streamed in id order (server-side cursor where the driver has one). Rows come
        as JSON text validated in one step (``model_validate_json``): no intermediate dicts, whose freed memory,
        interleaved with the records kept, held ~300 MB of a 100k-talent server's heap that was never returned."""
        t = db.table(_check_kind(kind))
        model = RECORD_TYPES[kind]
        with self.engine.connect().execution_options(stream_results=True, yield_per=CHUNK) as conn:
            for text in conn.scalars(sa.select(sa.cast(t.c.data, sa.Text)).order_by(t.c.id)):
                yield model.model_validate_json(text)

    def export(self, out_dir: str | Path) -> dict[str, tuple[Path, int]]:
        """Write each kind that has records to ``out_dir/<kind file>.jsonl`` (canonical, sorted by id), so an export
        re-imports to the same database and exports to the same bytes. Returns kind → (path, count)."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        written: dict[str, tuple[Path, int]] = {}
        for kind, name in WORLD_FILES.items():
            if self.count(kind):
                path = out / name
                written[kind] = (path, write_records(path, self.iter_records(kind)))
        return written

    # --- writes ----------------------------------------------------------------------------------------------------

    def import_path(
        self,
        path: str | Path,
        kind: str | None = None,
        *,
        dry_run: bool = False,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        read_progress: Callable[[str, int], None] | None = None,
        write_progress: ProgressFn | None = None,
    ) -> ImportReport:
        """Import a world directory, or one ``.jsonl``/``.csv`` file of ``kind`` (inferred from a standard file name
        such as ``talents.csv`` when omitted)."""
        t0 = time.perf_counter()
        path = Path(path)
        if not path.is_dir() and (kind := kind or kind_of_file(path)) is None:
            raise StoreError(f"cannot tell the record kind of {path.name}; pass --kind ({', '.join(RECORD_TYPES)})")
        with _collector_paused():  # the world is freed before the collector runs again: it never scans it
            report = self.import_world(
                _read(path, kind, max_line_bytes, read_progress), dry_run=dry_run, progress=write_progress
            )
        report.seconds = time.perf_counter() - t0
        return report

    def import_world(
        self, world: Mapping[str, Sequence[Record]], *, dry_run: bool = False, progress: ProgressFn | None = None
    ) -> ImportReport:
        """Validate references and write every record, or nothing. ``world`` maps kind → records: a ``World`` read
        from files (issues then name file and line) or any mapping (issues then name ``<kind>:index``)."""
        t0 = time.perf_counter()
        report = ImportReport(dry_run=dry_run)
        batches = _batches(world, report.issues)
        current = self.revision()
        # Migrate only for a write that can succeed: a failed import leaves even an empty database untouched.
        migrate = current != db.head_revision() and not dry_run and not report.issues
        if migrate and (current is not None or not _check_references(None, batches)):
            current = self.upgrade()
        if current is not None:
            self.check_schema()
        with _collector_paused(), self.engine.begin() if current is not None else nullcontext() as conn:
            report.issues += _check_references(conn, batches)
            if report.ok:
                if conn is not None and not dry_run:
                    lock_journal(conn)
                _classify_and_write(conn, batches, report, progress)
        report.seconds = time.perf_counter() - t0
        return report

    def upsert(self, records: Iterable[Record]) -> ImportReport:
        """Insert or update records of any kinds in one transaction; raises ``ImportFailed`` (nothing written) when
        any is invalid, e.g. references an unknown id."""
        grouped: dict[str, list[Record]] = {}
        for r in records:
            grouped.setdefault(r.record_kind, []).append(r)
        report = self.import_world(grouped)
        if not report.ok:
            raise ImportFailed(report.issues)
        return report

    def pending(self, kind: str, limit: int | None = None) -> list[Record]:
        """Records of ``kind`` written but not yet matched for alerts (see ``PENDING``), in id order."""
        t = db.table(kind)
        # ``= true``, not the bare column: only a comparison uses the match_pending index (SQLite otherwise walks
        # every record in id order, ~0.4–0.7 s at 100k talents when none is pending: each start's alerts pass)
        pending = t.c.match_pending == sa.true()
        with self.engine.connect() as conn:
            rows = conn.scalars(sa.select(t.c.data).where(pending).order_by(t.c.id).limit(limit)).all()
        return [RECORD_TYPES[kind].model_validate(d) for d in rows]

    def matched(self, records: Iterable[Record]) -> int:
        """Clear the ``match_pending`` flag of these records, as long as the stored version is the one matched (a
        newer write keeps its own flag); returns how many were cleared."""
        by_kind: dict[str, list[tuple[str, str]]] = {}
        for r in records:
            if r.record_kind in PENDING:
                data = r.model_dump_json(exclude_defaults=True).encode()
                by_kind.setdefault(r.record_kind, []).append((r.id, hashlib.blake2b(data, digest_size=16).hexdigest()))
        cleared = 0
        if not by_kind:
            return cleared
        with self.engine.begin() as conn:
            for kind, pairs in by_kind.items():
                t = db.table(kind)
                clear = sa.update(t).where(t.c.id == sa.bindparam("rid"), t.c.digest == sa.bindparam("rdigest"),
                                           t.c.match_pending).values(match_pending=False)  # fmt: skip
                for rid, d in pairs:
                    cleared += conn.execute(clear, {"rid": rid, "rdigest": d}).rowcount
        return cleared

    def talent_versions(self, talent_id: str) -> list[Record]:
        """The earlier versions kept of a talent (see ``db.TalentVersionRow``)."""
        v = db.TalentVersionRow.__table__
        with self.engine.connect() as conn:
            rows = conn.scalars(sa.select(v.c.data).where(v.c.talent_id == talent_id).order_by(v.c.id)).all()
        return [RECORD_TYPES["talent"].model_validate(d) for d in rows]

    def delete(self, kind: str, record_id: str) -> bool:
        """Delete one record (a talent's or need's feedback goes with it). Refuses, naming the referrers, when other
        records still point at it. Returns whether the record existed."""
        t = db.table(_check_kind(kind))
        with self.engine.begin() as conn:
            lock_journal(conn)
            for ref_kind, refs in REFERENCES.items():
                for field_name, target in refs.items():
                    if target != kind or ref_kind in CASCADED.get(kind, ()):
                        continue
                    ref_table = db.table(ref_kind)
                    col = ref_table.c[field_name]
                    n = conn.scalar(sa.select(sa.func.count()).select_from(ref_table).where(col == record_id)) or 0
                    if n:
                        raise StoreError(
                            f"cannot delete {kind} {record_id!r}: {n} {ref_kind} record(s) reference it via "
                            f"{field_name}; delete them or point them elsewhere first"
                        )
            deleted = conn.execute(sa.delete(t).where(t.c.id == record_id)).rowcount > 0
            if deleted:
                journal(conn, kind, [record_id], "delete")
            return deleted

    # --- the change journal ----------------------------------------------------------------------------------------

    def change_head(self) -> int:
        """The newest ``seq`` in the change journal (0 when empty): read it before loading the records, and every
        change after it is either in what was loaded or in ``changes_since(head)``."""
        c = db.ChangeRow.__table__
        with self.engine.connect() as conn:
            return conn.scalar(sa.select(sa.func.max(c.c.seq))) or 0

    def changes_since(self, seq: int, limit: int = CHUNK) -> list[Change]:
        """Up to ``limit`` journal rows after ``seq``, oldest first. Raises ``JournalPruned`` when changes after
        ``seq`` were pruned (``prune_journal``): the reader must rebuild from the records instead."""
        c = db.ChangeRow.__table__
        query = sa.select(c.c.seq, c.c.kind, c.c.record_id, c.c.op).where(c.c.seq > seq).order_by(c.c.seq)
        with self.engine.connect() as conn:
            if seq < (horizon := _horizon(conn)):
                raise JournalPruned(seq, horizon)
            return [Change(*row) for row in conn.execute(query.limit(limit)) if row.kind != PRUNED[0]]

    def journal_horizon(self) -> int:
        """The seq up to which the journal was pruned (0: never): a reader that applied changes up to an older seq
        cannot catch up from the journal."""
        with self.engine.connect() as conn:
            return _horizon(conn)

    def prune_journal(self, *, keep_after: datetime, keep_from_seq: int | None = None) -> tuple[int, int]:
        """Delete the journal rows written before ``keep_after`` and at or before ``keep_from_seq`` (the oldest
        index snapshot's seq: a start from it needs the rows after), never the newest row (its seq is the head, which
        must not go back). The newest row pruned stays as a marker whose seq is the new horizon. Returns (horizon,
        rows deleted)."""
        c = db.ChangeRow.__table__
        with self.engine.begin() as conn:
            lock_journal(conn)
            before = _horizon(conn)
            head = conn.scalar(sa.select(sa.func.max(c.c.seq))) or 0
            where = [c.c.seq < head, c.c.at < keep_after]
            if keep_from_seq is not None:
                where.append(c.c.seq <= keep_from_seq)
            horizon = conn.scalar(sa.select(sa.func.max(c.c.seq)).where(*where)) or 0
            if horizon <= before:
                return before, 0
            deleted = conn.execute(sa.delete(c).where(c.c.seq < horizon)).rowcount
            kind, op = PRUNED
            conn.execute(sa.update(c).where(c.c.seq == horizon).values(kind=kind, record_id="", op=op))
        return horizon, deleted

    def identity(self) -> str:
        """The database's random id (made by its first migration to 0010): what index snapshots are tied to."""
        with self.engine.connect() as conn:
            return conn.scalar(sa.select(db.StoreIdentityRow.__table__.c.id))

    def deleted_since(self, kind: str, seq: int) -> bool:
        """Whether a record of ``kind`` was deleted after journal ``seq`` (an erased talent, for snapshots)."""
        c = db.ChangeRow.__table__
        query = sa.select(c.c.seq).where(c.c.seq > seq, c.c.kind == _check_kind(kind), c.c.op == "delete").limit(1)
        with self.engine.connect() as conn:
            return conn.scalar(query) is not None

    def get_many(self, kind: str, record_ids: Iterable[str]) -> dict[str, Record]:
        """The stored records of ``kind`` among ``record_ids`` (missing ones are left out)."""
        t = db.table(_check_kind(kind))
        model, wanted, out = RECORD_TYPES[kind], sorted(set(record_ids)), {}
        with self.engine.connect() as conn:
            for start in range(0, len(wanted), CHUNK):
                chunk = wanted[start : start + CHUNK]
                for rid, data in conn.execute(sa.select(t.c.id, t.c.data).where(t.c.id.in_(chunk))):
                    out[rid] = model.model_validate(data)
        return out


@dataclass(frozen=True)
class Change:
    """One journal row: ``op`` is ``put`` (the record was inserted or changed) or ``delete``."""

    seq: int
    kind: str
    record_id: str
    op: str


class JournalPruned(StoreError):
    """Changes a reader needs were pruned from the journal: it must rebuild its indices from the records."""

    def __init__(self, since: int, horizon: int) -> None:
        super().__init__(
            f"the change journal was pruned up to change {horizon}, past change {since} these indices reflect; they "
            "must be rebuilt from the store"
        )
        self.since, self.horizon = since, horizon


PRUNED = ("journal", "pruned")
"""(kind, op) of the marker row ``prune_journal`` leaves at the horizon: always the oldest row once pruned."""


def digest(record: Record) -> str:
    """The digest the store keeps of a record: of its canonical JSON (as ``_classify_and_write`` computes it)."""
    return hashlib.blake2b(record.model_dump_json(exclude_defaults=True).encode(), digest_size=16).hexdigest()


def _horizon(conn: Connection) -> int:
    c = db.ChangeRow.__table__
    oldest = conn.execute(sa.select(c.c.seq, c.c.kind, c.c.op).order_by(c.c.seq).limit(1)).first()
    return oldest.seq if oldest is not None and (oldest.kind, oldest.op) == PRUNED else 0


JOURNAL_LOCK = 0x7A1E47
"""PostgreSQL advisory lock key every record writer takes (``lock_journal``) before its first write."""


def lock_journal(conn: Connection) -> None:
    """On PostgreSQL, concurrent transactions could commit journal rows out of ``seq`` order, and a poller that has
    read past a seq would skip a lower one committed late: record writers take one transaction-scoped advisory lock
    before they write anything (so also before any row lock: no deadlock), making commit order ``seq`` order.
    SQLite has one writer at a time anyway."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": JOURNAL_LOCK})


def journal(conn: Connection, kind: str, record_ids: Sequence[str], op: str) -> None:
    """Journal rows for records this transaction wrote (``put``) or deleted (``delete``): ids only. On PostgreSQL
    ``COPY_MIN_ROWS`` or more go by COPY (an import's 20k rows took 1.2 s as executemany), stamped with the
    transaction's ``current_timestamp`` as the statement would be."""
    if conn.dialect.driver == "psycopg" and len(record_ids) >= COPY_MIN_ROWS:
        with conn.connection.driver_connection.cursor() as cursor:
            at = cursor.execute("SELECT current_timestamp").fetchone()[0]
            with cursor.copy(f'COPY "{db.ChangeRow.__tablename__}" (kind, record_id, op, at) FROM STDIN') as copy:
                for rid in record_ids:
                    copy.write_row((kind, rid, op, at))
        return
    statement = sa.insert(db.ChangeRow.__table__).values(at=sa.func.current_timestamp())
    rows = [{"kind": kind, "record_id": rid, "op": op} for rid in record_ids]
    for start in range(0, len(rows), CHUNK):
        conn.execute(statement, rows[start : start + CHUNK])


def _read(path: Path, kind: str | None, max_line_bytes: int, progress: Callable[[str, int], None] | None) -> World:
    """A world directory, or one file of ``kind``, read and validated."""
    if path.is_dir():
        return load_world(path, max_line_bytes=max_line_bytes, progress=progress)
    tick = (lambda n: progress(str(path), n)) if progress else None
    return World({kind: read_records(path, _check_kind(kind), max_line_bytes=max_line_bytes, progress=tick)})


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for an import: its passes re-scan every record read so far, a third of
    a 20k-talent import's CPU (measured: 3.1 → 2.1 s). Reference counting still frees what the import drops (records
    hold no cycles), and the collector runs again afterwards unless it was already off (by another thread's import
    too: then that one turns it back on)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _check_kind(kind: str) -> str:
    if kind not in RECORD_TYPES:
        raise StoreError(f"unknown record kind {kind!r}; use one of {', '.join(RECORD_TYPES)}")
    return kind


def _batches(world: Mapping[str, Sequence[Record]], issues: list[ImportIssue]) -> dict[str, _Batch]:
    """Records by kind in dependency order, with their origins; problems found reading go into ``issues``."""
    out: dict[str, _Batch] = {}
    if isinstance(world, World):
        issues += world.issues
        for kind, result in world.files.items():
            out[kind] = _Batch(kind, result.records, [(result.file, n) for n in result.lines])
        return out
    for kind in world:
        _check_kind(kind)
    for kind in RECORD_TYPES:
        records = list(world.get(kind, ()))
        if not records:
            continue
        label = f"<{kind}>"
        seen: dict[str, int] = {}
        batch = _Batch(kind, [], [])
        for i, r in enumerate(records, start=1):
            if not isinstance(r, RECORD_TYPES[kind]):
                raise TypeError(f"{label} item {i} is a {type(r).__name__}, not a {RECORD_TYPES[kind].__name__}")
            first = seen.setdefault(r.id, i)
            if first != i:
                issues.append(ImportIssue(label, i, "id", f"duplicate id {r.id!r} (also item {first})"))
                continue
            batch.records.append(r)
            batch.origins.append((label, i))
        out[kind] = batch
    return out


def _existing_ids(conn: Connection | None, kind: str, ids: Iterable[str]) -> set[str]:
    """Which of ``ids`` the database holds for ``kind`` (none when there is no schema yet)."""
    if conn is None:
        return set()
    t = db.table(kind)
    wanted = sorted(set(ids))
    found: set[str] = set()
    for start in range(0, len(wanted), CHUNK):
        found.update(conn.scalars(sa.select(t.c.id).where(t.c.id.in_(wanted[start : start + CHUNK]))))
    return found


def _digests(conn: Connection | None, batch: _Batch) -> dict[str, str]:
    """id → digest of the rows of this batch that already exist."""
    if conn is None:
        return {}
    t = db.table(batch.kind)
    if not conn.scalar(sa.select(sa.literal(1)).select_from(t).limit(1)):
        return {}
    ids = [r.id for r in batch.records]
    out: dict[str, str] = {}
    for start in range(0, len(ids), CHUNK):
        out.update(conn.execute(sa.select(t.c.id, t.c.digest).where(t.c.id.in_(ids[start : start + CHUNK]))).all())
    return out


def _check_references(conn: Connection | None, batches: dict[str, _Batch]) -> list[ImportIssue]:
    """Every reference must name a record in this batch or already in the database."""
    batch_ids = {k: {r.id for r in b.records} for k, b in batches.items()}
    wanted: dict[str, set[str]] = {}
    for kind, refs in REFERENCES.items():
        for record in batches[kind].records if kind in batches else ():
            for field_name, target in refs.items():
                value = getattr(record, field_name)
                if value is not None and value not in batch_ids.get(target, ()):
                    wanted.setdefault(target, set()).add(value)
    known = {target: _existing_ids(conn, target, ids) for target, ids in wanted.items()}
    issues: list[ImportIssue] = []
    for kind, refs in REFERENCES.items():
        if kind not in batches:
            continue
        batch = batches[kind]
        for record, (file, line) in zip(batch.records, batch.origins, strict=True):
            for field_name, target in refs.items():
                value = getattr(record, field_name)
                if value is not None and value not in batch_ids.get(target, ()) and value not in known[target]:
                    issues.append(
                        ImportIssue(
                            file, line, field_name, f"unknown {target} {value!r}; import it first or fix the id"
                        )
                    )
    return issues


def _classify_and_write(
    conn: Connection | None, batches: dict[str, _Batch], report: ImportReport, progress: ProgressFn | None
) -> None:
    """Count inserted / updated / unchanged per kind and, unless a dry run, upsert the new and changed rows."""
    # model_dump_json(exclude_defaults=True) is dump(record) serialised (a test holds them equal), minus a dict pass.
    for kind, batch in batches.items():
        known = _digests(conn, batch)
        rows: list[dict[str, Any]] = []
        inserted = unchanged = 0
        for record in batch.records:
            data = db.RawJSON(record.model_dump_json(exclude_defaults=True))
            digest = hashlib.blake2b(data.encode(), digest_size=16).hexdigest()
            old = known.get(record.id)
            if old == digest:
                unchanged += 1
                continue
            inserted += old is None
            row = {"id": record.id, "digest": digest, "data": data} | db.query_values(kind, record)
            if kind in PENDING:
                row["match_pending"] = kind == "talent" or old is None  # a need alerts only when posted
            rows.append(row)
        report.inserted[kind] = inserted
        report.updated[kind] = len(rows) - inserted
        report.unchanged[kind] = unchanged
        if report.dry_run or conn is None:
            continue
        if kind == "talent" and len(rows) > inserted:
            _keep_versions(conn, [r["id"] for r in rows if r["id"] in known])
        _write_rows(conn, kind, rows, progress)
        journal(conn, kind, [r["id"] for r in rows], "put")


def _keep_versions(conn: Connection, talent_ids: list[str]) -> None:
    """Copy the versions about to be replaced into ``talent_versions`` (erasure reads them to find every cached
    vector of the talent's earlier texts)."""
    t, v = db.table("talent"), db.TalentVersionRow.__table__
    for start in range(0, len(talent_ids), CHUNK):
        old = sa.select(t.c.id, t.c.data, sa.func.current_timestamp()).where(
            t.c.id.in_(talent_ids[start : start + CHUNK])
        )
        conn.execute(sa.insert(v).from_select(["talent_id", "data", "replaced_at"], old))


def _write_rows(conn: Connection, kind: str, rows: list[dict[str, Any]], progress: ProgressFn | None) -> None:
    """Upsert a kind's new and changed rows: PostgreSQL streams ``COPY_MIN_ROWS`` or more with COPY into a temporary
    table and merges it in one statement (a row-by-row executemany costs the server a statement per row); fewer, and
    SQLite's (in-process), go in executemany batches of ``WRITE_CHUNK``."""
    if not rows:
        return
    if conn.dialect.driver == "psycopg" and len(rows) >= COPY_MIN_ROWS:  # psycopg 3, the PostgreSQL driver we ship
        _copy_upsert(conn, kind, rows, progress)
        return
    statement = _upsert_statement(conn, kind)
    for start in range(0, len(rows), WRITE_CHUNK):
        conn.execute(statement, rows[start : start + WRITE_CHUNK])
        if progress:
            progress(kind, min(start + WRITE_CHUNK, len(rows)), len(rows))


def _copy_upsert(conn: Connection, kind: str, rows: list[dict[str, Any]], progress: ProgressFn | None) -> None:
    """``COPY`` the rows into a temporary table shaped like the kind's (no constraints, no indices), then one
    ``INSERT … SELECT … ON CONFLICT DO UPDATE`` from it, all inside the import's transaction."""
    t = db.table(kind)
    columns = list(rows[0])  # every row of a kind has the same keys; written_at is the server's clock
    staging = sa.table(f"talentmatch_import_{t.name}", *(sa.column(c) for c in columns))
    names = ", ".join(f'"{c}"' for c in columns)
    cursor = conn.connection.driver_connection.cursor()  # the same connection, so the same transaction
    with cursor:
        cursor.execute(
            f'CREATE TEMPORARY TABLE "{staging.name}" ON COMMIT DROP AS SELECT {names} FROM "{t.name}" WITH NO DATA'
        )
        with cursor.copy(f'COPY "{staging.name}" ({names}) FROM STDIN') as copy:
            for done, row in enumerate(rows, start=1):
                copy.write_row([row[c] for c in columns])
                if progress and (done % CHUNK == 0 or done == len(rows)):
                    progress(kind, done, len(rows))
    stmt = postgresql.insert(t).from_select(
        [*columns, "written_at"], sa.select(*staging.c, sa.func.current_timestamp())
    )
    conn.execute(_on_conflict_update(stmt, kind))
    conn.execute(sa.text(f'DROP TABLE "{staging.name}"'))


def _upsert_statement(conn: Connection, kind: str) -> Any:
    """``INSERT … ON CONFLICT (id) DO UPDATE`` in the connection's dialect."""
    t = db.table(kind)
    dialect = conn.dialect.name
    if dialect == "sqlite":
        stmt = sqlite.insert(t)
    elif dialect == "postgresql":
        stmt = postgresql.insert(t)
    else:
        raise StoreError(f"unsupported database {dialect!r}; use SQLite or PostgreSQL")
    stmt = stmt.values(written_at=sa.func.current_timestamp())  # the database's clock, one value per transaction
    return _on_conflict_update(stmt, kind)


def _on_conflict_update(stmt: Any, kind: str) -> Any:
    """An existing id takes every new value (the digest and ``written_at`` with them)."""
    t = db.table(kind)
    update = {c.name: stmt.excluded[c.name] for c in t.columns if c.name != "id"}
    if kind in PENDING:  # a need's posted digest still owed survives an edit before it was sent
        update["match_pending"] = sa.or_(t.c.match_pending, stmt.excluded.match_pending)
    return stmt.on_conflict_do_update(index_elements=[t.c.id], set_=update)
