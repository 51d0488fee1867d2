"""The feedback watermark: the time of the latest feedback event a training run used, logged as a run param by
``train`` and ``retrain`` and read back by ``retrain`` to say which feedback is new since the last run."""

from __future__ import annotations

from datetime import datetime

from matcher.registry import store

WATERMARK_PARAM = "feedback_watermark"
"""Run param: ISO time of the newest feedback event the run trained on (absent when no event had a time)."""


def watermark_param(time: datetime | None) -> dict[str, str]:
    """The param to log for a run whose newest feedback event is at ``time`` (nothing when unknown)."""
    return {} if time is None else {WATERMARK_PARAM: time.isoformat()}


def last_watermark() -> datetime | None:
    """The watermark of the most recent run that logged one, or ``None`` (no registry, no such run yet)."""
    if store.missing():
        return None
    client = store.client()
    found = client.get_experiment_by_name(store.EXPERIMENT)
    if found is None:
        return None
    runs = client.search_runs(
        [found.experiment_id],
        filter_string=f"params.{WATERMARK_PARAM} != ''",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    return datetime.fromisoformat(runs[0].data.params[WATERMARK_PARAM]) if runs else None
