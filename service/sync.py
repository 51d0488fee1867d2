"""Cross-process index sync: this process's indices follow the writes other API processes (on this host or others)
make to the same store, through the store's change journal (``Store.changes_since``).

``catch_up(state, since)`` applies every change after journal ``seq`` ``since`` exactly as this process's own
writes are applied (``service.api.live.Writer``, ``service.erasure``) and returns the seq it got to. It serves a
process that just started (``since``: the journal head read before the records were loaded, or the seq an index
snapshot was taken at) as well as the poller (``Sync``), which calls it every ``TALENTMATCH_SYNC_SECONDS``. Changes
are coalesced per record and read in pages; the records that differ from the indices are read again and applied
under the index writer lock (so a write of this process cannot slip in between the read and the apply), a page's
talents as one batch (``Indices.add_talents``), and settled before readers come back. A change already in the
indices (this process's own write, or a record loaded after the head was read) costs one read of the record and no
lock. Alerts are not matched here: the process that wrote a record matched it.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from prometheus_client import Gauge

from features.records import Enterprise, Incubator, Need, Relation
from service import db, erasure, snapshots
from service.settings import Settings
from service.store import Change, JournalPruned, Store

log = logging.getLogger("talentmatch.api")

PAGE = 500
"""Journal rows read and applied per hold of the index writer lock: readers get in between pages."""


def catch_up(state: Any, since: int, *, page: int = PAGE) -> int:
    """Apply the journal's changes after ``since`` to ``state.indices`` (and the ranking cache); returns the last
    seq applied (``since`` when there was nothing). Raises when applying fails: the seq then stays where the last
    whole page got, and a later call retries from there (every step is idempotent).

    ``state`` is the app state (``service.api.app``): ``store``, ``indices``, ``index_lock``, ``receipt_lock``,
    ``rank_cache`` and ``settings`` are used; ``alerts`` when installed. Right after indices are loaded from a
    snapshot taken at journal seq ``S``, ``catch_up(state, S)`` brings them up to the store. A running process's
    indices reflect at least ``state.sync.applied`` (read under the index lock, e.g. to snapshot them); they may
    hold later changes too (its own writes), which a later ``catch_up`` finds already applied."""
    store: Store = state.store
    while state.indices is not None:
        changes = store.changes_since(since, limit=page)
        if not changes:
            break
        _apply(state, changes)
        since = changes[-1].seq
        if len(changes) < page:
            break
    return since


KINDS = ("incubator", "enterprise", "need", "talent", "relation")
"""The kinds the indices hold, in the order they are applied (enterprises: only their names, for the conflict rule's
inferred employees). Platforms: as for this process's own writes (``live.Writer``), nothing to update; feedback is
read from the store when training."""


def _apply(state: Any, changes: list[Change]) -> None:
    """One page: erasures first (each as ``service.erasure`` does it), then the records as stored now. Records
    compared with the indices outside the lock first: when every change is already applied (this process's own
    writes), readers are not held up at all."""
    last: dict[tuple[str, str], str] = {}
    erased: set[str] = set()
    for c in changes:
        last[(c.kind, c.record_id)] = c.op
        if c.kind == "talent" and c.op == "delete":
            erased.add(c.record_id)
    for talent_id in sorted(erased):
        # erased by another process (maybe put again since): scrub every row and cached ranking of them here, and
        # re-run the store's steps, which are idempotent: they catch the receipts, alerts and saved searches this
        # process wrote naming the talent before it learnt of the erasure
        if (indexed := state.indices.talents.get(talent_id)) is not None:
            erasure.erase_talent(state, indexed, replica=True)
    ix = state.indices
    todo = {kind: [rid for (k, rid) in last if k == kind] for kind in KINDS}
    for kind, ids in todo.items():
        stored = state.store.get_many(kind, ids) if ids else {}
        todo[kind] = [rid for rid in ids if _differs(ix, kind, rid, stored.get(rid))]
    if not any(todo.values()):
        return
    with state.index_lock:
        try:
            for kind, ids in todo.items():
                # read again under the lock: a write of this process in between is newer than the first read
                stored = state.store.get_many(kind, ids) if ids else {}
                changed = [rid for rid in ids if _differs(ix, kind, rid, stored.get(rid))]
                if kind == "talent":  # one batch: one dense encoding for the page
                    ix.add_talents([stored[rid] for rid in changed])
                else:
                    for rid in changed:
                        _put(ix, kind, rid, stored.get(rid))
        finally:
            ix.settle()  # readers, let in once the lock is released, find nothing left to rebuild
    if todo["need"] and (matcher := getattr(state, "alerts", None)) is not None:
        matcher.follow(todo["need"])  # the alert matcher's need set in step (no alerts: the writer sent them)


def _differs(ix: Any, kind: str, rid: str, record: Any) -> bool:
    """Whether the indices hold something else than the stored ``record`` (``None``: deleted) of ``rid``. A talent
    gone from the store leaves through its erasure's own journal row."""
    if kind == "talent":
        return record is not None and ix.talents.get(rid) != record
    if kind == "enterprise":
        return record is not None and ix.ties.enterprise_keys.get(rid) != ix.ties.keys_of(record)
    held = {"need": ix.needs, "incubator": ix.incubators, "relation": ix.ties.relations}[kind]
    return held.get(rid) != record


