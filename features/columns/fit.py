"""Fit of the talent to the post beyond expertise, as raw observables: the availability mode as stated, months, the
post's site, residence in Shanghai, gaps in the post's languages, whether the record states the arrangement the post
kind is, and that indicator times the concepts shared with the post.

No factor or band is set here. How availability, site, residence, languages, salary against budget, tier margin,
the incubator route and text relevance combine for each post kind is what the ranker learns from feedback (its
trees split on these columns next to the post-kind indicators); a hand-set prior would only be right in the world
it was fitted to. Unknowns are their own value (-1, NaN or a column of their own), never assumed. The one product,
``text_x_arrangement``, is there because relevance multiplies (an expert who cannot come is no match) and shallow
trees stopped early learn products poorly from sums; it has no constant in it.
"""

from __future__ import annotations

import numpy as np

from features.pairs import Pairs
from features.records import AvailabilityMode, NeedKind
from features.table import KIND_CODES, MODE_CODES, MODE_UNSTATED


def _gap(needs: np.ndarray, speaks: np.ndarray) -> np.ndarray:
    """1 the post needs the language and the talent's stated languages lack it, 0 no gap (or not needed), -1 the
    post needs it and the talent stated no languages."""
    return np.where(needs, np.where(speaks == 1, 0.0, np.where(speaks == 0, 1.0, -1.0)), 0.0).astype(np.float32)


def _arrangement(p: Pairs, mode: np.ndarray, sites: np.ndarray, cols: dict[str, np.ndarray]) -> np.ndarray:
    """Whether the talent states the arrangement the post kind is, by the city's definition of the kinds (not a
    weight): a special researcher comes short term, a full-time post relocates, an enclave post works at the
    Shanghai enclave (listed as a site, or living in Shanghai), an incubation project comes through a Haina
    incubator. 1 stated, 0 the record says otherwise, -1 the record does not say (no mode; no site and no city)."""
    kind = p.need["kind"]
    is_kind = {k: kind == KIND_CODES[k] for k in NeedKind}
    in_shanghai_site = (cols["site_listed"] == 1) | (cols["in_shanghai"] == 1)
    stated = np.select(
        [is_kind[NeedKind.special_researcher], is_kind[NeedKind.full_time], is_kind[NeedKind.enclave]],
        [mode == MODE_CODES[AvailabilityMode.short_term], mode == MODE_CODES[AvailabilityMode.full_time],
         in_shanghai_site],
        p.talent("incubator") > 0,
    )  # fmt: skip
    unknown = np.select(
        [is_kind[NeedKind.enclave], is_kind[NeedKind.incubation_project]],
        [(sites == 0) & (cols["in_shanghai"] == -1), False],
        mode == MODE_UNSTATED,
    )
    return np.where(stated, 1.0, np.where(unknown & ~stated, -1.0, 0.0)).astype(np.float32)


class Fit:
    names = (
        "mode_full_time",
        "mode_short_term",
        "mode_remote",
        "mode_unstated",
        "months_available",
        "site_listed",
        "in_shanghai",
        "language_gap_zh",
        "language_gap_en",
        "arrangement",
        "text_x_arrangement",
    )

    def run(self, p: Pairs) -> dict[str, np.ndarray]:
        mode = p.talent("mode", MODE_UNSTATED)
        out = {f"mode_{m.value}": (mode == MODE_CODES[m]).astype(np.float32) for m in AvailabilityMode}
        out["mode_unstated"] = ((mode == MODE_UNSTATED) & p.known).astype(np.float32)
        months = p.talent("months")
        sites = p.talent("sites")
        out |= {
            "months_available": np.where(months > 0, months, np.nan).astype(np.float32),
            "site_listed": np.where(sites == 0, -1.0, ((sites & p.need["site_bit"]) != 0).astype(np.float32)),
            "in_shanghai": p.talent("in_shanghai", -1).astype(np.float32),
            "language_gap_zh": _gap(p.need["needs_zh"], p.col("speaks_zh")),
            "language_gap_en": _gap(p.need["needs_en"], p.col("speaks_en")),
        }
        arrangement = _arrangement(p, mode, sites, out)
        out["arrangement"] = arrangement
        out["text_x_arrangement"] = p.col("concept_overlap") * (arrangement == 1)
        return out
