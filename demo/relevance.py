"""The hidden true relevance: every (need, talent) pair graded 0..4 from latent attributes alone.

Why: this is the exam's answer key. It is a function of the latent draws (never of the rendered records), so the
ranker can only approach it by reading the records well; no product code may import or copy it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from demo.latent import Latent
from demo.vocabulary import INCUBATORS, Vocabulary
from features.taxonomy import Industry

_GRADE_THRESHOLDS = np.array([0.45, 0.60, 0.75, 0.90])  # relevance at which grades 1..4 start
_MIN_RELEVANT = 3  # the best available talents of a need count as relevant even below the threshold
_MIN_EXPERTISE = 0.1  # below this expertise overlap a pair is unrelated by definition
_INC_FOCUS = np.array([[ind in inc.focus_industries for ind in Industry] for inc in INCUBATORS])


def expertise_vectors(v: Vocabulary, lat: Latent) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Unit-length latent expertise vectors (skills, NSFC leaves, area, industry) for talents and needs; their dot
    product is the expertise overlap that the truth builds on."""
    nt, nn = len(lat.t_area), len(lat.n_area)
    has2 = lat.t_area2 >= 0
    t_area = sp.csr_matrix((np.ones(nt, dtype=np.float32), (np.arange(nt), lat.t_area)), shape=(nt, v.n_areas))
    t_area = t_area + sp.csr_matrix(
        (np.full(has2.sum(), 0.5, dtype=np.float32), (np.flatnonzero(has2), lat.t_area2[has2])), shape=(nt, v.n_areas)
    )
    t_ind = v.area_ind[lat.t_area] + 0.5 * np.where(has2[:, None], v.area_ind[lat.t_area2], 0)
    n_area = sp.csr_matrix((np.ones(nn, dtype=np.float32), (np.arange(nn), lat.n_area)), shape=(nn, v.n_areas))
    n_ind = 0.5 * v.area_ind[lat.n_area]
    n_ind[np.arange(nn), lat.n_industry] = 1.0
    blocks = (1.0, 0.6, 0.8, 0.3)
    tx = sp.hstack(
        [b * m for b, m in zip(blocks, (lat.t_skills, lat.t_leaves, t_area, sp.csr_matrix(t_ind)), strict=True)]
    ).tocsr()
    nx = sp.hstack(
        [b * m for b, m in zip(blocks, (lat.n_skills, lat.n_leaves, n_area, sp.csr_matrix(n_ind)), strict=True)]
    ).tocsr()
    for m in (tx, nx):
        norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
        m.data /= np.repeat(np.maximum(norms, 1e-9), np.diff(m.indptr)).astype(m.data.dtype)
    return tx.astype(np.float32), nx.astype(np.float32)


def relevance(lat: Latent, need: np.ndarray, tal: np.ndarray, expertise: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """True relevance of (need, talent) pairs from latent attributes only: expertise times the fit of tier,
    availability to the post kind, site, YRD residence, incubator route, language and salary, times noise."""
    kind = lat.n_kind[need]
    tier, min_tier = lat.t_tier[tal], lat.n_min_tier[need]
    f = np.where(tier >= min_tier, 1.0 + 0.05 * np.minimum(tier - min_tier, 3), 0.35 ** (min_tier - tier))
    months, n_months = lat.t_short_months[tal], lat.n_months[need]
    relocate = lat.t_relocate[tal]
    sr = np.where(months >= n_months, 1.0, np.where(months > 0, 0.5, np.where(relocate, 0.55, 0.15)))
    sr = sr * np.where(lat.t_yrd[tal], 1.3, np.where(lat.t_abroad[tal], 0.85, 1.0))
    enclave = np.where(lat.t_shanghai_ok[tal], 1.0, np.where(relocate, 0.45, 0.2))
    full = np.where(relocate, 1.0, np.where(months > 0, 0.3, 0.15))
    inc = lat.t_incubator[tal]
    inc_focus = _INC_FOCUS[np.maximum(inc, 0), lat.n_industry[need]] & (inc >= 0)
    incub = np.where(inc_focus, 1.5, np.where(inc >= 0, 0.9, np.where(relocate, 0.7, 0.25)))
    f *= np.choose(kind, [sr, enclave, full, incub])
    f *= np.where(lat.n_lang_en[need] & ~lat.t_lang_en[tal], 0.6, 1.0)
    f *= np.where(lat.n_lang_zh[need] & ~lat.t_lang_zh[tal], 0.45, 1.0)
    budget, salary = lat.n_budget[need], lat.t_salary[tal]
    f *= np.where(np.isnan(budget), 1.0, np.where(salary > budget * 1.3, 0.55, np.where(salary > budget, 0.85, 1.0)))
    f *= np.exp(0.08 * lat.t_quality[tal])
    return expertise * f * np.exp(noise)


@dataclass
class GradedNeeds:
    """The scored pairs of needs ``start..stop``: need ``start + i`` has talents ``talents[indptr[i]:indptr[i+1]]``
    (ascending), with their relevance and grade (0 = not relevant)."""

    start: int
    stop: int
    indptr: np.ndarray
    talents: np.ndarray
    relevance: np.ndarray
    grade: np.ndarray

    def need(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Talents, relevance and grades of need ``start + i``."""
        lo, hi = self.indptr[i], self.indptr[i + 1]
        return self.talents[lo:hi], self.relevance[lo:hi], self.grade[lo:hi]


def grade_needs(v: Vocabulary, lat: Latent, rng: np.random.Generator) -> Iterator[GradedNeeds]:
    """Grade every (need, talent) pair in chunks of needs (sparse products, so only pairs with some expertise
    overlap are scored). Lazy: a chunk's noise is drawn from ``rng`` only when the chunk is asked for, so a caller
    that draws from the same ``rng`` between chunks (the simulated recruiter) gets the same stream every time."""
    tx, nx = expertise_vectors(v, lat)
    txt = tx.T.tocsr()
    n_needs, n_tal = nx.shape[0], tx.shape[0]
    chunk = max(1, 2_000_000 // max(1, n_tal // 8))
    for start in range(0, n_needs, chunk):
        prod = (nx[start : start + chunk] @ txt).tocsr()
        prod.data[prod.data < _MIN_EXPERTISE] = 0
        prod.eliminate_zeros()
        prod.sort_indices()
        rows = np.repeat(np.arange(prod.shape[0]), np.diff(prod.indptr)) + start
        rel = relevance(lat, rows, prod.indices, prod.data, rng.normal(0, 0.12, prod.nnz))
        grade = np.searchsorted(_GRADE_THRESHOLDS, rel, side="right")
        graded = GradedNeeds(start, start + prod.shape[0], prod.indptr, prod.indices, rel, grade)
        for i in range(prod.shape[0]):
            _, r, g = graded.need(i)
            if np.count_nonzero(g) < _MIN_RELEVANT and len(g):  # the best available still count as relevant
                best = top(r, _MIN_RELEVANT)
                g[best] = np.maximum(g[best], 1)
        yield graded


def top(values: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest values, largest first (partition, then sort only those)."""
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    idx = np.argpartition(-values, k - 1)[:k] if k < len(values) else np.arange(len(values))
    return idx[np.argsort(-values[idx], kind="stable")]
