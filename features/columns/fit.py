"""Fit of the talent to the post beyond expertise, as raw observables: the availability mode as stated, months, the
post's site, residence in Shanghai, and gaps in the post's languages.

No factor or band is set here. How availability, site, residence, languages, salary against budget, tier margin,
the incubator route and text relevance combine for each post kind is what the ranker learns from feedback (its
trees split on these columns next to the post-kind indicators); a hand-set prior would only be right in the world
it was fitted to. Unknowns are their own value (-1, NaN or a column of their own), never assumed.
"""

from __future__ import annotations

import numpy as np

from features.pairs import Pairs
from features.records import AvailabilityMode
from features.table import MODE_CODES, MODE_UNSTATED


def _gap(needs: np.ndarray, speaks: np.ndarray) -> np.ndarray:
    """1 the post needs the language and the talent's stated languages lack it, 0 no gap (or not needed), -1 the
    post needs it and the talent stated no languages."""
    return np.where(needs, np.where(speaks == 1, 0.0, np.where(speaks == 0, 1.0, -1.0)), 0.0).astype(np.float32)


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
        return out
