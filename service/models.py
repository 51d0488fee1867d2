"""The serving model: the registry's champion, checked against the indices it will score (its contract), held in a
slot the API swaps on reload without a restart (``POST /models/reload``, or ``watch``: when the registry's champion
alias moves, every ``TALENTMATCH_MODEL_POLL_SECONDS``); and the champion for one-off CLI work on freshly built
indices. The slot holds the registry's ``challenger`` too, loaded and checked the same way, for online
interleaving (``TALENTMATCH_INTERLEAVE_SHARE``, ``matcher.interleaving``).

MLflow is imported only when the registry is first read: it takes seconds, and ``--help`` or a server start-up
should not wait for it before the indices are built.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from features.indices import Indices

if TYPE_CHECKING:  # LightGBM and scikit-learn load with the champion, after start-up: importing them starts a
    # jemalloc thread, and the index build forks tokeniser workers, which must not happen in a process with threads
    from matcher.ranker import Scorer
    from matcher.registry import Serving

log = logging.getLogger("talentmatch.api")


@dataclass(frozen=True)
class ModelStatus:
    """Which model serves (``None``: the non-personalised ranking), which the registry calls champion, and a note
    when the two differ or there is none."""

    serving: str | None
    champion: str | None
    note: str | None
    challenger: str | None = None
    """The challenger version loaded for interleaving (``None``: none, or it does not load or match)."""
    challenger_note: str | None = None
    """Why the registry's challenger is not loaded, when it is not."""


class ModelSlot:
    """Holds the champion ``Scorer``. A reload swaps the reference in one assignment, so a request in flight keeps
    the model it started with; a champion that fails to load, or whose contract does not match the serving indices
    (another dense encoder, say), never replaces a working one (``matcher.registry.serving_model(previous=…)``)."""

    def __init__(self) -> None:
        self.scorer: Scorer | None = None
        self.challenger: Scorer | None = None
        self.status = ModelStatus(None, None, "the model registry has not been read yet")
        self._indices: Indices | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self._challenger_alias: str | None = None

    def start(self, indices: Indices) -> ModelStatus:
        """Point MLflow at the store the environment names (``MLFLOW_TRACKING_URI`` / ``TALENTMATCH_MODELS_DIR``)
        and load the champion for ``indices``. MLflow is imported here, not at import time: it takes seconds."""
        from matcher import registry

        registry.configure()
        self._indices = indices
        return self.reload()

    def follow(self, indices: Indices) -> None:
        """The process moved onto other indices (a newer snapshot, ``service.sync``): later reloads check champions
        against them."""
        with self._lock:
            self._indices = indices

    def poll(self) -> ModelStatus | None:
        """Reload when the registry's champion (or challenger) alias has moved since the last check (training
        promoted a model, or a promotion or rollback through another process); ``None`` when neither has. A model
        that failed to load is not tried again until its alias moves or ``POST /models/reload`` forces it."""
        from matcher import registry

        aliases = (registry.champion_version(), registry.champion_version(registry.CHALLENGER))
        if aliases == (self.status.champion, self._challenger_alias):
            return None
        status = self.reload()
        log.info("model: the aliases moved (champion %s, challenger %s); serving %s%s", status.champion,
                 self._challenger_alias, status.serving, f" ({status.note})" if status.note else "")  # fmt: skip
        return status

    def watch(self, seconds: float) -> None:
        """``poll`` every ``seconds`` in a daemon thread until ``stop`` (0: never); a failing check is logged and
        tried again at the next tick, the serving model stays."""
        if seconds <= 0:
            return

        def run() -> None:
            while not self._stop.wait(seconds):
                try:
                    self.poll()
                except Exception:
                    log.exception("model: checking the registry's champion failed; still serving %s",
                                  self.status.serving)  # fmt: skip

        self._watcher = threading.Thread(target=run, name="talentmatch-model-poll", daemon=True)
        self._watcher.start()

    def stop(self) -> None:
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout=30)

    def reload(self) -> ModelStatus:
        """Swap to the registry's current champion, keeping the serving model when it fails to load or does not
        match the indices."""
        from matcher import registry

        with self._lock:
            serving = registry.serving_model(self.scorer, indices=self._indices)
            self.scorer = serving.scorer
            status = _status(self.scorer.version if self.scorer else None, serving.champion, serving.error)
            # A challenger that does not load or match is dropped, not kept: it only ever serves beside the champion.
            found = registry.serving_model(self.challenger, indices=self._indices, warn=False,
                                           alias=registry.CHALLENGER)  # fmt: skip
            self.challenger = found.scorer if found.champion is not None and not found.error else None
            self._challenger_alias = found.champion
            if found.error:
                log.warning("model: challenger %s not loaded: %s", found.champion, found.error)
            why = f"challenger {found.champion} does not serve: {found.error}" if found.error else None
            self.status = replace(status, challenger=self.challenger.version if self.challenger else None,
                                  challenger_note=why)  # fmt: skip
        return self.status


def _status(serving: str | None, champion: str | None, error: str | None) -> ModelStatus:
    plain = "rankings are non-personalised (rules and text relevance)"
    why = error or "see the service log"
    if serving is None and champion is None:
        note = f"no champion model in the registry: {plain}" if error is None else f"{error}: {plain}"
    elif serving is None:
        note = f"champion {champion} does not serve ({why}): {plain}"
    elif champion != serving:
        note = (
            f"the registry's champion is {champion or 'unset'} but it does not serve ({why}); still serving {serving}"
        )
    else:
        note = None
    return ModelStatus(serving, champion, note)


def champion_for(indices: Indices) -> Serving:
    """The registry's champion checked against ``indices``, for a command that ranks or scores once: ``scorer`` is
    ``None`` without a usable champion, and ``mismatch`` says it was refused for its contract (``error`` names both
    sides), which such a command reports rather than ranking without it."""
    from matcher import registry

    registry.configure()
    return registry.serving_model(indices=indices, warn=False)
