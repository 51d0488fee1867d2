"""Index snapshots for the service: start from the newest usable snapshot and catch up from the change journal,
instead of rebuilding every index from the database (``features.snapshot`` is the file format).

A snapshot taken at journal seq ``S`` serves a start when it was made of this database (``Store.identity``) by this
code with this encoder, and no talent
was erased after ``S``: an erased talent's profile must not survive on disk, so an erasure deletes every snapshot
(``forget``) and a snapshot that raced an erasure is deleted when found (``usable``). The records written after
``S`` are applied by ``service.sync.catch_up`` like any other process's writes.

Snapshots live under ``TALENTMATCH_SNAPSHOT_DIR`` (empty: off). The server saves one after a full build, before it
takes requests (nothing can change the indices then; from ``BUILD_APART_FROM`` talents the build and save run in a
child process and the server maps what it saved, as a restart does); ``talentmatch index snapshot`` saves a fresh
one from the store at any time (a nightly job keeps the catch-up at start short); ``serve --workers N`` makes sure
one exists before the workers start, so they all map the same files instead of each building (and holding) its own
copy.
"""

from __future__ import annotations

import logging
import multiprocessing
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

from features import snapshot
from features.dense import NO_DENSE, check_encoder_name
from features.graph import bound_memo
from features.indices import Indices
from features.records import Need, NeedStatus
from matcher import retrieve
from service import receipts
from service.indexing import build_indices, configure, store_records
from service.settings import Settings
from service.store import Store

log = logging.getLogger("talentmatch.api")

KEEP = 2
"""Snapshots of one database kept after a save: the new one and the one before."""
RECENTLY_RANKED = timedelta(days=30)
"""Needs ranked this recently are prepared for a snapshot before the others (``preparation_order``)."""
PREPARE_BYTES = 256 << 20
"""The graph memo's bound while a save prepares needs (at least the server's): what they hold is saved, and a
server that loads the snapshot maps it (page cache, not counted in its own bound), so a save may prepare more needs
than a server keeps of its own (at 100k talents ~53 KB a need: every open need of the demo world's 1,597)."""
BUILD_APART_FROM = 20_000
"""From this many talents a start without a usable snapshot builds and saves one in a child process (``build_apart``)
and then maps it: the build's transient objects and heap holes leave with the child, so a first start holds what a
restart holds. Below it the child's own start-up (seconds) is not worth the memory."""


@dataclass(frozen=True)
class Opened:
    """Indices at journal seq ``seq``; ``path`` is the snapshot they came from, or ``None`` after a full build."""

    indices: Indices
    seq: int
    path: Path | None
    seconds: float


def root(settings: Settings) -> Path | None:
    return settings.snapshot_dir if str(settings.snapshot_dir) not in ("", ".") else None


def encoder(settings: Settings) -> str | None:
    name = check_encoder_name(settings.encoder)
    return None if name == NO_DENSE else name


def usable(store: Store, path: Path, seq: int) -> bool:
    """Whether the snapshot at ``path`` (taken at ``seq``) may serve: not when a talent was erased after it, in
    which case it is deleted (it holds the erased profile)."""
    if not store.deleted_since("talent", seq):
        return True
    log.warning("index snapshot %s deleted: a talent was erased after it was taken", path.name)
    forget(path.parent, only=[path])
    return False


def _candidates(store: Store, settings: Settings):
    """Snapshots that may serve, newest first, with their metadata (sizes checked, not yet checksums)."""
    where, expect = root(settings), snapshot.expectation(encoder(settings))
    identity = store.identity()
    for path in snapshot.snapshots(where) if where is not None else ():
        try:
            meta = snapshot.check(path, expect=expect)
        except snapshot.SnapshotError as e:
            log.warning("index snapshot passed over: %s", e)
            continue
        if meta["meta"].get("store") != identity:
            log.warning("index snapshot %s passed over: it is of another database", path.name)
            continue
        if meta["seq"] < (horizon := store.journal_horizon()):
            # the changes after it are gone, and with them any erasure after it: it can neither catch up nor be
            # checked, so it goes (the oldest snapshot's seq bounds pruning: only another host's can be this old)
            log.warning("index snapshot %s deleted: taken at change %d, before the change journal's horizon %d",
                        path.name, meta["seq"], horizon)  # fmt: skip
            forget(where, only=[path])
            continue
        if usable(store, path, meta["seq"]):
            yield path, meta


def load(store: Store, settings: Settings, *, after: int | None = None) -> Opened | None:
    """The newest usable snapshot's indices (not yet caught up: ``service.sync.catch_up`` from ``seq``), or None;
    ``after``: only a snapshot taken after that journal seq (a running process looking for a newer one)."""
    t0 = time.perf_counter()
    for path, meta in _candidates(store, settings):
        if after is not None and meta["seq"] <= after:
            return None
        try:
            indices = snapshot.load(path, encoder=encoder(settings), cache_dir=settings.vector_cache_dir)
        except snapshot.SnapshotError as e:
            log.warning("index snapshot passed over: %s", e)
            continue
        return Opened(configure(indices, settings), meta["seq"], path, time.perf_counter() - t0)
    return None


def build(store: Store, settings: Settings, *, processes: int | None = None) -> Opened:
    """Every index built from the store; ``seq`` is the journal head read before the records."""
    t0 = time.perf_counter()
    head = store.change_head()
    records = store_records(store)
    indices = build_indices(records, settings, processes=processes,
                            progress=lambda stage: log.info("building indices: %s", stage))  # fmt: skip
    return Opened(indices, head, None, time.perf_counter() - t0)


