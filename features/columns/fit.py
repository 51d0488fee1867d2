"""Soft fit of the talent to the post beyond expertise: availability for the post kind, languages, salary, and their
product with the text match (relevance multiplies, which shallow trees learn poorly from sums).

The factors are hand-set, and several of them (the YRD and abroad factors, the salary bands, the incubation-route
and tier-gap factors) were copied from the demo generator's hidden relevance when this code was first written: on
demo worlds they overstate what the model learns, and they are only a prior anywhere else. They are kept here,
written once, until they are replaced by factors learned from feedback (issue 10); add none like them.
"""

from __future__ import annotations

import numpy as np

from features.pairs import Pairs
from features.records import AvailabilityMode, NeedKind, Site
from features.table import KIND_CODES, MODE_CODES, SITE_BITS

SALARY_BANDS = ((1.3, 0.55), (1.0, 0.85))
"""Salary over budget → fit factor: within budget 1, up to 30 % over 0.85, beyond 0.55 (a stretch, not a rule)."""
LANGUAGE_GAP = {"zh": 0.5, "en": 0.6}
"""Fit factor when the talent states languages without one the post needs (or, for Chinese, one it does not rule
out: posts in Jiaxing work in Chinese unless they say otherwise)."""
YRD_FIT = (1.3, 0.85)
"""Special researchers come and go: living in the Yangtze River Delta helps (×1.3), living abroad costs (×0.85)."""
BM25_HALF = 8.0
"""BM25 is unbounded and its scale depends on the query; ``b / (b + BM25_HALF)`` maps it into [0, 1)."""


def salary_fit(ratio: np.ndarray) -> np.ndarray:
    """The factor of the highest ``SALARY_BANDS`` band the salary/budget ratio exceeds (1 within budget)."""
    salary = np.ones(np.shape(ratio), np.float32)
    for over, factor in SALARY_BANDS:  # highest band first: a row keeps the first band it exceeds
        salary = np.where((salary == 1.0) & (ratio > over), factor, salary)
    return salary


def _special_researcher(p: Pairs, full: np.ndarray, short: np.ndarray) -> np.ndarray:
    residence = np.where(p.talent("in_yrd") == 1, YRD_FIT[0], np.where(p.talent("abroad") == 1, YRD_FIT[1], 1.0))
    return np.where(short, np.where(p.talent("months") > 0, 1.0, 0.7), np.where(full, 0.5, 0.1)) * residence


def _enclave(p: Pairs, full: np.ndarray, short: np.ndarray) -> np.ndarray:
    sites = p.talent("sites")
    on_site = ((sites & SITE_BITS[Site.shanghai_enclave]) != 0) | p.talent("in_shanghai").astype(bool)
    return np.where(on_site, 1.0, np.where(sites != 0, 0.1, np.where(full, 0.45, 0.3)))


def _full_time(p: Pairs, full: np.ndarray, short: np.ndarray) -> np.ndarray:
    return np.where(full, 1.0, 0.2)


def _incubation_project(p: Pairs, full: np.ndarray, short: np.ndarray) -> np.ndarray:
    route, linked = p.col("graph_incubator_route"), p.talent("has_incubator")
    return np.where(route > 0, 1.5, np.where(linked > 0, 0.9, np.where(full, 0.7, 0.25)))


_AVAILABILITY = {
    NeedKind.special_researcher: _special_researcher,
    NeedKind.enclave: _enclave,
    NeedKind.full_time: _full_time,
    NeedKind.incubation_project: _incubation_project,
}


def availability_fit(p: Pairs) -> np.ndarray:
    """Per post kind, how well the stated availability and sites suit it: 1 stated fit, lower for unknowns and
    second-best arrangements (a relocator on a short-stay post may not want to commute), ~0.1 a stated misfit.
    Only the kinds among the pairs' needs are computed."""
    mode = p.talent("mode")
    full = mode == MODE_CODES[AvailabilityMode.full_time]
    short = mode == MODE_CODES[AvailabilityMode.short_term]
    kind = p.need["kind"]
    fit = np.zeros(len(p.X))
    for k, branch in _AVAILABILITY.items():
        at = kind == KIND_CODES[k]
        if at.any():
            fit = np.where(at, branch(p, full, short), fit)
    return np.where(p.known, fit, 0.0)


class Fit:
    names = ("availability_fit", "language_fit", "salary_fit", "fit_prior", "text_fit")

    def run(self, p: Pairs) -> dict[str, np.ndarray]:
        availability = availability_fit(p)
        language = np.ones(len(p.X), np.float32)
        for code, factor in LANGUAGE_GAP.items():
            language *= np.where(p.need[f"needs_{code}"] & (p.col(f"speaks_{code}") == 0), factor, 1.0)
        salary = salary_fit(p.col("salary_ratio_est"))
        prior = availability * language * salary * (1.0 + 0.05 * np.clip(p.col("tier_gap"), 0, 3))
        bm25 = p.col("bm25_profile")
        return {
            "availability_fit": availability,
            "language_fit": language,
            "salary_fit": salary,
            "fit_prior": prior,
            "text_fit": (p.col("concept_overlap") + 0.3 * bm25 / (bm25 + BM25_HALF)) * prior,
        }
