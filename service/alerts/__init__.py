"""Enterprise match alerts: subscriptions, matching on arrival, the transactional outbox and its dispatcher.

What the rest of the service calls:

- ``install(state, settings)`` / ``shutdown(state)``: the API lifespan; builds the ``AlertMatcher`` on
  ``state.alerts``, registers it as a ``live.Writer`` after-write hook and starts the in-process dispatcher
  (``TALENTMATCH_ALERTS_DISPATCHER``);
- ``match_talents(store, indices, talents)``: the CLI's ``db import`` after it has indexed imported talents;
- ``dispatch.run_worker(settings, once=…)`` / ``dispatch.dispatch_once(store, settings, now=…)``: the CLI's
  ``talentmatch alerts dispatch [--once]``;
- ``erase_talent(store, talent_id)``: PIPL erasure (``service.erasure``).
"""

from __future__ import annotations

import logging
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

__all__ = ["AlertMatcher", "dispatch_once", "erase_talent", "install", "match_talents", "run_worker", "shutdown"]

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
    state.alert_dispatcher = None
    if settings.alerts_dispatcher:
        state.alert_dispatcher = Dispatcher(state.store, settings, idle=matcher.warm)
        state.alert_dispatcher.start()
    log.info("alerts: %d subscribed open needs; dispatcher %s", len(matcher.batch),
             "running" if settings.alerts_dispatcher else "off (run `talentmatch alerts dispatch`)")  # fmt: skip
    return matcher


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
