"""Building the indices the service and the CLI rank on, from the store or a world folder: one place that turns
``TALENTMATCH_ENCODER`` (or ``--encoder``) and the vector cache into ``features.indices.Indices``.

``Indices.build`` never indexes feedback; the graph with hire edges (``talent_graph``) is for export only.
"""

from __future__ import annotations

import contextlib
import ctypes
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from features.dense import NO_DENSE, check_encoder_name
from features.graph import TalentGraph
from features.indices import Indices
from features.records import RECORD_TYPES, Record, share_internals
from service.settings import Settings
from service.store import Store

Progress = Callable[[str], None]


INDEXED_KINDS = tuple(kind for kind in RECORD_TYPES if kind != "feedback")
"""The kinds ``Indices.build`` reads: feedback (the most numerous) is never indexed, so an index build does not load
it (at 100k talents its ~180k events cost ~200 MB that the process never gave back)."""


def store_records(store: Store, kinds: Sequence[str] = INDEXED_KINDS) -> dict[str, list[Any]]:
    """The records of ``kinds`` in the store (by default what the indices read), by kind, each with its internals
    shared as it is read (``share_internals``, which ``Indices`` would apply anyway): what it frees is reused by the
    next record, instead of leaving holes among 100k records kept (~300 MB of heap never returned)."""
    return {kind: [share_internals(r) for r in store.iter_records(kind)] for kind in kinds}


def build_indices(
    records: Mapping[str, Sequence[Record]],
    settings: Settings,
    *,
    encoder: str | None = None,
    progress: Progress | None = None,
    processes: int | None = None,
) -> Indices:
    """The ranking indices of ``records`` with ``encoder`` (default: the settings' ``TALENTMATCH_ENCODER``; ``none``
    skips dense vectors) and the settings' vector cache. ``processes=1`` inside a threaded server (no forking)."""
    name = check_encoder_name(encoder or settings.encoder)
    indices = Indices.build(
        records,
        encoder=None if name == NO_DENSE else name,
        cache_dir=settings.vector_cache_dir,
        dense_exact_below=settings.dense_exact_below,
        progress=progress,
        processes=processes,
    )
    return_freed_heap()
    return configure(indices, settings)


def configure(indices: Indices, settings: Settings) -> Indices:
    """Apply the office's conflict-rule settings (evaluated post kinds, window) to indices built or loaded."""
    indices.ties.evaluated = settings.conflict_evaluated
    indices.ties.window_days = settings.conflict_window_days
    indices.ties.forget()
    return indices


def return_freed_heap() -> None:
    """Hand the C heap the build freed back to the kernel (glibc ``malloc_trim``): glibc returns only the top of
    its heap by itself, and a 100k-talent build frees ~100 MB below it (the tables' staged rows, tokens). A no-op
    where the C library is not glibc."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).malloc_trim(0)


def talent_graph(records: Mapping[str, Sequence[Record]]) -> TalentGraph:
    """The typed graph of every record, with the hire edges feedback recorded and talents labelled with their names:
    for export and counts only (ranking indices never hold hires, which would put labels into the graph features,
    nor names)."""
    return TalentGraph.build(
        talents=records.get("talent", ()),
        needs=records.get("need", ()),
        enterprises=records.get("enterprise", ()),
        platforms=records.get("platform", ()),
        incubators=records.get("incubator", ()),
        feedback=records.get("feedback", ()),
        talent_labels=True,
    )
