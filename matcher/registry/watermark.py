"""The feedback watermark: how far into the store's feedback a training run read, logged as run params and read back
by ``retrain`` to say which feedback is new since the last run and which needs the champion trained on.

The position that decides is the store's change-journal ``seq`` (``service.store``: every feedback write is journalled
in its transaction), tied to the store's identity: feedback committed after the run counts as new whatever time it
carries (clock skew, a late import, a replayed batch). The time of the newest event is logged too, for display only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from matcher.registry import store
from matcher.registry.loading import CHAMPION, alias_version

if TYPE_CHECKING:
    from mlflow.entities import Run

WATERMARK_PARAM = "feedback_watermark"
"""Run param: ISO time of the newest feedback event the run trained on (absent when no event had a time)."""
JOURNAL_PARAM = "feedback_journal_seq"
"""Run param: the change-journal seq of the store read before its feedback was loaded (absent: not from a store)."""
JOURNAL_STORE_PARAM = "feedback_journal_store"
"""Run param: the identity of that store (``Store.identity``): a seq means nothing in another database."""


@dataclass(frozen=True)
class Watermark:
    """What one run logged of the feedback it trained on, and the needs it held out (empty when it logged none)."""

    run_id: str
    time: datetime | None
    seq: int | None
    store_id: str | None
    heldout: frozenset[str] = frozenset()

    def seq_in(self, store_id: str) -> int | None:
        """The journal seq when it was read from the store ``store_id``, else ``None``."""
        return self.seq if self.store_id == store_id else None


def watermark_param(time: datetime | None, journal: tuple[str, int] | None = None) -> dict[str, str]:
    """The params to log for a run whose newest feedback event is at ``time`` and that read a store's feedback up to
    ``journal`` = (store identity, seq); nothing for what is unknown."""
    out = {} if time is None else {WATERMARK_PARAM: time.isoformat()}
    if journal is not None:
        out |= {JOURNAL_STORE_PARAM: journal[0], JOURNAL_PARAM: str(journal[1])}
    return out


def last_watermark(store_id: str) -> Watermark | None:
    """The watermark of the most recent run that read the store ``store_id``, or ``None`` (no registry, no such run:
    a run from a world folder or another database says nothing about this one's journal)."""
    if store.missing():
        return None
    client = store.client()
    found = client.get_experiment_by_name(store.EXPERIMENT)
    if found is None:
        return None
    runs = client.search_runs(
        [found.experiment_id],
        filter_string=f"params.{JOURNAL_STORE_PARAM} = '{store_id}'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    return _of_run(runs[0]) if runs else None


def champion_watermark() -> Watermark | None:
    """The watermark and held-out needs of the run behind the ``champion`` version (``None``: no champion, or it was
    registered from no run)."""
    if store.missing():
        return None
    client = store.client()
    mv = alias_version(client, CHAMPION)
    if mv is None or not mv.run_id:
        return None
    run = client.get_run(mv.run_id)
    heldout: frozenset[str] = frozenset()
    if "heldout_fingerprint" in run.data.params:
        import mlflow

        heldout = frozenset(mlflow.artifacts.load_dict(f"runs:/{mv.run_id}/heldout_needs.json"))
    return _of_run(run, heldout)


def _of_run(run: Run, heldout: frozenset[str] = frozenset()) -> Watermark:
    params = run.data.params
    time = params.get(WATERMARK_PARAM)
    seq = params.get(JOURNAL_PARAM)
    return Watermark(
        run.info.run_id,
        datetime.fromisoformat(time) if time else None,
        int(seq) if seq else None,
        params.get(JOURNAL_STORE_PARAM),
        heldout,
    )
