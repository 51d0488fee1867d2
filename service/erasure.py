"""Erasing a talent (PIPL's right to erasure): everywhere the service keeps them, in an order that can be retried.

1. the on-disk vector cache: the vectors of every version of the talent's texts (the stored record, the indexed
   one and each earlier version kept in ``talent_versions``) under every encoder cached there;
2. decision receipts: the talent's rows redacted (the position stays, marked erased), and free-text searches whose
   stored query names them lose the query;
3. saved searches (``service.saved_searches``): those whose query or name names the talent are deleted (the ids
   each showed at its last visit lose the talent with the record, step 5);
4. alerts, when the alerts module is installed (``service.alerts.erase_talent``): the talent's alerts, their
   unsent messages (a message a dispatcher already claimed is re-checked before it is sent: it finds nothing) and
   dedup state;
5. people (``service.people``): a person named by the talent's id takes another of its record ids;
   the store: the record, its earlier versions, its feedback, relations and saved searches' seen ids (``ON DELETE
   CASCADE``); on SQLite the freed pages are overwritten (``secure_delete``) and the write-ahead log is checkpointed
   and truncated;
6. index snapshots (``service.snapshots``): every one is deleted (each holds the profile); the next start builds
   and saves a fresh one;
7. memory: every index and the graph, every row the talent ever had zeroed at once (``Indices.erase_talent``), the
   ranking cache's rows of them and searches naming them, the reciprocal index's query vectors (keyed by talents'
   profile texts).

Another API process on the same store learns of the erasure from the change journal (``service.sync``) and runs
every step but the store's deletion again for itself (``replica=True``): its memory, and whatever it wrote naming
the talent before it learnt.

Steps 1–6 are idempotent writes done before anything in memory changes, so a failure there leaves a talent that
can simply be erased again. The audit log keeps the rows naming the talent id (the office's pseudonymous key:
accountability for who read whom, and for the erasure itself, is required) and nothing of their content.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
from dataclasses import dataclass
from typing import Any

from features.dense import VectorCache, talent_parts
from features.records import Talent
from service import people, receipts, saved_searches, snapshots
from service.sqlite_writers import truncate_log
from service.store import Store

log = logging.getLogger("talentmatch.api")


@dataclass(frozen=True)
class Erasure:
    talent_id: str
    receipt_rows: int
    alerts: int | None
    """Alert rows deleted; ``None`` when the alerts module is not installed."""
    vectors: int
    indexed: bool


def _erase_alerts(store: Store, talent_id: str) -> int | None:
    """Pending alerts go too. The alerts module is built separately (issue 6) and may be absent: it is looked up
    at call time and, when present, must offer ``erase_talent(store, talent_id) -> int``."""
    if importlib.util.find_spec("service.alerts") is None:
        return None
    hook = getattr(importlib.import_module("service.alerts"), "erase_talent", None)
    return None if hook is None else int(hook(store, talent_id) or 0)


def _texts(*talents: Talent | None) -> list[str]:
    out: list[str] = []
    for t in talents:
        if t is not None:
            main, parts = talent_parts(t)
            out += [main, *parts]
    return sorted(set(out))


def _names(*talents: Talent | None) -> list[str]:
    """What a free-text query could name the talent by."""
    return sorted({v for t in talents if t is not None for v in (t.name, t.name_zh, t.name_en, t.email, t.phone) if v})


def _flush_sqlite(store: Store) -> None:
    """Deleted rows are overwritten in the file (``secure_delete``, set per connection); the write-ahead log, which
    still holds the old pages, is checkpointed into the file and truncated, tried again while SQLite answers busy (a
    checkpoint of the log's own thread running just then left the old pages in the log: stop 49)."""
    if not truncate_log(store.engine):
        log.error("erasure: the write-ahead log of %s stayed busy; its old pages go at its next full checkpoint",
                  store.engine.url.database)  # fmt: skip


def erase_talent(state: Any, talent: Talent, *, replica: bool = False) -> Erasure:
    """Erase ``talent`` (as stored) from ``state`` (the app state: store, indices, caches). Holds the writers'
    lock and the receipts lock, so no write, ranking or receipt interleaves; the caller checked that it exists.
    ``replica``: another process erased them (``service.sync``; ``talent`` as indexed here): the store's record is
    gone already, or a new one written since under the id, which stays."""
    store: Store = state.store
    with state.index_lock, state.receipt_lock:
        idx = state.indices  # read under the lock: a move onto a newer snapshot (``service.sync``) holds it too
        indexed = idx.talents.get(talent.id) if idx is not None else None
        versions = [talent, indexed, *store.talent_versions(talent.id)]
        cache = idx.dense.cache if idx is not None and idx.dense is not None else None
        if cache is None and state.settings.vector_cache_dir.is_dir():
            cache = VectorCache(state.settings.vector_cache_dir)  # vectors of an earlier run with an encoder
        vectors = cache.forget(_texts(*versions)) if cache is not None else 0
        redacted = receipts.redact_talent(store, talent.id, _names(*versions))
        searches = saved_searches.erase_talent(store, talent.id, _names(*versions))
        alerts = _erase_alerts(store, talent.id)
        people.erase_talent(store, talent.id)
        if not replica:
            store.delete("talent", talent.id)
        _flush_sqlite(store)
        snapshots.forget(snapshots.root(state.settings))  # after the journal has the deletion: see service.snapshots
        if idx is not None:
            idx.erase_talent(talent.id)
            idx.settle()
            if idx.need_dense is not None:
                idx.need_dense.clear_queries()
        state.rank_cache.erase_talent(talent.id, _names(*versions))
    log.info("erased talent %r: %d receipt rows, %d saved searches, %s alerts, %d vectors", talent.id, redacted,
             searches, alerts, vectors)  # fmt: skip
    return Erasure(talent.id, redacted, alerts, vectors, indexed is not None)
