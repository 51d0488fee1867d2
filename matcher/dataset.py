"""Training rows for the ranker: one group per need, its candidates' feature rows and graded labels.

Which candidates a need contributes matters: the model is used to re-rank *retrieved* candidates, so it must see
retrieved talents during training, not only the ones the legacy system happened to show. The choices
(``CandidateMode``) were compared on the demo world (see ``matcher/train.py``):

- ``feedback``: only talents with feedback (shown by the legacy ranking; mostly relevant or random picks);
- ``union``: feedback talents ∪ the retrieved top-k, unlabelled ones graded 0;
- ``sampled``: feedback talents plus a seeded sample of the retrieved, unlabelled ones as negatives.

Each row also says how its talent met the recruiter (``shown``, ``examined``, ``position``): a grade 0 of a talent
never examined is not a judgement, and ``matcher.train`` weighs such rows accordingly.

With ``persons`` (talent id → person id, ``matcher.labels.Persons``) a need has one row per person: the labelled
record of a judged person (labels folded by ``labels.fold_persons``), and of a person retrieved on several records
only the best-retrieved one. The other records of a judged person are never negatives — they are the same person,
judged already —, and no person weighs more than once in the loss. Kin are dropped after the negatives are drawn, so
the rows are those of training per record less the kin (the same seed draws the same negatives).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import numpy as np

from features.eligibility import check
from features.indices import Indices
from features.matrix import feature_matrix
from features.records import FeedbackEvent, Need
from features.schema import SCHEMA
from matcher.labels import Exposure, Persons, person_key
from matcher.retrieve import retrieve


class CandidateMode(StrEnum):
    feedback = "feedback"
    union = "union"
    sampled = "sampled"


@dataclass(frozen=True)
class RankData:
    """Rows grouped by need: ``X`` (n, F) in schema order, ``y`` (n,) int grades, ``group`` (g,) rows per need,
    ``need_ids`` (g,) one per group, ``talent_ids`` (n,) one per row. Groups are contiguous, in ``need_ids`` order.
    Per row: ``shown`` (the talent has feedback for the need), ``examined`` (opened or judged), ``judged`` (has a
    judgement, not only exposure events) and ``position`` (where it was shown; -1 when not shown or no event gives
    one)."""

    X: np.ndarray
    y: np.ndarray
    group: np.ndarray
    need_ids: list[str]
    talent_ids: list[str]
    shown: np.ndarray
    examined: np.ndarray
    judged: np.ndarray
    position: np.ndarray

    def __len__(self) -> int:
        return len(self.y)


def snapshot_time(events: Iterable[FeedbackEvent]) -> datetime | None:
    """The latest feedback time: the freshness clock of a training run, so features do not drift with the wall
    clock between runs on the same data."""
    times = [ev.time for ev in events if ev.time is not None]
    return max(times) if times else None


def retrieve_ids(idx: Indices, need: Need, k: int = 300) -> list[str]:
    """The need's first-stage candidates (eligible, deduplicated, at most ``k``): what serving re-ranks."""
    return retrieve(idx, need, k=k).talent_ids