def build_apart(store: Store, settings: Settings) -> Opened | None:
    """``ensure`` run in a spawned child process, then its snapshot loaded memory-mapped (not caught up yet, as
    ``load``); None when snapshots are off, the store has fewer than ``BUILD_APART_FROM`` talents, or the child
    saved nothing usable (it failed, or raced an erasure): the caller then builds in this process."""
    if root(settings) is None or store.count("talent") < BUILD_APART_FROM:
        return None
    t0 = time.perf_counter()
    child = multiprocessing.get_context("spawn").Process(target=ensure, args=(settings,), name="talentmatch-build")
    child.start()
    child.join()
    if child.exitcode != 0:
        log.warning("index build in a child process failed (exit code %s): building in this one", child.exitcode)
        return None
    opened = load(store, settings)
    return None if opened is None else Opened(opened.indices, opened.seq, opened.path, time.perf_counter() - t0)


def save(store: Store, settings: Settings, opened: Opened) -> Path | None:
    """Save ``opened`` (indices nothing changes meanwhile) and prune older snapshots; the new one is deleted again
    if a talent was erased while it was written. Returns its path, or None when snapshots are off or it raced an
    erasure."""
    if (where := root(settings)) is None:
        return None
    identity = store.identity()
    prepare(opened.indices, settings, store)
    path = snapshot.save(opened.indices, where, seq=opened.seq, meta={"store": identity})
    if not usable(store, path, opened.seq):
        return None
    _prune(where, identity)
    return path


def prepare(indices: Indices, settings: Settings, store: Store) -> int:
    """Build the open needs' graph passes into the graph's memo (``TalentGraph.prepare_needs``) and their
    retrievers' answers into the indices that remember them (``matcher.retrieve.prime``), both of which a snapshot
    keeps, in ``preparation_order``, for ``snapshot_prepare_seconds`` at most and within ``PREPARE_BYTES``. Returns
    how many were prepared. A failure is logged, not raised: the snapshot is whole without them (a start must not
    fail for a cache)."""
    t0 = time.perf_counter()
    order = preparation_order(indices, store)
    bound_memo(max(settings.graph_memo_bytes, PREPARE_BYTES))
    try:
        done = indices.graph.prepare_needs(order, settings.snapshot_prepare_seconds, also=partial(_prime, indices))
    except Exception:
        log.exception("preparing the open needs for the snapshot failed: saved without (some of) them")
        return 0
    finally:
        bound_memo(settings.graph_memo_bytes)  # a server that built in process evicts down to it as it goes
    log.info("prepared %d of %d open needs' graph passes and retrieval for the snapshot in %.1f s", done,
             len(order), time.perf_counter() - t0)  # fmt: skip
    return done


def _prime(indices: Indices, need_id: str) -> None:
    retrieve.prime(indices, indices.needs[need_id])


def preparation_order(indices: Indices, store: Store) -> list[str]:
    """The open needs, those ranked in the last ``RECENTLY_RANKED`` first (the most recently ranked first: what
    recruiters work on now), then the rest newest first (updated, else created)."""
    open_needs = sorted((n for n in indices.needs.values() if n.status == NeedStatus.open), key=_newest, reverse=True)
    since = datetime.now(UTC) - RECENTLY_RANKED
    needs = indices.needs
    first = [i for i in receipts.recently_ranked(store, since) if i in needs and needs[i].status == NeedStatus.open]
    chosen = set(first)
    return first + [n.id for n in open_needs if n.id not in chosen]


def _newest(need: Need) -> float:
    at = need.updated_at or need.created_at
    return at.timestamp() if at is not None else float("-inf")


def _prune(where: Path, identity: str) -> None:
    """Keep this database's newest ``KEEP`` snapshots (another database's in a shared folder are its own business),
    and remove temporary directories whose writer died."""
    everything = snapshot.snapshots(where)
    mine = [p for p in everything if _store_of(p) == identity]
    forget(where, only=mine[KEEP:])
    snapshot.prune(where, keep=len(everything))


def _store_of(path: Path) -> str | None:
    try:
        return snapshot.read_meta(path)["meta"].get("store")
    except snapshot.SnapshotError:
        return None


def forget(where: Path | None, *, only: list[Path] | None = None) -> int:
    """Delete snapshots (all, or ``only`` these): an erasure calls this, so no file keeps the erased profile.
    Processes that have a deleted snapshot mapped keep their pages until they exit."""
    if where is None:
        return 0
    gone = only if only is not None else snapshot.snapshots(where)
    for path in gone:
        shutil.rmtree(path, ignore_errors=True)
    return len(gone)


def oldest_seq(store: Store, settings: Settings) -> int | None:
    """The journal seq of this database's oldest snapshot on disk (``None``: none): a start from it needs the
    journal's changes after it, so pruning keeps them."""
    if (where := root(settings)) is None:
        return None
    identity = store.identity()
    seqs = []
    for path in snapshot.snapshots(where):
        try:
            meta = snapshot.read_meta(path)
        except snapshot.SnapshotError:
            continue
        if meta["meta"].get("store") == identity:
            seqs.append(meta["seq"])
    return min(seqs, default=None)


def ensure(settings: Settings) -> Path | None:
    """A usable snapshot of the store, saved now from a full build if there is none: what ``serve --workers N``
    runs before starting its workers."""
    if root(settings) is None:
        return None
    with Store(settings.database_url) as store:
        for path, _meta in _candidates(store, settings):
            return path
        return save(store, settings, build(store, settings))
