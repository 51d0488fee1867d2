"""The FastAPI app factory. Nothing happens at import: the lifespan opens the store (refusing a database whose
schema is missing or behind, without migrating it), opens the indices (the newest usable index snapshot caught up
from the change journal, or a build from every record: ``service.snapshots``), then keeps them on ``app.state`` for
the requests:

- ``settings``: the ``Settings`` the app was made with
- ``store``: the ``Store``
- ``indices``: the ``features.indices.Indices`` (``None`` until built)
- ``index_lock``: the ``service.locking.IndexLock``: every writer of the indices holds it alone (``live.Writer``,
  erasure), rankings and searches share its ``read()`` side
- ``write_batches``: the ``service.locking.WriteBatches`` through which ``live.Writer`` takes that lock: writes that
  arrive together run in one exclusive section
- ``metrics``: the ``metrics.Metrics`` (Prometheus registry)
- ``stale``: ``None``, or why the indices no longer match the store (``/readyz`` then reports 503)
- ``models``: the ``service.models.ModelSlot`` holding the champion (``None`` inside: non-personalised ranking)
- ``rank_cache``: the ``service.ranking.RankCache`` of recent rankings
- ``alerts``: the ``service.alerts.AlertMatcher`` (matching on arrival, an ``after_write`` hook of ``live.Writer``)
- ``snapshot``: the name of the index snapshot the indices were loaded from (``None``: built from the store)
- ``journal_seq``: the change journal seq the indices were loaded at (the head read before the records, or the
  index snapshot's); ``sync``: the ``service.sync.Sync`` poller that applies other processes' writes from there on,
  and moves the process onto a newer index snapshot when one is saved (``Sync.pickup``: ``indices``, ``snapshot``
  and ``journal_seq`` change together, under ``index_lock``)
- ``receipt_lock``: an ``IndexLock`` too: receipts are written under its ``read()`` side (many at once), an erasure
  holds it alone (``service.erasure``), so no receipt naming a talent commits after the erasure checked for them
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import logging
import os
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import anyio.to_thread
from fastapi import Depends, FastAPI
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from features import text
from features.graph import bound_memo
from matcher.pipeline import Policy
from service import alerts, console, people, snapshots, sync
from service.api import errors
from service.api.deps import no_unknown_query
from service.api.metrics import Metrics, RequestMetrics
from service.api.routes import ROUTERS
from service.db import safe_url
from service.keys import PrincipalCache
from service.locking import IndexLock, WriteBatches
from service.models import ModelSlot
from service.ranking import RankCache
from service.settings import Settings
from service.store import JournalPruned, Store, StoreError

log = logging.getLogger("talentmatch.api")

DESCRIPTION = """
Talent matching for Jiaxing's international talent office. / 嘉兴国际人才办公室人才匹配服务。

Send an API key as `Authorization: Bearer <key>` (created with `talentmatch keys create` or `POST /keys`).
Roles: **recruiter** (all talents and needs; every full-profile read is audited), **enterprise** (its own
enterprise and needs only; talent only as candidate cards, masked without sharing consent), **data_team**
(read-only records, models), **admin** (everything, keys).
请求需携带 API 密钥。角色：招聘专员、企业（仅限本企业数据）、数据团队、管理员。

