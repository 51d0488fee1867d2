"""Columns read off the two tables: eligibility margins, soft preferences, seniority and freshness. Unknown talents
get 0 (-1 for the three-valued columns, NaN for salaries, unstated months and update times)."""

from __future__ import annotations

import numpy as np

from features.pairs import Pairs


class Margins:
    names = ("tier_gap", "months_surplus", "permit_points")

    def run(self, p: Pairs) -> dict[str, np.ndarray]:
        e = p.eligibility
        surplus = np.where(p.talent("months") > 0, e.months_surplus, np.nan)  # unstated months: unknown, not 0
        return {"tier_gap": e.tier_gap, "months_surplus": surplus, "permit_points": p.talent("permit_points")}


class Preferences:
    names = ("in_yrd", "salary_ratio", "abroad", "speaks_zh", "speaks_en", "salary_ratio_est")

    def run(self, p: Pairs) -> dict[str, np.ndarray]:
        table, budget = p.idx.table, p.need["budget"]
        langs = p.talent("lang_bits")
        stated = p.known & (langs != 0)
        speaks = {
            code: np.where(stated, table.languages.has(langs, code).astype(np.float32), -1.0) for code in ("zh", "en")
        }
        return {
            "in_yrd": p.talent("in_yrd", -1),
            "salary_ratio": p.talent("salary", np.nan) / budget,
            "abroad": p.talent("abroad", -1),
            "speaks_zh": speaks["zh"],
            "speaks_en": speaks["en"],
            "salary_ratio_est": table.salary_estimate(p.rows) / budget,
        }


class Seniority:
    names = ("tier_rank", "log_h_index", "log_publications", "log_patents", "honours", "works", "has_incubator")

    def run(self, p: Pairs) -> dict[str, np.ndarray]:
        return {
            "tier_rank": p.talent("tier_rank"),
            "log_h_index": np.log1p(p.talent("h_index")),
            "log_publications": np.log1p(p.talent("publications")),
            "log_patents": np.log1p(p.talent("patents")),
            "honours": p.talent("honours"),
            "works": p.talent("n_works"),
            "has_incubator": p.talent("incubator") > 0,  # the incubator column: 0 = none
        }


class Freshness:
    names = ("days_since_update",)
    clock = True
    """Its values move with the clock (``Pairs.now_day``): rows computed earlier take them anew
    (``features.matrix.retimed``)."""

    def run(self, p: Pairs) -> dict[str, np.ndarray]:
        return {"days_since_update": p.now_day - p.talent("updated_day", np.nan)}
