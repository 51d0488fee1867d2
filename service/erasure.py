"""Erasing a talent (PIPL's right to erasure): everywhere the service keeps them, in an order that can be retried.

1. decision receipts: the talent's rows redacted (the position stays, marked erased);
2. pending alerts, when the alerts module is installed (``service.alerts.erase_talent``);
3. the store: the record, and its feedback with it (``ON DELETE CASCADE``);
4. memory: every index and the graph (``Indices.remove_talent``), the ranking cache, the reciprocal index's query
   vectors (keyed by talents' profile texts);
5. the on-disk vector cache: the profile's and each work's vectors, under every encoder cached there.

Steps 1–3 are idempotent database writes done before anything in memory changes, so a failure there leaves a
talent that can simply be erased again. The audit log keeps one ``erase`` row naming the talent id: the id is the
office's pseudonymous key and accountability for the erasure itself is required.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
from dataclasses import dataclass
from typing import Any

from features.dense import VectorCache, talent_parts
from features.records import Talent
from service import receipts
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


def erase_talent(state: Any, talent: Talent) -> Erasure:
    """Erase ``talent`` (as stored) from ``state`` (the app state: store, indices, caches). Holds the writers'
    lock and the receipts lock, so no write or receipt interleaves; the caller checked that it exists."""
    store: Store = state.store
    idx = state.indices
    with state.index_lock, state.receipt_lock:
        redacted = receipts.redact_talent(store, talent.id)
        alerts = _erase_alerts(store, talent.id)
        store.delete("talent", talent.id)
        indexed = idx.talents.get(talent.id) if idx is not None else None
        if idx is not None:
            idx.remove_talent(talent.id)
            if idx.need_dense is not None:
                idx.need_dense.clear_queries()
        state.rank_cache.clear()
        cache = idx.dense.cache if idx is not None and idx.dense is not None else None
        if cache is None and state.settings.vector_cache_dir.is_dir():
            cache = VectorCache(state.settings.vector_cache_dir)  # vectors of an earlier run with an encoder
        vectors = cache.forget(_texts(talent, indexed)) if cache is not None else 0
    log.info("erased talent %r: %d receipt rows, %s alerts, %d vectors", talent.id, redacted, alerts, vectors)
    return Erasure(talent.id, redacted, alerts, vectors, indexed is not None)
