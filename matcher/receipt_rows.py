"""Training rows from what recruiters actually saw: feedback joined to the decision receipts of the rankings it names.

A receipt keeps each shown candidate's feature row as it was computed when the page was served. Joining a label to
that row, not to one recomputed from today's records, keeps later changes (a talent's new paper, a need's edited
skills) out of the label's features: the model learns what the recruiter judged.

Rows, one per (need, shown talent), grouped by need:

- a talent acted on takes its row from the receipt of its first event (where the recruiter first judged it); one
  never acted on, from the first receipt that showed it (a later showing is counted as ``shown_again``);
- grades and exposure come from the events (``matcher.labels``); a talent shown above the deepest candidate the
  recruiter acted on in that ranking and left alone was passed over: examined and judged, grade 0 (the cascade
  reading of a results page). One shown below it may never have been looked at: shown, unexamined, and the
  ``LabelTreatment`` decides what it counts for;
- rows of a receipt built with another feature schema are skipped (their columns mean something else), and rows an
  erasure redacted drop out; both are counted. Events with no receipt (imported history) are returned for the
  caller to build as ``train`` does, from the current records.

Only pages with at least one event are read: a page nobody acted on says nothing about what was looked at.

With ``persons`` (talent id → person id) rows are one per (need, shown person): the events of all the person's
records grade and expose the person, its row is the record the receipt of its first event showed, and a record of a
person that already has a row for the need — a page from before the records were linked showing both, or a later
page showing the other record — is skipped and counted (``same_person``): never a passed-over 0 beside the
person's own judgement.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from features.records import FeedbackAction, FeedbackEvent
from features.schema import SCHEMA, FeatureSchema
from matcher.dataset import RankData
from matcher.labels import DEFAULT_LABELS, Persons, exposure_from_feedback, labels_from_feedback, person_key


@dataclass(frozen=True)
class ShownPage:
    """One decision receipt as stored: its need, when and with which schema and model it was served, and per shown
    candidate its position, talent id and named feature row (``None`` for both once erased)."""

    ranking_id: str
    need_id: str | None
    created_at: datetime
    schema_version: str
    model_version: str | None
    positions: Sequence[int]
    talent_ids: Sequence[str | None]
    features: Sequence[Mapping[str, float | None] | None]


@dataclass(frozen=True)
class Joined:
    """The receipt rows (``data``), the events with no receipt (``recompute``), and counts of what was left out
    and why (``skipped``: ``other_schema``, ``erased``, ``shown_again`` and ``same_person`` rows;
    ``other_schema_events`` and ``need_mismatch`` events; ``labels_without_row``: pairs acted on whose shown row is
    gone)."""

    data: RankData
    recompute: list[FeedbackEvent]
    skipped: dict[str, int]
    pages: int
    skipped_pages: int = 0
    by_model: dict[str, int] = field(default_factory=dict)


def empty_rank_data(width: int) -> RankData:
    return RankData(
        X=np.zeros((0, width), np.float32), y=np.zeros(0, np.int32), group=np.zeros(0, np.int64), need_ids=[],
        talent_ids=[], shown=np.zeros(0, bool), examined=np.zeros(0, bool), judged=np.zeros(0, bool),
        position=np.zeros(0, np.int64),
    )  # fmt: skip


def feature_rows(features: Sequence[Mapping[str, float | None]], schema: FeatureSchema = SCHEMA) -> np.ndarray:
    """Stored named feature rows → an (n, F) float32 matrix in ``schema.names`` order; a missing or null value
    (an undefined ratio) is NaN, as LightGBM reads it."""
    names = schema.names
    if not features:
        return np.zeros((0, len(names)), np.float32)
    return np.array([[f.get(n) for n in names] for f in features], dtype=np.float64).astype(np.float32)


def join_receipts(
    events: Sequence[FeedbackEvent],
    pages: Mapping[str, ShownPage],
    *,
    label_map: Mapping[str, int] = DEFAULT_LABELS,
    schema: FeatureSchema = SCHEMA,
    random_state: int = 0,
    persons: Persons | None = None,
) -> Joined:
    """Join ``events`` to the receipts in ``pages`` (ranking id → page); see the module docstring."""
    skipped = dict.fromkeys(
        ("other_schema", "erased", "shown_again", "same_person", "other_schema_events", "need_mismatch",
         "labels_without_row"), 0,
    )  # fmt: skip
    joined_events: list[FeedbackEvent] = []
    recompute: list[FeedbackEvent] = []
    other_schema: set[str] = set()
    for ev in events:
        page = pages.get(ev.ranking_id) if ev.ranking_id else None
        if page is None:
            recompute.append(ev)
        elif page.need_id != ev.need_id:
            skipped["need_mismatch"] += 1
        elif page.schema_version != schema.version:
            skipped["other_schema_events"] += 1
            other_schema.add(page.ranking_id)
        else:
            joined_events.append(ev)
    for rid in other_schema:
        skipped["other_schema"] += len(pages[rid].positions)

    # keyed by (need, person): a person's events grade, expose and place it once, whichever record they name
    by_person = [_as_person(ev, persons) for ev in joined_events]
    labels = labels_from_feedback(by_person, label_map)
    exposure = exposure_from_feedback(by_person)
    first_rid: dict[tuple[str, str], str] = {}
    first_tid: dict[tuple[str, str], str] = {}  # the record the person's first event named
    deepest: dict[str, int] = {}
    for ev, orig in sorted(zip(by_person, joined_events, strict=True), key=lambda e: _when(e[0])):
        first_rid.setdefault((ev.need_id, ev.talent_id), ev.ranking_id)
        first_tid.setdefault((ev.need_id, ev.talent_id), orig.talent_id)
        if ev.action is not FeedbackAction.impression and ev.position is not None:
            deepest[ev.ranking_id] = max(deepest.get(ev.ranking_id, -1), ev.position)

    used = sorted({ev.ranking_id for ev in joined_events}, key=lambda r: (pages[r].created_at, r))
    taken: set[tuple[str, str]] = set()
    need_of, talent_of, person_of, position, passed, feats = [], [], [], [], [], []
    by_model: dict[str, int] = {}
    showing: dict[tuple[str, str], set[str]] = {}
    for rid in used:
        page = pages[rid]
        for pos, tid, feat in zip(page.positions, page.talent_ids, page.features, strict=True):
            if tid is None or feat is None:
                skipped["erased"] += 1
                continue
            key = (page.need_id, person_key(persons, tid))
            first = first_rid.get(key)
            if (first == rid and tid != first_tid[key]) or (first is None and rid in showing.get(key, ())):
                skipped["same_person"] += 1  # the person's row is the record acted on, or the first one shown
                continue
            if (first is not None and first != rid) or (first is None and key in taken):
                skipped["shown_again"] += 1
                continue
            taken.add(key)
            showing.setdefault(key, set()).add(rid)
            need_of.append(page.need_id)
            talent_of.append(tid)
            person_of.append(key[1])
            position.append(pos)
            passed.append(first is None and pos < deepest.get(rid, -1))
            feats.append(feat)
            by_model[page.model_version or "unknown"] = by_model.get(page.model_version or "unknown", 0) + 1
    skipped["labels_without_row"] = sum(1 for key in labels if key not in taken)
    if not need_of:
        return Joined(empty_rank_data(len(schema.names)), recompute, skipped, len(used), len(other_schema), by_model)

    rng = np.random.default_rng(random_state)
    needs, codes = np.unique(np.array(need_of, dtype=object), return_inverse=True)
    # Grouped by need; shuffled within a need, so tied scores never look like the shown order.
    order = np.lexsort((rng.random(len(codes)), codes))
    X = feature_rows([feats[i] for i in order], schema)
    keys = [(need_of[i], person_of[i]) for i in order]
    seen = [exposure.get(k) for k in keys]
    was_passed = np.array(passed, dtype=bool)[order]
    data = RankData(
        X=X,
        y=np.array([labels.get(k, 0) for k in keys], dtype=np.int32),
        group=np.bincount(codes).astype(np.int64),
        need_ids=[str(n) for n in needs],
        talent_ids=[talent_of[i] for i in order],
        shown=np.ones(len(keys), dtype=bool),
        examined=np.array([e is not None and e.examined for e in seen], dtype=bool) | was_passed,
        judged=np.array([e is not None and e.judged for e in seen], dtype=bool) | was_passed,
        position=np.array(position, dtype=np.int64)[order],
    )
    return Joined(data, recompute, skipped, len(used), len(other_schema), by_model)


def _when(ev: FeedbackEvent) -> tuple[bool, datetime]:
    return (ev.time is None, ev.time or datetime.min)


def _as_person(ev: FeedbackEvent, persons: Persons | None) -> FeedbackEvent:
    """``ev`` addressed to its talent's person (itself when it stands alone)."""
    p = person_key(persons, ev.talent_id)
    return ev if p == ev.talent_id else ev.model_copy(update={"talent_id": p})


