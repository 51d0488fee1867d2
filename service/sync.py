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

import gc
import logging
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from prometheus_client import Gauge

from features.records import Enterprise, Incubator, Need, Relation
from service import db, erasure, snapshots
from service.indexing import return_freed_heap
from service.settings import Settings
from service.store import Change, JournalPruned, Store

log = logging.getLogger("talentmatch.api")

PAGE = 500
"""Journal rows read and applied per hold of the index writer lock: readers get in between pages."""


class SnapshotStale(Exception):
    """A snapshot being brought up to date met a talent's erasure after it: it holds the erased profile, so it may
    not serve (``service.snapshots.usable`` deletes it)."""


def catch_up(state: Any, since: int, *, page: int = PAGE, erasures: bool = True) -> int:
    """Apply the journal's changes after ``since`` to ``state.indices`` (and the ranking cache); returns the last
    seq applied (``since`` when there was nothing). Raises when applying fails: the seq then stays where the last
    whole page got, and a later call retries from there (every step is idempotent).

    ``state`` is the app state (``service.api.app``): ``store``, ``indices``, ``index_lock``, ``receipt_lock``,
    ``rank_cache`` and ``settings`` are used; ``alerts`` when installed. Right after indices are loaded from a
    snapshot taken at journal seq ``S``, ``catch_up(state, S)`` brings them up to the store. A running process's
    indices reflect at least ``state.sync.applied`` (read under the index lock, e.g. to snapshot them); they may
    hold later changes too (its own writes), which a later ``catch_up`` finds already applied.

    ``erasures=False``: ``state`` holds indices no request reads yet (a snapshot being brought up to date); a
    talent's erasure raises ``SnapshotStale`` instead of being applied."""
    store: Store = state.store
    while state.indices is not None:
        changes = store.changes_since(since, limit=page)
        if not changes:
            break
        if not erasures and any(c.kind == "talent" and c.op == "delete" for c in changes):
            raise SnapshotStale(f"a talent was erased after change {since}")
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
    writes), readers are not held up at all. Persons merged or split (``service.people``) empty the ranking cache,
    as this process's own decisions do: its entries and remembered person links name the old persons."""
    last: dict[tuple[str, str], str] = {}
    erased: set[str] = set()
    for c in changes:
        last[(c.kind, c.record_id)] = c.op
        if c.kind == "talent" and c.op == "delete":
            erased.add(c.record_id)
    if any(kind == "person" for kind, _ in last) and (cache := getattr(state, "rank_cache", None)) is not None:
        cache.clear()  # (a snapshot being brought up to date has no cache)
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
    return_freed_heap()  # what the old version freed (as a write's settle does: ``service.api.live``)
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
        ix.put_incubator(record)
    elif isinstance(record, Enterprise):
        ix.ties.put_enterprise(record)
    elif isinstance(record, Relation):
        ix.ties.put_relation(record)
    elif kind == "relation":
        ix.ties.remove_relation(rid)
    elif kind == "need":
        ix.remove_need(rid)
    elif kind == "incubator":
        ix.remove_incubator(rid)


def _offline(store: Store, opened: snapshots.Opened) -> Any:
    """A state around indices no request reads (a snapshot being brought up to date): its own lock, no alerts."""
    return SimpleNamespace(store=store, indices=opened.indices, index_lock=threading.Lock())


def fresh_snapshot(store: Store, settings: Settings) -> snapshots.Opened:
    """Indices at the journal head for ``talentmatch index snapshot``: the newest usable snapshot caught up from the
    journal (seconds; ``path`` names it), else built from every record (minutes at 100k; ``path`` None)."""
    opened = snapshots.load(store, settings)
    if opened is not None and opened.path is not None:
        t0 = time.perf_counter()
        try:
            seq = catch_up(_offline(store, opened), opened.seq, erasures=False)
        except (SnapshotStale, JournalPruned) as e:
            log.info("index snapshot %s not used: %s", opened.path.name, e)
        else:
            return replace(opened, seq=seq, seconds=opened.seconds + time.perf_counter() - t0)
    return snapshots.build(store, settings)