def _put(ix: Any, kind: str, rid: str, record: Any) -> None:
    if isinstance(record, Need):
        ix.add_need(record)
    elif isinstance(record, Incubator):
        ix.incubators[rid] = record
    elif isinstance(record, Enterprise):
        ix.ties.put_enterprise(record)
    elif isinstance(record, Relation):
        ix.ties.put_relation(record)
    elif kind == "relation":
        ix.ties.remove_relation(rid)
    elif kind == "need":
        ix.remove_need(rid)
    elif kind == "incubator":
        ix.incubators.pop(rid, None)


class Sync:
    """The poller: ``catch_up`` every ``seconds`` in a daemon thread, from ``applied`` on. A failing poll is logged
    and retried at the next tick; it never stops the thread. ``lag()`` is what ``/readyz`` and ``/metrics`` show."""

    def __init__(self, state: Any, applied: int, seconds: float) -> None:
        self.state, self.applied, self.seconds = state, applied, seconds
        self.last_ok = time.monotonic()
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._poll_lock = threading.Lock()
        self._subscriptions: tuple | None = None

    def start(self) -> None:
        if self.seconds > 0:
            self._thread = threading.Thread(target=self._run, name="talentmatch-sync", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def poll(self) -> int:
        """One pass now; returns the seq applied (also what a failed pass got to)."""
        with self._poll_lock:
            try:
                self.applied = catch_up(self.state, self.applied)
                self._follow_subscriptions()
            except JournalPruned as e:
                if self.error != str(e):  # once, not at every tick
                    log.error("sync: %s; restart the service to rebuild them", e)
                self.error = str(e)
                self.state.stale = f"{e}; restart the service to rebuild them"
            except Exception as e:
                self.error = f"{type(e).__name__}: {e}"
                log.exception("sync: catching up from change %d failed; retrying in %.1f s", self.applied,
                              self.seconds)  # fmt: skip
            else:
                self.error = None
                self.last_ok = time.monotonic()
            return self.applied

    def _follow_subscriptions(self) -> None:
        """Subscriptions another process created, verified or ended reach this process's alert matcher (they are
        not journalled records: their active count and newest id tell a change)."""
        if (matcher := getattr(self.state, "alerts", None)) is None:
            return
        t = db.SubscriptionRow.__table__
        with self.state.store.engine.connect() as conn:
            seen = tuple(conn.execute(sa.select(sa.func.count(), sa.func.max(t.c.id)).where(t.c.active)).one())
        if self._subscriptions not in (None, seen):
            matcher.follow()
        self._subscriptions = seen

    def _run(self) -> None:
        while not self._stop.wait(self.seconds):
            self.poll()

    def lag(self) -> tuple[int | None, float | None]:
        """(journal head minus the seq applied, ``None`` when the store cannot be read; seconds since the last
        successful poll); both ``None`` when the poller is off."""
        if self.seconds <= 0:
            return None, None
        try:
            behind: int | None = max(0, self.state.store.change_head() - self.applied)
        except Exception:  # the store is down: /readyz says so on its own
            behind = None
        return behind, time.monotonic() - self.last_ok


def install(state: Any, seconds: float, applied: int) -> Sync:
    """Catch up once now (what other processes wrote while this one loaded), then start the poller on ``state``
    (``state.sync``), with its two gauges."""
    sync = state.sync = Sync(state, applied, seconds)
    sync.poll()
    registry = state.metrics.registry
    Gauge("talentmatch_sync_lag_changes", "Journal changes written by any process not yet applied here.",
          registry=registry).set_function(lambda: sync.lag()[0] or 0)  # fmt: skip
    Gauge("talentmatch_sync_lag_seconds", "Seconds since this process last caught up with the change journal.",
          registry=registry).set_function(lambda: sync.lag()[1] or 0.0)  # fmt: skip
    sync.start()
    return sync


def shutdown(state: Any) -> None:
    if (sync := getattr(state, "sync", None)) is not None:
        sync.stop()


def prune(store: Store, settings: Settings, *, keep_days: float | None = None) -> tuple[int, int]:
    """Prune the journal of rows older than ``keep_days`` (default ``TALENTMATCH_JOURNAL_KEEP_DAYS``) that no
    index snapshot of this database on disk still needs; returns (horizon, rows deleted)."""
    days = settings.journal_keep_days if keep_days is None else keep_days
    keep_after = datetime.now(UTC) - timedelta(days=days)
    return store.prune_journal(keep_after=keep_after, keep_from_seq=snapshots.oldest_seq(store, settings))