def take_needs(data: RankData, need_ids: set[str] | frozenset[str]) -> RankData:
    """The groups of ``data`` whose need is in ``need_ids``, in their order."""
    starts = np.concatenate([[0], np.cumsum(data.group)[:-1]]).astype(np.int64)
    keep = [i for i, n in enumerate(data.need_ids) if n in need_ids]
    if not keep:
        return empty_rank_data(data.X.shape[1])
    rows = np.concatenate([np.arange(starts[i], starts[i] + data.group[i]) for i in keep])
    return RankData(
        X=data.X[rows], y=data.y[rows], group=data.group[keep], need_ids=[data.need_ids[i] for i in keep],
        talent_ids=[data.talent_ids[i] for i in rows], shown=data.shown[rows], examined=data.examined[rows],
        judged=data.judged[rows], position=data.position[rows],
    )  # fmt: skip


def concat(*parts: RankData) -> RankData:
    """``parts`` one after the other (groups kept whole)."""
    parts = tuple(p for p in parts if len(p)) or parts[:1]
    return RankData(
        X=np.concatenate([p.X for p in parts]).astype(np.float32),
        y=np.concatenate([p.y for p in parts]).astype(np.int32),
        group=np.concatenate([p.group for p in parts]).astype(np.int64),
        need_ids=[n for p in parts for n in p.need_ids],
        talent_ids=[t for p in parts for t in p.talent_ids],
        shown=np.concatenate([p.shown for p in parts]),
        examined=np.concatenate([p.examined for p in parts]),
        judged=np.concatenate([p.judged for p in parts]),
        position=np.concatenate([p.position for p in parts]).astype(np.int64),
    )
