"""A model's exposure on held-out needs: who its top ``k`` shows, by group, against who is relevant there.

What the model card reports (``matcher.registry.card``) and notebook 2 can call: the same retrieved candidates and
feature rows as ``matcher.evaluate``, the model's order, and ``matcher.exposure.exposure_table`` on the result.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime

import numpy as np
import pandas as pd

from features.indices import Indices
from features.matrix import feature_matrix
from features.records import Need
from matcher.dataset import retrieve_ids
from matcher.exposure import exposure_table, talent_attributes
from matcher.labels import Persons, person_key

TOP_K = 10
"""Slots counted as shown: the first page a recruiter reads."""


def top_k_shown(
    idx: Indices,
    needs: Sequence[Need],
    predict: Callable[[np.ndarray], np.ndarray],
    *,
    k: int = TOP_K,
    now: datetime | None = None,
    persons: Persons | None = None,
) -> pd.DataFrame:
    """(need_id, talent_id, position) rows of the first ``k`` candidates ``predict`` ranks for each need (1-based
    positions; ties broken by retrieval order); with ``persons``, one card per person (its best-ranked record)."""
    rows: list[tuple[str, str, int]] = []
    for need in needs:
        cands = retrieve_ids(idx, need)
        if not cands:
            continue
        scores = np.asarray(predict(feature_matrix(idx, need, cands, now=now)), dtype=float)
        order = np.argsort(-scores, kind="stable")
        if persons:
            keys = np.array([person_key(persons, cands[i]) for i in order], dtype=object)
            _, first = np.unique(keys, return_index=True)
            order = order[np.sort(first)]
        order = order[:k]
        rows += [(need.id, cands[i], p) for p, i in enumerate(order, 1)]
    return pd.DataFrame(rows, columns=["need_id", "talent_id", "position"])


def heldout_exposure(
    idx: Indices,
    needs: Sequence[Need],
    predict: Callable[[np.ndarray], np.ndarray],
    relevant: Iterable[tuple[str, str]],
    *,
    k: int = TOP_K,
    now: datetime | None = None,
    persons: Persons | None = None,
) -> pd.DataFrame:
    """``exposure_table`` of ``predict``'s top ``k`` on ``needs`` against the ``relevant`` (need, talent) pairs
    (``persons``: one card per person, as ``top_k_shown``)."""
    shown = top_k_shown(idx, needs, predict, k=k, now=now, persons=persons)
    pairs = pd.DataFrame(list(relevant), columns=["need_id", "talent_id"])
    return exposure_table(shown, pairs, talent_attributes(idx.talents.values()))


def relevant_pairs(
    need_ids: Iterable[str],
    *,
    truth: Mapping[str, Mapping[str, int]] | None = None,
    feedback_labels: Mapping[tuple[str, str], int] | None = None,
) -> list[tuple[str, str]]:
    """The (need, talent) pairs graded ≥ 1 for ``need_ids``, from the truth when given, else from feedback."""
    wanted = set(need_ids)
    if truth is not None:
        return [(n, t) for n in sorted(wanted) for t, g in truth.get(n, {}).items() if g >= 1]
    return sorted(key for key, g in (feedback_labels or {}).items() if g >= 1 and key[0] in wanted)