class Sync:
    """The poller: ``catch_up`` every ``seconds`` in a daemon thread, from ``applied`` on, and every
    ``snapshot_seconds`` ``pickup`` of a newer index snapshot. A failing poll is logged and retried at the next
    tick; it never stops the thread. ``lag()`` is what ``/readyz`` and ``/metrics`` show."""

    def __init__(self, state: Any, applied: int, seconds: float, snapshot_seconds: float = 0.0) -> None:
        self.state, self.applied, self.seconds = state, applied, seconds
        self.snapshot_seconds = snapshot_seconds
        self._next_pickup = time.monotonic() + snapshot_seconds
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
            if self.snapshot_seconds > 0 and time.monotonic() >= self._next_pickup:
                self._next_pickup = time.monotonic() + self.snapshot_seconds
                try:
                    self.pickup()
                except Exception:
                    log.exception("sync: moving onto a newer index snapshot failed; still serving %s",
                                  self.state.snapshot or "the indices built at start")  # fmt: skip

    def pickup(self) -> str | None:
        """Move onto the newest usable index snapshot taken after the indices serving now (``talentmatch index
        snapshot`` or another process saved it), caught up from the journal: its pages are memory-mapped and shared
        with every process that maps it, where what this process applied since its start lives in its own memory.
        Returns the snapshot's name, or ``None`` (none newer; or a talent was erased after it: it is deleted).

        The catch-up runs while requests are served on the old indices; only the last changes are applied with the
        writers' lock held, then every holder of the indices moves at once: no write of this process is in flight
        (it holds that lock too) and none is lost. A ranking in flight finishes on the indices it started with."""
        state = self.state
        opened = snapshots.load(state.store, state.settings, after=state.journal_seq)
        if opened is None or opened.path is None:
            return None
        offline = _offline(state.store, opened)
        try:
            seq = catch_up(offline, opened.seq, erasures=False)
            with self._poll_lock, state.index_lock:
                seq = catch_up(offline, seq, erasures=False)
                if not snapshots.usable(state.store, opened.path, opened.seq):
                    return None
                followed = self._needs_between(self.applied, seq)
                state.indices, state.snapshot, state.journal_seq = opened.indices, opened.path.name, opened.seq
                self.applied = max(self.applied, seq)
                if (matcher := getattr(state, "alerts", None)) is not None:
                    matcher.move_to(opened.indices)
                state.models.follow(opened.indices)
                state.rank_cache.clear()  # entries hold rows of the old indices' pools
        except (SnapshotStale, JournalPruned) as e:
            log.info("index snapshot %s not picked up: %s", opened.path.name, e)
            return None
        if followed and (matcher := getattr(state, "alerts", None)) is not None:
            matcher.follow(followed)  # needs other processes wrote that this process's poller had not applied yet
        del offline, opened  # the old indices go with the last request still ranking on them
        gc.unfreeze()  # the start froze the old indices out of the collector's sight: let it free their cycles
        gc.collect()
        gc.freeze()
        return_freed_heap()
        log.info("index snapshot %s picked up at change %d", state.snapshot, seq)
        return state.snapshot

    def _needs_between(self, since: int, until: int) -> list[str]:
        """Needs journalled in (``since``, ``until``]: applied to the snapshot, not yet followed by alerts here."""
        needs: list[str] = []
        while since < until:
            page = [c for c in self.state.store.changes_since(since, limit=PAGE) if c.seq <= until]
            if not page:
                break
            needs += [c.record_id for c in page if c.kind == "need"]
            since = page[-1].seq
        return list(dict.fromkeys(needs))

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


def install(state: Any, seconds: float, applied: int, snapshot_seconds: float = 0.0) -> Sync:
    """Catch up once now (what other processes wrote while this one loaded), then start the poller on ``state``
    (``state.sync``), with its two gauges; it moves onto newer index snapshots every ``snapshot_seconds`` (0: never,
    and never while ``seconds`` is 0)."""
    sync = state.sync = Sync(state, applied, seconds, snapshot_seconds)
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
