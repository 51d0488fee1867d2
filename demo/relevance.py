"""The hidden true relevance: every (need, talent) pair graded 0..4 from latent attributes alone.

Why: this is the exam's answer key. It is a function of the latent draws (never of the rendered records), so the
ranker can only approach it by reading the records well; no product code may import or copy it. Its factors and
their functional form are drawn per seed (``draw_params``), so no constant a product could copy holds in every
world: the product has to learn them from feedback.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from demo.latent import KINDS, Latent
from demo.vocabulary import INCUBATORS, Vocabulary
from features.records import NeedKind
from features.taxonomy import Industry

_MIN_RELEVANT = 3  # the best available talents of a need count as relevant even below the threshold
_MIN_EXPERTISE = 0.1  # below this expertise overlap a pair is unrelated by definition
_INC_FOCUS = np.array([[ind in inc.focus_industries for ind in Industry] for inc in INCUBATORS])
_RESEARCHER = KINDS.index(NeedKind.special_researcher)

RANGES: dict[str, tuple[float, float]] = {
    "grade_start": (0.40, 0.52),
    "grade_spread": (0.42, 0.56),
    "noise": (0.06, 0.25),
    "expertise_power": (0.75, 1.35),
    "quality": (0.0, 0.15),
    "tier_over": (-0.12, 0.15),
    "tier_under": (0.15, 0.8),
    "researcher_partial": (0.3, 0.85),
    "researcher_relocate": (0.3, 0.85),
    "researcher_none": (0.05, 0.3),
    "enclave_relocate": (0.25, 0.8),
    "enclave_none": (0.05, 0.4),
    "full_time_partial": (0.1, 0.6),
    "full_time_none": (0.05, 0.3),
    "incubation_relocate": (0.4, 0.9),
    "incubation_none": (0.1, 0.5),
    "salary_far_ratio": (1.15, 1.6),
}
"""Uniform range of each plain parameter of ``RelevanceParams`` (the grade thresholds come from ``grade_start``
and ``grade_spread``)."""

FORMS: dict[str, dict[str, tuple[float, dict[str, tuple[float, float] | None]]]] = {
    "residence": {
        "none": (0.25, {"yrd": (1.0, 1.0), "abroad": (1.0, 1.0)}),
        "researcher": (0.45, {"yrd": (1.1, 1.6), "abroad": (0.5, 1.0)}),
        "everywhere": (0.30, {"yrd": (1.05, 1.4), "abroad": (0.6, 1.0)}),
    },
    "incubator": {
        "absent": (0.25, {"incubator_focus": None, "incubator_other": None}),
        "weak": (0.35, {"incubator_focus": (0.8, 1.1), "incubator_other": (0.5, 0.8)}),
        "strong": (0.40, {"incubator_focus": (1.3, 2.2), "incubator_other": (0.7, 1.1)}),
    },
    "language": {
        "mild": (0.30, {"english_gap": (0.8, 1.0), "chinese_gap": (0.75, 1.0)}),
        "normal": (0.45, {"english_gap": (0.45, 0.8), "chinese_gap": (0.35, 0.75)}),
        "dominant": (0.25, {"english_gap": (0.05, 0.25), "chinese_gap": (0.03, 0.2)}),
    },
    "salary": {
        "negligible": (0.30, {"salary_over": (0.95, 1.0), "salary_far": (0.92, 1.0), "salary_slope": (0.0, 0.0)}),
        "step": (0.35, {"salary_over": (0.6, 0.95), "salary_far": (0.3, 0.8), "salary_slope": (0.0, 0.0)}),
        "smooth": (0.35, {"salary_over": (1.0, 1.0), "salary_far": (1.0, 1.0), "salary_slope": (0.8, 4.0)}),
    },
}
"""Each form family: form name → (probability, uniform range of the parameters it sets; None = not applicable)."""


@dataclass(frozen=True)
class RelevanceParams:
    """The hidden relevance of one world, drawn per seed by ``draw_params`` (ranges in ``RANGES`` and ``FORMS``).

    relevance = expertise ** ``expertise_power`` × tier × availability(kind) × residence × language × salary
    × exp(``quality`` · quality) × exp(N(0, ``noise``)); grades 1..4 start at ``thresholds``.

    - tier: meeting the need's minimum tier gives 1 + ``tier_over`` per rank above it (at most 3; the sign varies:
      some worlds prefer the overqualified, some penalise them); each missing rank multiplies by ``tier_under``.
    - availability by post kind: special researcher 1 if the talent's short-term months cover the need's,
      ``researcher_partial`` if fewer, else ``researcher_relocate`` / ``researcher_none`` (willing to relocate or
      not); enclave 1 if Shanghai suits, else ``enclave_relocate`` / ``enclave_none``; full time 1 if willing to
      relocate, else ``full_time_partial`` (short-term only) / ``full_time_none``; incubation project
      ``incubator_focus`` for a talent whose incubator focuses on the need's industry, ``incubator_other`` for
      another incubator's, else ``incubation_relocate`` / ``incubation_none`` — or, when ``incubator_form`` is
      ``absent``, the latter for everyone (the incubator route has no effect).
    - residence (``residence_form``): ``none`` (no effect), ``researcher`` (YRD residents ×``yrd``, residents
      abroad ×``abroad`` on special-researcher posts) or ``everywhere`` (the same on every post kind).
    - language (``language_form`` mild / normal / dominant): ×``english_gap`` when the need asks for English the
      talent lacks, ×``chinese_gap`` likewise for Chinese.
    - salary above a stated budget (``salary_form``): ×``salary_over``, ×``salary_far`` more beyond
      ``salary_far_ratio`` × budget, and × exp(−``salary_slope`` · overshoot ratio); ``negligible`` keeps all near
      1, ``step`` uses the two bands only, ``smooth`` the slope only.
    """

    thresholds: tuple[float, float, float, float]
    noise: float
    expertise_power: float
    quality: float
    tier_over: float
    tier_under: float
    researcher_partial: float
    researcher_relocate: float
    researcher_none: float
    enclave_relocate: float
    enclave_none: float
    full_time_partial: float
    full_time_none: float
    incubation_relocate: float
    incubation_none: float
    salary_far_ratio: float
    residence_form: str
    yrd: float
    abroad: float
    incubator_form: str
    incubator_focus: float | None
    incubator_other: float | None
    language_form: str
    english_gap: float
    chinese_gap: float
    salary_form: str
    salary_over: float
    salary_far: float
    salary_slope: float


def draw_params(rng: np.random.Generator) -> RelevanceParams:
    """One world's relevance parameters. Every value is drawn (in a fixed order, whatever the forms) and rounded to
    4 decimals, so the recorded parameters are exactly the ones used."""
    plain = {name: _uniform(rng, lo, hi) for name, (lo, hi) in RANGES.items()}
    start, spread = plain.pop("grade_start"), plain.pop("grade_spread")
    steps = spread * (0.2 + 0.4 * rng.dirichlet([2.0, 2.0, 2.0]))  # each step at least a fifth of the spread
    thresholds = tuple(round(float(x), 4) for x in start + np.concatenate([[0.0], np.cumsum(steps)]))
    forms: dict[str, object] = {}
    for family, options in FORMS.items():
        names = list(options)
        form = names[int(rng.choice(len(names), p=[options[n][0] for n in names]))]
        forms[f"{family}_form"] = form
        for name, bounds in options[form][1].items():
            value = _uniform(rng, 0.0, 1.0)  # always drawn, so a form never shifts the draws after it
            forms[name] = None if bounds is None else round(bounds[0] + (bounds[1] - bounds[0]) * value, 4)
    return RelevanceParams(thresholds=thresholds, **plain, **forms)  # type: ignore[arg-type]


def _uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return round(float(rng.uniform(lo, hi)), 4)


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


def relevance(
    lat: Latent, need: np.ndarray, tal: np.ndarray, expertise: np.ndarray, noise: np.ndarray, p: RelevanceParams
) -> np.ndarray:
    """True relevance of (need, talent) pairs from latent attributes only, in the form ``p`` describes: expertise
    times the fit of tier, availability to the post kind, residence, language, salary and quality, times noise."""
    kind = lat.n_kind[need]
    tier, min_tier = lat.t_tier[tal], lat.n_min_tier[need]
    f = np.where(
        tier >= min_tier, 1.0 + p.tier_over * np.minimum(tier - min_tier, 3), p.tier_under ** (min_tier - tier)
    )
    months, n_months = lat.t_short_months[tal], lat.n_months[need]
    relocate = lat.t_relocate[tal]
    researcher = np.where(
        months >= n_months,
        1.0,
        np.where(months > 0, p.researcher_partial, np.where(relocate, p.researcher_relocate, p.researcher_none)),
    )
    enclave = np.where(lat.t_shanghai_ok[tal], 1.0, np.where(relocate, p.enclave_relocate, p.enclave_none))
    full = np.where(relocate, 1.0, np.where(months > 0, p.full_time_partial, p.full_time_none))
    incub = np.where(relocate, p.incubation_relocate, p.incubation_none)
    if p.incubator_focus is not None and p.incubator_other is not None:
        inc = lat.t_incubator[tal]
        inc_focus = _INC_FOCUS[np.maximum(inc, 0), lat.n_industry[need]] & (inc >= 0)
        incub = np.where(inc_focus, p.incubator_focus, np.where(inc >= 0, p.incubator_other, incub))
    f *= np.choose(kind, [researcher, enclave, full, incub])
    if p.residence_form != "none":
        residence = np.where(lat.t_yrd[tal], p.yrd, np.where(lat.t_abroad[tal], p.abroad, 1.0))
        f *= residence if p.residence_form == "everywhere" else np.where(kind == _RESEARCHER, residence, 1.0)
    f *= np.where(lat.n_lang_en[need] & ~lat.t_lang_en[tal], p.english_gap, 1.0)
    f *= np.where(lat.n_lang_zh[need] & ~lat.t_lang_zh[tal], p.chinese_gap, 1.0)
    budget, salary = lat.n_budget[need], lat.t_salary[tal]
    over = np.nan_to_num(np.maximum(salary / budget - 1.0, 0.0))  # share above the budget; 0 without a budget
    f *= np.where(over > 0, p.salary_over, 1.0) * np.where(over > p.salary_far_ratio - 1.0, p.salary_far, 1.0)
    f *= np.exp(-p.salary_slope * over)
    f *= np.exp(p.quality * lat.t_quality[tal])
    return expertise.astype(np.float64) ** p.expertise_power * f * np.exp(noise)


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


def grade_needs(v: Vocabulary, lat: Latent, rng: np.random.Generator, p: RelevanceParams) -> Iterator[GradedNeeds]:
    """Grade every (need, talent) pair in chunks of needs under the world's parameters ``p`` (sparse products, so
    only pairs with some expertise overlap are scored). Lazy: a chunk's noise is drawn from ``rng`` only when the
    chunk is asked for, so a caller that draws from the same ``rng`` between chunks (the simulated recruiter) gets
    the same stream every time."""
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
        rel = relevance(lat, rows, prod.indices, prod.data, rng.normal(0, p.noise, prod.nnz), p)
        grade = np.searchsorted(np.asarray(p.thresholds), rel, side="right")
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
