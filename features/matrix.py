"""The (need, talent) feature matrix: one vectorised call per need and candidate list, columns as in ``SCHEMA``.

Every group of columns is computed for the whole candidate list at once (sparse products, gathers, numpy
comparisons); nothing loops over candidates in Python. Unknown or erased candidates get zeros for text and graph
columns and fail eligibility, so a stale candidate list never breaks a request.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import numpy as np

from features.eligibility import Eligibility, check
from features.graph import ROUTE_CAP
from features.indices import Indices
from features.records import AvailabilityMode, Need, NeedKind, Site, need_text
from features.schema import SCHEMA
from features.table import EPOCH, MODE_CODES, SITE_BITS

_COL = {name: i for i, name in enumerate(SCHEMA.names)}


def feature_matrix(
    idx: Indices,
    need: Need,
    talent_ids: Sequence[str],
    *,
    now: datetime | None = None,
    eligibility: Eligibility | None = None,
) -> np.ndarray:
    """Float32 matrix (len(talent_ids), len(SCHEMA.names)) for ``need`` against the candidates, in schema order.

    ``now`` fixes the freshness clock (training passes the feedback's time so features match what the recruiter
    saw); ``eligibility`` may be passed when the caller has already checked the rules for these rows.
    """
    ids = list(talent_ids)
    n = len(ids)
    X = np.zeros((n, len(_COL)), dtype=np.float32)
    if n == 0:
        return X
    query = need_text(need)
    rows = idx.rows(ids)  # one lookup: the talent-side indices share row numbers
    known = rows >= 0

    _put(X, idx.sparse.score(query, rows))
    _put(X, idx.concepts.score(need, rows))
    X[:, _COL["skill_coverage"]] = idx.sparse.skill_coverage(need, rows, idx.concepts, concept_rows=rows)
    if idx.dense is not None and known.any():
        for name, values in idx.dense.score(query, rows[known]).items():
            X[known, _COL[name]] = values
    if f"need:{need.id}" in idx.graph.nx:
        _put(X, idx.graph.features(need.id, ids))
    else:  # an ad-hoc query (free-text search) has no node: no graph evidence, and no route to an enterprise
        X[:, _COL["graph_route_length"]] = ROUTE_CAP + 1

    e = eligibility if eligibility is not None else check(need, idx.table, rows)
    X[:, _COL["tier_gap"]] = e.tier_gap
    X[:, _COL["months_surplus"]] = e.months_surplus

    t = idx.table
    safe = np.where(known, rows, 0)

    def col(name: str) -> np.ndarray:
        return np.where(known, getattr(t, name)[safe], 0)

    X[:, _COL["permit_points"]] = col("permit_points")
    X[:, _COL["in_yrd"]] = np.where(known, t.in_yrd[safe], -1)
    budget = need.salary_budget or np.nan
    X[:, _COL["salary_ratio"]] = np.where(known, t.salary[safe], np.nan) / budget
    X[:, _COL["tier_rank"]] = col("tier_rank")
    X[:, _COL["log_h_index"]] = np.log1p(col("h_index"))
    X[:, _COL["log_publications"]] = np.log1p(col("publications"))
    X[:, _COL["log_patents"]] = np.log1p(col("patents"))
    X[:, _COL["honours"]] = col("honours")
    X[:, _COL["works"]] = col("n_works")
    X[:, _COL["has_incubator"]] = col("has_incubator")
    now_day = ((now or datetime.now(UTC)) - EPOCH).total_seconds() / 86400.0
    X[:, _COL["days_since_update"]] = now_day - np.where(known, t.updated_day[safe], np.nan)
    X[:, _COL[f"kind_{need.kind.value}"]] = 1.0
    _fit_columns(X, idx, need, rows, known)
    return X


SALARY_BANDS = ((1.3, 0.55), (1.0, 0.85))
"""Salary over budget → fit factor: within budget 1, up to 30 % over 0.85, beyond 0.55 (a stretch, not a rule)."""
LANGUAGE_GAP = {"zh": 0.5, "en": 0.6}
"""Fit factor when the talent states languages without one the post needs (or, for Chinese, one it does not rule
out: posts in Jiaxing work in Chinese unless they say otherwise)."""
YRD_FIT = (1.3, 0.85)
"""Special researchers come and go: living in the Yangtze River Delta helps (×1.3), living abroad costs (×0.85)."""


def _availability_fit(X: np.ndarray, t, need: Need, rows: np.ndarray) -> np.ndarray:
    """Per post kind, how well the stated availability and sites suit it: 1 stated fit, lower for unknowns and
    second-best arrangements (a relocator on a short-stay post may not want to commute), ~0.1 a stated misfit.
    The hard rules already removed clear misfits, so the gradations among the passed candidates carry the signal."""
    mode, months, sites = t.mode[rows], t.months[rows], t.sites[rows]
    full = mode == MODE_CODES[AvailabilityMode.full_time]
    short = mode == MODE_CODES[AvailabilityMode.short_term]
    if need.kind is NeedKind.special_researcher:
        fit = np.where(short, np.where(months > 0, 1.0, 0.7), np.where(full, 0.5, 0.1))
        yrd, abroad = t.in_yrd[rows], t.abroad[rows]
        return fit * np.where(yrd == 1, YRD_FIT[0], np.where(abroad == 1, YRD_FIT[1], 1.0))
    if need.kind is NeedKind.enclave:
        stated = (sites & SITE_BITS[Site.shanghai_enclave]) != 0
        unknown = np.where(full, 0.45, 0.3)
        return np.where(stated | t.in_shanghai[rows], 1.0, np.where(sites != 0, 0.1, unknown))
    if need.kind is NeedKind.full_time:
        return np.where(full, 1.0, 0.2)
    route, linked = X[:, _COL["graph_incubator_route"]], X[:, _COL["has_incubator"]]
    return np.where(route > 0, 1.5, np.where(linked > 0, 0.9, np.where(full, 0.7, 0.25)))


def _fit_columns(X: np.ndarray, idx: Indices, need: Need, rows: np.ndarray, known: np.ndarray) -> None:
    """Soft fit of the talent to the post beyond expertise: availability for the post kind, languages, salary,
    and their product with the text match (relevance multiplies, which shallow trees learn poorly from sums)."""
    t = idx.table
    safe = np.where(known, rows, 0)
    langs = t.lang_bits[safe]
    stated = known & (langs != 0)
    speaks = {}
    for code in ("zh", "en"):
        bit = t.language_bits.get(code)
        has = np.zeros(len(rows), bool) if bit is None else (langs & (1 << bit)) != 0
        speaks[code] = np.where(stated, has.astype(np.float32), -1.0)
    X[:, _COL["speaks_zh"]] = speaks["zh"]
    X[:, _COL["speaks_en"]] = speaks["en"]
    X[:, _COL["abroad"]] = np.where(known, t.abroad[safe], -1)
    needed = set(need.languages) or {"zh"}
    language = np.ones(len(rows), np.float32)
    for code, factor in LANGUAGE_GAP.items():
        if code in needed:
            language *= np.where(speaks[code] == 0, factor, 1.0)
    ratio = t.salary_estimate(rows) / (need.salary_budget or np.nan)
    availability = np.where(known, _availability_fit(X, t, need, safe), 0.0)
    write_fit(X, ratio, availability, language)


def salary_fit(ratio: np.ndarray) -> np.ndarray:
    """The factor of the highest ``SALARY_BANDS`` band the salary/budget ratio exceeds (1 within budget)."""
    salary = np.ones(np.shape(ratio), np.float32)
    for over, factor in SALARY_BANDS:  # highest band first: a row keeps the first band it exceeds
        salary = np.where((salary == 1.0) & (ratio > over), factor, salary)
    return salary


def write_fit(X: np.ndarray, ratio: np.ndarray, availability: np.ndarray, language: np.ndarray) -> None:
    """The fit columns from their parts (shared with ``talent_matrix``, which computes the parts per need)."""
    salary = salary_fit(ratio)
    prior = availability * language * salary * (1.0 + 0.05 * np.clip(X[:, _COL["tier_gap"]], 0, 3))
    bm25 = X[:, _COL["bm25_profile"]]
    X[:, _COL["salary_ratio_est"]] = ratio
    X[:, _COL["availability_fit"]] = availability
    X[:, _COL["language_fit"]] = language
    X[:, _COL["salary_fit"]] = salary
    X[:, _COL["fit_prior"]] = prior
    X[:, _COL["text_fit"]] = (X[:, _COL["concept_overlap"]] + 0.3 * bm25 / (bm25 + BM25_HALF)) * prior


def _put(X: np.ndarray, columns: dict[str, np.ndarray]) -> None:
    for name, values in columns.items():
        X[:, _COL[name]] = values


TEXT_WEIGHTS = {
    "dense_profile": 0.30,
    "dense_works_max": 0.10,
    "concept_overlap": 0.20,
    "discipline_match": 0.05,
    "skill_coverage": 0.10,
    "bm25_profile": 0.15,
    "bm25_works_max": 0.10,
}
BM25_HALF = 8.0
"""BM25 is unbounded and its scale depends on the query; ``b / (b + BM25_HALF)`` maps it into [0, 1)."""


def text_relevance(X: np.ndarray) -> np.ndarray:
    """Text relevance without any trained model: a fixed blend of sparse, concept and dense columns in [0, 1].

    Comparable across needs (every input is bounded), so it scores arbitrary (need, talent) pairs.
    """
    out = np.zeros(len(X), dtype=np.float32)
    for name, w in TEXT_WEIGHTS.items():
        v = X[:, _COL[name]]
        if name.startswith("bm25"):
            v = v / (v + BM25_HALF)
        out += w * np.clip(v, 0, 1)
    return out


def kind_columns() -> dict[NeedKind, int]:
    """Column of each post-kind indicator (evaluation groups by post kind)."""
    return {k: _COL[f"kind_{k.value}"] for k in NeedKind}


def score_pairs(
    idx: Indices,
    need_ids: Sequence[str],
    talent_ids: Sequence[str],
    score: Callable[[np.ndarray, Need], np.ndarray] | None = None,
) -> np.ndarray:
    """Scores for arbitrary (need, talent) pairs, one feature matrix per need; ``score(X, need)`` defaults to
    ``text_relevance``. Pairs keep their input order; every id must be indexed (check first)."""
    score = score or (lambda X, _need: text_relevance(X))
    need_arr = np.asarray(need_ids, dtype=object)
    talent_arr = np.asarray(talent_ids, dtype=object)
    out = np.zeros(len(need_arr), dtype=np.float32)
    for need_id in dict.fromkeys(need_ids):
        at = np.flatnonzero(need_arr == need_id)
        need = idx.needs[need_id]
        out[at] = score(feature_matrix(idx, need, list(talent_arr[at])), need)
    return out