def build_rank_data(
    idx: Indices,
    needs: Sequence[Need],
    labels: Mapping[tuple[str, str], int],
    *,
    mode: CandidateMode | str = CandidateMode.union,
    k: int = 300,
    negatives: int = 100,
    now: datetime | None = None,
    random_state: int = 0,
    exposure: Mapping[tuple[str, str], Exposure] | None = None,
    persons: Persons | None = None,
    exclude: Mapping[str, AbstractSet[str]] | None = None,
) -> RankData:
    """Feature rows and grades for ``needs`` (one feature-matrix call per need). Feedback talents no longer indexed
    are dropped; ``negatives`` is the sample size per need in ``sampled`` mode. A need with no rows is skipped.
    Rows within a need are in a seeded random order. ``exposure`` (``labels.exposure_from_feedback``) fills
    ``examined``, ``judged`` and ``position``; without it every labelled row counts as judged at an unknown position.
    ``persons``: one row per person (see the module docstring); of a person's labelled records (labels not folded)
    the highest-graded stays. ``exclude``: need id → persons (the talent id of a record standing alone) never taken
    as retrieved negatives for it (``retrain``: those the need's receipt rows hold already)."""
    mode = CandidateMode(mode)
    rng = np.random.default_rng(random_state)
    by_need: dict[str, dict[str, int]] = {}
    for (need_id, talent_id), grade in labels.items():
        by_need.setdefault(need_id, {})[talent_id] = grade
    exposure = exposure or {}
    Xs, ys, groups, need_ids, talent_ids, shown, examined, judged, position = [], [], [], [], [], [], [], [], []
    for need in needs:
        known = {t: g for t, g in by_need.get(need.id, {}).items() if t in idx.talents}
        drop: set[str] = set()
        if persons:
            known = _one_per_person(known, persons)
        ids = list(known)
        if mode is not CandidateMode.feedback:
            extra = [t for t in retrieve_ids(idx, need, k) if t not in known]
            if mode is CandidateMode.sampled and len(extra) > negatives:
                extra = [extra[i] for i in np.sort(rng.choice(len(extra), negatives, replace=False))]
            away = (exclude or {}).get(need.id, frozenset())
            if persons or away:  # kin leave after the draw: the rows are the per-record rows less the kin
                kept = _new_persons(extra, {person_key(persons, t) for t in known} | set(away), persons)
                drop = set(extra) - set(kept)
            ids += extra
        if not ids:
            continue
        # Shuffled within the need: labelled talents first would let tied scores (an early tree) look perfect.
        ids = [ids[i] for i in rng.permutation(len(ids))]
        if drop:  # after the shuffle too, so that the seed draws the same for every later need
            ids = [t for t in ids if t not in drop]
            if not ids:
                continue
        Xs.append(feature_matrix(idx, need, ids, now=now, eligibility=check(need, idx.table, idx.table.rows(ids))))
        ys.append(np.array([known.get(t, 0) for t in ids], dtype=np.int32))
        groups.append(len(ids))
        need_ids.append(need.id)
        talent_ids += ids
        seen = [exposure.get((need.id, t)) for t in ids]
        shown += [t in known for t in ids]
        examined += [e.examined if e is not None else t in known for t, e in zip(ids, seen, strict=True)]
        judged += [e.judged if e is not None else t in known for t, e in zip(ids, seen, strict=True)]
        position += [e.position if e is not None and e.position is not None else -1 for e in seen]
    width = len(SCHEMA.names)
    return RankData(
        X=np.concatenate(Xs) if Xs else np.zeros((0, width), np.float32),
        y=np.concatenate(ys) if ys else np.zeros(0, np.int32),
        group=np.array(groups, dtype=np.int64),
        need_ids=need_ids,
        talent_ids=talent_ids,
        shown=np.array(shown, dtype=bool),
        examined=np.array(examined, dtype=bool),
        judged=np.array(judged, dtype=bool),
        position=np.array(position, dtype=np.int64),
    )


def _one_per_person(known: dict[str, int], persons: Persons) -> dict[str, int]:
    """The labelled records, one per person: its highest grade's (the smallest id on a tie)."""
    best: dict[str, str] = {}
    for t in sorted(known):
        p = person_key(persons, t)
        if p not in best or known[t] > known[best[p]]:
            best[p] = t
    keep = set(best.values())
    return {t: g for t, g in known.items() if t in keep}


def _new_persons(ids: list[str], seen: set[str], persons: Persons | None) -> list[str]:
    """``ids`` (best first) less the records of persons in ``seen`` and the later records of one person."""
    out = []
    for t in ids:
        p = person_key(persons, t)
        if p not in seen:
            seen.add(p)
            out.append(t)
    return out
