"""Who gets shown against who is relevant, by group: a bias is seen here before recruiters feel it.

A ranking gives a group of talents (a nationality, a tier, a place of residence, an incubator) a share of the shown
slots and, since the top of a list is read far more than its bottom, a share of the position-weighted *exposure*
(``1 / log2(1 + position)``, the discount of DCG). A fair ranking gives each group about the share it has among the
*relevant* talents (those judged positively for the needs shown): ``ratio`` = exposure share / relevant share, 1 when
they agree, below 1 for a group the ranking hides, above 1 for one it pushes. Pure pandas: the report, the model card
and notebook 2 feed it rows from receipts, feedback or an offline ranking.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from features.records import Talent

ATTRIBUTES = ("nationality", "tier", "residence", "incubator")
"""The groupings of ``talent_attributes`` and ``exposure_table``'s default ``by``."""
UNKNOWN = "unknown"
"""The group of a talent whose attribute is not stated (or who is no longer known)."""
COLUMNS = ["attribute", "group", "shown", "shown_share", "exposure_share", "relevant", "relevant_share", "ratio"]


def talent_attributes(talents: Iterable[Talent]) -> pd.DataFrame:
    """One row per talent, indexed by id, with the ``ATTRIBUTES`` as strings: nationality and residence country
    (ISO codes), tier (A–E) and incubator id; ``UNKNOWN`` where the profile does not say."""
    rows = [
        {
            "talent_id": t.id,
            "nationality": t.nationality or UNKNOWN,
            "tier": t.tier.value if t.tier is not None else UNKNOWN,
            "residence": t.residence.country or UNKNOWN,
            "incubator": t.incubator_id or UNKNOWN,
        }
        for t in talents
    ]
    return pd.DataFrame(rows, columns=["talent_id", *ATTRIBUTES]).set_index("talent_id")


def position_weight(position: np.ndarray | pd.Series) -> np.ndarray:
    """``1 / log2(1 + position)`` for 1-based positions: 1 at the top, 0.63 at 2, 0.29 at 10."""
    p = np.asarray(position, dtype=float)
    if (p < 1).any():
        raise ValueError("positions are 1-based: every position must be ≥ 1")
    return 1.0 / np.log2(1.0 + p)


def exposure_table(
    shown: pd.DataFrame,
    relevant: pd.DataFrame,
    attributes: pd.DataFrame,
    *,
    by: Sequence[str] = ATTRIBUTES,
) -> pd.DataFrame:
    """The exposure table: one row per (attribute, group).

    ``shown``: one row per shown slot with columns ``need_id``, ``talent_id`` and ``position`` (1-based; a talent
    shown twice counts twice — it was seen twice). ``relevant``: one row per (``need_id``, ``talent_id``) judged
    relevant (say, feedback with a positive grade); duplicates count once. ``attributes``: indexed by talent id,
    one column per name in ``by`` (``talent_attributes`` makes it); talents missing from it fall in ``UNKNOWN``.

    Columns: ``shown`` (slots) and ``shown_share``, ``exposure_share`` (share of ``position_weight``),
    ``relevant`` (pairs) and ``relevant_share``, and ``ratio`` = exposure_share / relevant_share (NaN where the group
    has no relevant talent). Shares sum to 1 within an attribute; rows are sorted by attribute, then by ratio
    (the most under-exposed group first). Empty inputs give shares of 0, never a division error.
    """
    missing = [c for c in ("need_id", "talent_id", "position") if c not in shown.columns]
    missing += [f"relevant.{c}" for c in ("need_id", "talent_id") if c not in relevant.columns]
    missing += [f"attributes.{c}" for c in by if c not in attributes.columns]
    if missing:
        raise ValueError(f"exposure_table: missing columns {', '.join(missing)}")
    slots = shown[["talent_id"]].assign(weight=position_weight(shown["position"].to_numpy()) if len(shown) else [])
    pairs = relevant[["need_id", "talent_id"]].drop_duplicates()
    frames = []
    for attribute in by:
        groups = attributes[attribute]
        slot_group = slots["talent_id"].map(groups).fillna(UNKNOWN)
        pair_group = pairs["talent_id"].map(groups).fillna(UNKNOWN)
        table = pd.DataFrame(
            {
                "shown": slot_group.value_counts(),
                "weight": slots["weight"].groupby(slot_group).sum(),
                "relevant": pair_group.value_counts(),
            }
        ).fillna(0.0)
        table.index.name = "group"
        table = table.reset_index()
        table["shown_share"] = _share(table["shown"])
        table["exposure_share"] = _share(table["weight"])
        table["relevant_share"] = _share(table["relevant"])
        table["ratio"] = table["exposure_share"] / table["relevant_share"].where(table["relevant_share"] > 0)
        table["attribute"] = attribute
        table[["shown", "relevant"]] = table[["shown", "relevant"]].astype(int)
        frames.append(table.sort_values(["ratio", "group"], na_position="last")[COLUMNS])
    if not frames:
        return pd.DataFrame(columns=COLUMNS)
    return pd.concat(frames, ignore_index=True)


def _share(values: pd.Series) -> pd.Series:
    total = float(values.sum())
    return values / total if total > 0 else values * 0.0


def exposure_records(table: pd.DataFrame) -> list[dict[str, object]]:
    """The table as JSON-ready rows (NaN ratios as ``None``), as a run logs it for the model card."""
    rows = table.to_dict(orient="records")
    return [{k: None if isinstance(v, float) and np.isnan(v) else v for k, v in row.items()} for row in rows]
