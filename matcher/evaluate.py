"""Offline evaluation on held-out needs: the learned ranker against simple baselines, on the same candidates.

For every held-out need the candidates are the retrieved top-``k`` (what serving re-ranks); every scorer orders the
same feature rows. Relevance comes from the demo world's hidden truth when given (``matcher.truth``; evaluation is
its only reader, and only to score, never to train), else from the held-out needs' own feedback grades.

Metrics, per need and then averaged over needs (also per post kind):

- ``ndcg@5/10/20``: scikit-learn's ``ndcg_score`` (linear gains, ties averaged) over the candidates;
- ``map``: scikit-learn's ``average_precision_score`` with grade >= 1 as relevant;
- ``mrr``: 1 / rank of the first relevant candidate;
- ``recall@k``: relevant candidates in the top k over all relevant talents of the need that are indexed and pass
  its hard rules (a talent the rules exclude can never be recommended), so ``recall@300`` measures retrieval.

With ``persons`` (talent id → person id) the evaluation judges what a recruiter sees, one card per person: each
scorer's list keeps a person's best-ranked record only (``matcher.pipeline.one_per_person``'s rule), a person's
grade is the highest of its records' (feedback folded by ``labels.fold_persons`` grades one record of the person),
and recall counts persons. A person is then counted once in NDCG however many records it arrived as; without
``persons`` (or when no candidate shares its person) every figure is the same as before.

A need with no relevant candidate has no defined NDCG, MAP or MRR and is skipped for those (recall still counts
it as 0 when it has relevant talents that retrieval missed). Ties in a score are broken by a seeded random order
for MRR and recall, so a constant scorer gets the random baseline's figures instead of the retrieval order's.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sklearn.metrics import average_precision_score, ndcg_score

from features.eligibility import check
from features.indices import Indices
from features.matrix import feature_matrix, text_relevance
from features.records import Need
from features.schema import SCHEMA
from matcher.dataset import retrieve_ids
from matcher.labels import Persons, person_key
from matcher.pipeline import one_per_person

ScoreFn = Callable[[np.ndarray, Need], np.ndarray]
MODEL_NAMES = ("lambdarank", "random", "bm25", "dense", "concept", "blend")
NDCG_AT = (5, 10, 20)


# -- splitting by need --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Splits:
    """Disjoint need ids: ``train`` fits the model, ``valid`` stops it early, ``test`` is only ever evaluated."""

    train: list[str]
    valid: list[str]
    test: list[str]

    def to_dict(self) -> dict[str, list[str]]:
        return {"train": self.train, "valid": self.valid, "test": self.test}


def split_needs(
    need_ids: Sequence[str],
    *,
    test_size: float = 0.2,
    valid_size: float = 0.1,
    random_state: int = 0,
    test_first: AbstractSet[str] = frozenset(),
) -> Splits:
    """Shuffle the distinct need ids with ``random_state`` and cut them into train / valid / test by need, so no
    held-out need contributes a single training row. Same ids and seed (in any order) → same split. ``test_first``:
    needs to hold out before any other (in the shuffled order; ``retrain`` passes those the champion never trained
    on), the others filling up only when there are too few."""
    for name, v in (("test_size", test_size), ("valid_size", valid_size)):
        if not 0 < v < 1:
            raise ValueError(f"split_needs: {name} must be a fraction between 0 and 1, got {v!r}")
    if test_size + valid_size >= 1:
        raise ValueError(f"split_needs: test_size + valid_size = {test_size + valid_size} leaves no training needs")
    ids = sorted(set(need_ids))
    if len(ids) < 3:
        raise ValueError(f"split_needs: {len(ids)} need(s) with feedback; training needs at least 3 (train/valid/test)")
    order = [ids[i] for i in np.random.default_rng(random_state).permutation(len(ids))]
    n_test = max(1, round(test_size * len(ids)))
    n_valid = max(1, round(valid_size * len(ids)))
    test = ([n for n in order if n in test_first] + [n for n in order if n not in test_first])[:n_test]
    held = set(test)
    rest = [n for n in order if n not in held]
    return Splits(train=sorted(rest[n_valid:]), valid=sorted(rest[:n_valid]), test=sorted(test))


# -- scorers ------------------------------------------------------------------------------------------------------


def _column(name: str) -> ScoreFn:
    col = SCHEMA.index(name)
    return lambda X, need: X[:, col]


def baseline_scorers(random_state: int = 0) -> dict[str, ScoreFn]:
    """The untrained baselines: ``random`` (seeded per need), one text signal each (``bm25``, ``dense``,
    ``concept``) and ``blend``, the hand-tuned linear blend serving uses without a model."""

    def random(X: np.ndarray, need: Need) -> np.ndarray:
        return np.random.default_rng([random_state, zlib.crc32(need.id.encode())]).random(len(X))

    return {
        "random": random,
        "bm25": _column("bm25_profile"),
        "dense": _column("dense_profile"),
        "concept": _column("concept_overlap"),
        "blend": lambda X, need: text_relevance(X),
    }


# -- evaluation ---------------------------------------------------------------------------------------------------


def evaluate(
    idx: Indices,
    needs: Sequence[Need],
    scorers: Mapping[str, ScoreFn],
    *,
    truth: Mapping[str, Mapping[str, int]] | None = None,
    feedback_labels: Mapping[tuple[str, str], int] | None = None,
    k_recall: Sequence[int] = (10, 20, 300),
    k: int = 300,
    now: datetime | None = None,
    random_state: int = 0,
    persons: Persons | None = None,
) -> dict[str, dict]:
    """``{scorer name: {metric: mean over needs, ..., "by_kind": {post kind: {metric: mean}}}}`` on ``needs``.

    Relevance: ``truth`` (need → talent → grade) when given, else ``feedback_labels`` ((need, talent) → grade).
    Every scorer sees the same candidates (the retrieved top-``k``) and feature rows (freshness clock ``now``).
    ``persons``: one card per person (see the module docstring)."""
    if truth is None and feedback_labels is None:
        raise ValueError("evaluate: give truth (demo worlds) or feedback_labels (held-out feedback) to score against")
    if not scorers:
        raise ValueError("evaluate: no scorers given")
    relevance: dict[str, dict[str, int]] = {}
    if truth is not None:
        relevance = {n: dict(m) for n, m in truth.items()}
    else:
        for (need_id, talent_id), grade in feedback_labels.items():
            relevance.setdefault(need_id, {})[talent_id] = grade
    per_need: dict[str, list[dict[str, float]]] = {name: [] for name in scorers}
    kinds: list[str] = []
    for need in needs:
        rel_map = relevance.get(need.id, {})
        wanted = [t for t, g in rel_map.items() if g >= 1 and t in idx.talents]
        passed = check(need, idx.table, idx.table.rows(wanted)).passed if wanted else np.zeros(0, bool)
        n_wanted = len({person_key(persons, t) for t, ok in zip(wanted, passed.tolist(), strict=True) if ok})
        cands = retrieve_ids(idx, need, k)
        if not cands:
            continue
        keys = [person_key(persons, t) for t in cands]
        shared = len(set(keys)) < len(keys)
        if persons:  # a person's grade: the highest of its records'
            grade: dict[str, int] = {}
            for t, g in rel_map.items():
                p = person_key(persons, t)
                grade[p] = max(g, grade.get(p, 0))
            rel = np.array([grade.get(p, 0) for p in keys], dtype=np.float64)
        else:
            rel = np.array([rel_map.get(t, 0) for t in cands], dtype=np.float64)
        X = feature_matrix(idx, need, cands, now=now)
        tie = np.random.default_rng([random_state, zlib.crc32(need.id.encode())]).random(len(cands))
        kinds.append(need.kind.value)
        for name, fn in scorers.items():
            score = np.asarray(fn(X, need), dtype=np.float64)
            if shared:  # one card per person: each person's best-ranked record under this scorer
                order = np.lexsort((tie, -score))  # this scorer's ranking, ties in the seeded order
                keep = np.sort(order[one_per_person([cands[i] for i in order], persons)])
                per_need[name].append(_metrics(rel[keep], score[keep], tie[keep], n_wanted, k_recall))
            else:
                per_need[name].append(_metrics(rel, score, tie, n_wanted, k_recall))
    return {name: _average(rows, kinds) for name, rows in per_need.items()}


def _metrics(rel: np.ndarray, score: np.ndarray, tie: np.ndarray, n_wanted: int, k_recall: Sequence[int]) -> dict:
    """One need's metrics (NaN where undefined: see the module docstring)."""
    out: dict[str, float] = {}
    hit = rel >= 1
    has_rel = bool(hit.any()) and len(rel) > 1
    for k in NDCG_AT:
        out[f"ndcg@{k}"] = float(ndcg_score(rel[None], score[None], k=k)) if has_rel else np.nan
    out["map"] = float(average_precision_score(hit, score)) if has_rel else np.nan
    order = np.lexsort((tie, -score))
    ranked = hit[order]
    out["mrr"] = 1.0 / (int(np.argmax(ranked)) + 1) if has_rel else np.nan
    for k in k_recall:
        out[f"recall@{k}"] = float(ranked[:k].sum()) / n_wanted if n_wanted else np.nan
    return out


def _average(rows: list[dict[str, float]], kinds: list[str]) -> dict:
    """Mean of each metric over the needs where it is defined, overall and per post kind."""
    if not rows:
        return {"by_kind": {}}
    names = list(rows[0])
    table = np.array([[r[m] for m in names] for r in rows], dtype=np.float64)
    kinds_arr = np.array(kinds)

    def means(mask: np.ndarray) -> dict[str, float]:
        sub = table[mask]
        return {m: round(float(np.nanmean(sub[:, j])), 4) for j, m in enumerate(names) if np.isfinite(sub[:, j]).any()}

    out: dict = means(np.ones(len(rows), dtype=bool))
    out["by_kind"] = {kind: means(kinds_arr == kind) for kind in sorted(set(kinds))}
    return out
