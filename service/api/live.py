"""Writes that change the store and the in-memory indices together, so a new talent is rankable on the next request.

After indexing, each callable in ``state.after_write`` (if any) gets the list of (previous version or ``None``,
new record) of the talents and needs that changed, under the shared (readers') side of the index lock: alerts
match new talents there while rankings go on; their own state has its own lock.

One lock serialises writers (two writers must not interleave index updates) and keeps readers out meanwhile
(``service.locking.IndexLock``); writes that arrive while it is taken or awaited queue and run together in the next
exclusive section (``service.locking.WriteBatches``), each with its own outcome. The store is written first, in one
transaction that validates every reference, and only a successful write reaches the indices. If indexing then
fails (an encoder failure, not bad input), the record is safely stored but the process no longer matches the
store: it says so in ``/readyz`` until restarted, and the write gets 503.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from features.indices import Indices
from features.records import Enterprise, Incubator, Need, Record, Relation, Talent
from service.api.errors import ApiError
from service.indexing import return_freed_heap
from service.store import ImportFailed, ImportReport, Store

log = logging.getLogger("talentmatch.api")

Guard = Callable[[Record | None], AbstractContextManager[Any]]
"""Checks a write against the stored version of its record (``None``: new), under the write lock."""


CRASH_AT = "TALENTMATCH_TEST_CRASH_AT"
"""Test hook: ``after-commit`` ends the process (``os._exit``) right after a write commits, before indexing and
alerts, so the tests can show that the alerts change feed (``service.store.PENDING``) survives a crash there."""


def crash_point(name: str) -> None:
    if os.environ.get(CRASH_AT) == name:
        os._exit(70)


class Writer:
    """Store + indices writes for one request (cheap to make: it holds references to the app's state)."""

    def __init__(self, state: Any) -> None:
        self.state = state
        self.store: Store = state.store

    @property
    def indices(self) -> Indices:
        """The app's indices as they are now: read under the writers' lock, they stay these until it is released
        (a move onto a newer snapshot, ``service.sync.Sync.pickup``, holds that lock too)."""
        return self.state.indices

    def create(self, record: Record, *, guard: Guard | None = None) -> None:
        """Insert a new record; 409 if its id is taken. ``guard`` as for ``put``."""

        def job() -> list[tuple[Record | None, Record]]:
            if self.store.get(record.record_kind, record.id) is not None:
                raise ApiError(409, f"{record.record_kind} {record.id!r} already exists; PUT it to replace it",
                               field="id")  # fmt: skip
            with guard(None) if guard is not None else nullcontext():
                return self._write_one(record)

        self._batched(job)

    def put(self, record: Record, *, guard: Guard | None = None) -> bool:
        """Insert or replace a record; returns whether it was new. ``guard`` gets the stored version (``None``: new)
        under the write lock, so what it checks (who owns the record) cannot change before the write; it raises to
        refuse, or returns a context the write runs in (a quota unit, given back if the write fails)."""
        new = False

        def job() -> list[tuple[Record | None, Record]]:
            nonlocal new
            old = self.store.get(record.record_kind, record.id)
            new = old is None
            with guard(old) if guard is not None else nullcontext():
                return self._write_one(record)

        self._batched(job)
        return new

    def write(
        self, batch: Mapping[str, Sequence[Record]], *, then: Callable[[ImportReport], object] | None = None
    ) -> ImportReport:
        """Write a batch (a ``features.io.World`` from an upload, or kind → records) all or nothing; raises
        ``ImportFailed`` listing every problem when any record is invalid. ``then`` runs once the batch is stored and
        indexed, outside the writers' lock, before its after-write hooks (alerts): an import links its talents into
        people first, so that a copy of someone already alerted is matched as that person."""
        report: ImportReport | None = None
        held: list[tuple[Record | None, Record]] = []

        def job() -> list[tuple[Record | None, Record]]:
            nonlocal report
            report = self.store.import_world(batch)
            if not report.ok:
                raise ImportFailed(report.issues)
            crash_point("after-commit")
            changed = self._index(batch)
            if then is None:
                return changed
            held.extend(changed)  # its after-write step waits for ``then`` (pending in the store meanwhile)
            return []

        self._batched(job)
        assert report is not None
        if then is not None:
            try:
                then(report)
            finally:
                self._after(held)
        return report

    def _batched(self, job: Callable[[], list[tuple[Record | None, Record]]]) -> None:
        """Run ``job`` (store, then index) under the writers' lock, batched with writes that arrive meanwhile
        (``service.locking.WriteBatches``), then the after-write hooks."""
        self.state.write_batches.run(job, self._settle, self._after)

    def _settle(self) -> None:
        """Bring the indices up to date, then hand back the heap the old version freed: glibc keeps it otherwise
        (at 1M talents, after 20 writes each followed by a ranking, 1,491 → 1,418 MB resident; the trim took 1–3 ms
        there)."""
        self.indices.settle()
        return_freed_heap()

    def delete_relation(self, relation_id: str) -> bool:
        """Delete a relation from the store and the conflict rule's data; returns whether it existed."""
        with self.state.index_lock:
            deleted = self.store.delete("relation", relation_id)
            self.indices.ties.remove_relation(relation_id)
        return deleted

    def _write_one(self, record: Record) -> list[tuple[Record | None, Record]]:
        report = self.store.import_world({record.record_kind: [record]})
        if not report.ok:
            issue = report.issues[0]
            raise ApiError(422, f"{issue.field}: {issue.message}", field=None if issue.field == "-" else issue.field)
        crash_point("after-commit")
        return self._index({record.record_kind: [record]})

    def _index(self, batch: Mapping[str, Sequence[Record]]) -> list[tuple[Record | None, Record]]:
        """Bring the indices up to date with records just stored (unchanged ones are skipped)."""
        ix = self.indices
        changed: list[tuple[Record | None, Record]] = []  # (previous version or None, new) for after-write hooks
        try:
            for r in (r for records in batch.values() for r in records):
                if isinstance(r, Talent) and (old := ix.talents.get(r.id)) != r:
                    ix.add_talent(r)
                    changed.append((old, r))
                elif isinstance(r, Need) and (old := ix.needs.get(r.id)) != r:
                    ix.add_need(r)
                    changed.append((old, r))
                elif isinstance(r, Incubator):
                    ix.put_incubator(r)
                elif isinstance(r, Relation):
                    ix.ties.put_relation(r)
                elif isinstance(r, Enterprise):
                    ix.ties.put_enterprise(r)  # its names: whose employer it is (the conflict rule)
                # Enterprises and platforms: the graph has no incremental update for them; a need's
                # enterprise node is created with the need, its platform edge at the next start.
        except Exception as e:
            reason = f"indexing {r.record_kind} {r.id!r} failed after it was stored: {e}"
            log.exception(reason)
            self.state.stale = f"{reason}; restart the service to rebuild the indices from the store"
            raise ApiError(503, f"{reason}; the record is stored and will be indexed when the service restarts") from e
        return changed  # the indices settle once per batch of writes (``service.locking.WriteBatches``)

    def _after(self, changed: list[tuple[Record | None, Record]]) -> None:
        """The after-write hooks, on the readers' side of the lock: matching reads the indices but changes none of
        them, so rankings go on meanwhile (an erasure still cannot interleave)."""
        if not changed:
            return
        failed = False
        with self.state.index_lock.read():
            for hook in getattr(self.state, "after_write", ()):
                try:
                    hook(changed)  # e.g. alerts matching new talents; the write itself has succeeded either way
                except Exception:
                    failed = True
                    log.exception("after-write hook %r failed; the write is stored and indexed", hook)
        if not failed:  # else the records stay pending and the next catch-up pass matches them
            self.store.matched(new for _, new in changed)