Errors are JSON `{"error": {"code", "message", "field"}}`. / 错误以 JSON 返回，`field` 指明出错字段。
"""


def _version() -> str:
    try:
        return version("talentmatch")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"


def load_state(state: Any, settings: Settings) -> None:
    """Open the store, check its schema and put the indices onto ``state``: from the newest usable index snapshot
    (``service.snapshots``; ``sync.install`` then catches up from its journal seq), else built from every record and
    saved as a snapshot for the next start (before any request: nothing changes them meanwhile; a large store's in a
    child process, whose snapshot is then mapped: ``snapshots.build_apart``). The jieba dictionary loads meanwhile
    in a thread (``features.text.preload``): the catch-up's Chinese text needs it."""
    text.preload(settings.vector_cache_dir)
    bound_memo(settings.graph_memo_bytes)
    store = Store(settings.database_url)
    try:
        store.check_schema()
        opened = snapshots.load(store, settings) or snapshots.build_apart(store, settings)
        if opened is None:
            opened = snapshots.build(store, settings, processes=1)  # no forked tokeniser workers in a threaded server
            snapshots.save(store, settings, opened)
    except StoreError as e:
        store.close()
        raise RuntimeError(f"talentmatch cannot start: {e}") from None
    except SQLAlchemyError as e:
        store.close()
        reason = str(getattr(e, "orig", None) or e).strip().splitlines()[0]
        raise RuntimeError(f"talentmatch cannot start: database {safe_url(store.url)}: {reason}") from None
    state.store = store
    state.indices = opened.indices
    state.snapshot = opened.path.name if opened.path is not None else None
    # what was written after the snapshot, now: the alerts' start-up pass (``alerts.install``) matches the records
    # still owed an alert against these indices, and a write that crashed before its indexing is among them
    try:
        state.journal_seq = opened.seq if opened.path is None else sync.catch_up(state, opened.seq)
    except JournalPruned as e:  # pruned between choosing the snapshot and catching up: build from the records
        log.warning("index snapshot %s not used: %s", opened.path.name, e)
        opened = snapshots.build(store, settings, processes=1)
        snapshots.save(store, settings, opened)
        state.indices, state.snapshot, state.journal_seq = opened.indices, None, opened.seq
    threading.Thread(target=text.warm_loops, args=(state.indices.sparse,), name="talentmatch-bm25", daemon=True).start()
    log.info(
        "ready: %d talents, %d needs from %s in %.1f s (%s)",
        len(opened.indices.talents),
        len(opened.indices.needs),
        safe_url(store.url),
        opened.seconds,
        f"snapshot {opened.path.name} at change {opened.seq}" if opened.path else "built from the store",
    )


MALLOC_ARENAS = 2
"""glibc malloc arenas a serving process may use (unless ``MALLOC_ARENA_MAX`` is set): by default each request thread
that allocates gets an arena of its own, up to 8 a core, and memory freed in one is reused by it alone. At 100k
talents (``bench memory``) two held ~30 MB less after 50 rankings; the process has two cores' work at most."""
_M_ARENA_MAX = -8  # glibc's mallopt parameter


def cap_malloc_arenas() -> None:
    """Limit glibc's malloc arenas to ``MALLOC_ARENAS`` before the request threads start (a no-op off glibc, and
    when the environment sets ``MALLOC_ARENA_MAX``)."""
    if "MALLOC_ARENA_MAX" not in os.environ:
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None).mallopt(_M_ARENA_MAX, MALLOC_ARENAS)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The API app; ``settings`` default to the ``TALENTMATCH_*`` environment."""
    settings = settings or Settings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        cap_malloc_arenas()
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.server_threads
        await run_in_threadpool(load_state, app.state, settings)
        # Everything loaded so far lives as long as the process: take it out of the cyclic collector's sight, so a
        # full collection walks the few objects requests make, not the millions of records and index entries of a
        # 100k-talent world (such a walk stalls every request in flight).
        gc.collect()
        gc.freeze()
        # never raises: no usable champion (or one trained with another encoder) → non-personalised, and says why
        await run_in_threadpool(app.state.models.start, app.state.indices)
        app.state.models.watch(settings.model_poll_seconds)
        await run_in_threadpool(alerts.install, app.state, settings)
        await run_in_threadpool(
            sync.install, app.state, settings.sync_seconds, app.state.journal_seq, settings.snapshot_poll_seconds
        )
        try:
            yield
        finally:
            sync.shutdown(app.state)
            app.state.models.stop()
            alerts.shutdown(app.state)
            app.state.store.close()

    app = FastAPI(title="talentmatch", version=_version(), description=DESCRIPTION, lifespan=lifespan,
                  dependencies=[Depends(no_unknown_query)])  # fmt: skip
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.store = None
    app.state.indices = None
    app.state.snapshot = None
    app.state.index_lock = IndexLock()
    app.state.write_batches = WriteBatches(app.state.index_lock)
    app.state.stale = None
    app.state.models = ModelSlot()
    policy = Policy(yrd_first=settings.policy_yrd_first)
    app.state.rank_cache = RankCache(ttl=settings.rank_cache_seconds, entries=settings.rank_cache_entries,
                                     policy=policy, max_bytes=settings.rank_cache_bytes,
                                     fresh=settings.rank_cache_fresh_seconds,
                                     persons=lambda ids: people.persons_of(app.state.store, ids),
                                     remember_persons=settings.sync_seconds > 0)  # fmt: skip
    app.state.receipt_lock = IndexLock()
    app.state.principals = PrincipalCache(settings.key_cache_seconds)
    errors.install(app)
    for router in ROUTERS:
        app.include_router(router)
    console.install(app)  # the web console at /console (after errors.install: it wraps those handlers)
    app.add_middleware(errors.BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestMetrics, metrics=metrics)
    return app
