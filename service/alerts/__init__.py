"""Enterprise match alerts: subscriptions, matching on arrival, the transactional outbox and its dispatcher.

What the rest of the service calls:

- ``install(state, settings)`` / ``shutdown(state)``: the API lifespan; builds the ``AlertMatcher`` on
  ``state.alerts``, registers it as a ``live.Writer`` after-write hook and starts the in-process dispatcher
  (``TALENTMATCH_ALERTS_DISPATCHER``);
- ``catch_up(settings)``: the CLI's ``talentmatch alerts dispatch`` first matches what a crash left pending (the
  server does so at start, in ``install``);
- ``match_talents(store, indices, talents)``: the CLI's ``db import`` after it has indexed imported talents;
- ``dispatch.run_worker(settings, once=…)`` / ``dispatch.dispatch_once(store, settings, now=…)``: the CLI's
  ``talentmatch alerts dispatch [--once]``;
- ``erase_talent(store, talent_id)``: PIPL erasure (``service.erasure``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from features.indices import Indices
from features.records import Talent
from matcher.pipeline import ScorerLike
from service.alerts.dispatch import Dispatcher, dispatch_once, run_worker
from service.alerts.matching import AlertMatcher, CreatedAlert, erase_talent_alerts
from service.settings import Settings
from service.store import Store

__all__ = [
    "AlertMatcher",
    "catch_up",
    "dispatch_once",
    "erase_talent",
    "install",
    "match_talents",
    "run_worker",
    "shutdown",
]

log = logging.getLogger("talentmatch.alerts")


def _serving_model(state: Any):
    """The app's serving model (``state.models.scorer``), read at each use so a reload takes effect at once."""
    return lambda: getattr(getattr(state, "models", None), "scorer", None)


def install(state: Any, settings: Settings) -> AlertMatcher:
    """Attach alerts to a started app state (store and indices loaded)."""
    matcher = AlertMatcher(state.store, settings, state.indices, _serving_model(state), state.index_lock)
    state.alerts = matcher
    hooks = getattr(state, "after_write", None)
    if hooks is None:
        hooks = state.after_write = []
    hooks.append(matcher.on_write)
    state.alert_catch_up = threading.Thread(target=_catch_up_logged, args=(matcher,), name="alerts-catch-up",
                                            daemon=True)  # fmt: skip
    state.alert_catch_up.start()
    state.alert_dispatcher = None
    if settings.alerts_dispatcher:
        state.alert_dispatcher = Dispatcher(state.store, settings, idle=matcher.warm)
        state.alert_dispatcher.start()
    log.info("alerts: %d subscribed open needs; dispatcher %s", len(matcher.batch),
             "running" if settings.alerts_dispatcher else "off (run `talentmatch alerts dispatch`)")  # fmt: skip
    return matcher


def _catch_up_logged(matcher: AlertMatcher) -> None:
    try:
        matcher.catch_up()
    except Exception:
        log.exception("alerts catch-up failed; the records stay pending for the next start")


def catch_up(settings: Settings) -> int:
    """Match what an interrupted write left pending (``service.store.PENDING``), outside the server: for
    ``talentmatch alerts dispatch``. Builds the indices only when something is pending; returns records matched."""
    from matcher.registry import load_champion
    from service.indexing import build_indices, store_records

    with Store(settings.database_url) as store:
        store.check_schema()
        if not (store.pending("need", 1) or store.pending("talent", 1)):
            return 0
        indices = build_indices(store_records(store), settings, processes=1)
        try:
            scorer = load_champion(indices=indices)
        except Exception as e:  # as the server does: no usable champion → text relevance
            log.warning("alerts catch-up without a model (%s): text relevance scores", e)
            scorer = None
        return AlertMatcher(store, settings, indices, lambda: scorer).catch_up()


def shutdown(state: Any) -> None:
    dispatcher = getattr(state, "alert_dispatcher", None)
    if dispatcher is not None:
        dispatcher.stop()


def match_talents(store: Store, indices: Indices, talents: Sequence[Talent], *, settings: Settings | None = None,
                  scorer: ScorerLike | None = None, now: datetime | None = None) -> list[CreatedAlert]:  # fmt: skip
    """Alerts for talents just imported outside the API (they must already be in ``indices``); ``scorer`` is the
    champion (``matcher.registry.load_champion()``) or ``None`` for text relevance."""
    matcher = AlertMatcher(store, settings or Settings(), indices, lambda: scorer)
    return matcher.match(talents, now=now)


def erase_talent(store: Store, talent_id: str) -> int:
    """Delete a talent's alerts, undelivered messages and dedup state; returns the alerts deleted."""
    return erase_talent_alerts(store, talent_id)
