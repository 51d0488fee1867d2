"""Population stability index (PSI): how far the feature rows the model now sees have moved from the rows it was
trained on, one number per feature.

The reference is kept as a *profile*, not as rows: per feature, bins cut at the reference's quantiles (or, for a
feature with few distinct values — a flag, a post kind, a tier rank — one bin per value) and the reference's share in
each. A profile is a few numbers per feature, JSON-ready, so a training run can log it to MLflow without keeping
anyone's rows (those would outlive a talent's erasure). A recent sample is binned the same way and

    PSI = Σ_bins (recent_share − reference_share) · ln(recent_share / reference_share),

a share below ``EPSILON`` counted as ``EPSILON`` (an empty bin would be infinite). The usual reading, kept as the
default thresholds: below ``MODERATE`` (0.1) stable, up to ``SHIFT`` (0.25) a moderate change, above it a shift.
Plain numpy: the libraries that compute PSI (evidently, nannyml, popmon) bring dozens of dependencies and keep their
reference as a data frame of rows, which is what the profile avoids.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

BINS = 10
"""Quantile bins of a numeric feature (deciles of the reference)."""
CATEGORICAL_MAX = 12
"""A feature whose reference holds at most this many distinct integer values gets one bin per value."""
EPSILON = 1e-4
"""The smallest share a bin counts with: an empty bin would make the log infinite."""
MODERATE = 0.1
"""PSI below this: stable."""
SHIFT = 0.25
"""PSI above this: the population has shifted (the default flag of the report and the retrain rule)."""
OTHER = "other"
"""The bin of a categorical feature's values the reference never had."""


def profile(X: np.ndarray, names: Sequence[str], bins: int = BINS) -> dict[str, dict[str, Any]]:
    """The reference profile of feature rows ``X`` (n, len(names)): feature → ``{"kind": "numeric", "edges": [...],
    "shares": [...]}`` (interior quantile edges; bin i holds edges[i-1] ≤ x < edges[i]) or ``{"kind":
    "categorical", "values": [...], "shares": [...]}`` (the last share is ``OTHER``, 0 in the reference), and
    ``n``, the rows profiled. Non-finite values are left out."""
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[1] != len(names):
        raise ValueError(f"profile: X has shape {X.shape}; expected (n, {len(names)}) rows, one column per name")
    out: dict[str, dict[str, Any]] = {}
    for j, name in enumerate(names):
        col = X[:, j][np.isfinite(X[:, j])]
        values = np.unique(col)
        if len(values) <= CATEGORICAL_MAX and np.all(values == np.round(values)):
            entry: dict[str, Any] = {"kind": "categorical", "values": values.tolist()}
        else:
            quantiles = np.quantile(col, np.arange(1, bins) / bins) if len(col) else np.zeros(0)
            entry = {"kind": "numeric", "edges": np.unique(quantiles).tolist()}
        entry["shares"] = bin_shares(entry, col).tolist()
        entry["n"] = len(col)
        out[name] = entry
    return out


def psi_table(
    reference: Mapping[str, Mapping[str, Any]], X: np.ndarray, names: Sequence[str], *, threshold: float = SHIFT
) -> pd.DataFrame:
    """PSI of each profiled feature between ``reference`` (a ``profile``) and recent rows ``X`` (n, len(names)).

    One row per feature in both, sorted by PSI, highest first: ``feature``, ``psi``, ``reading`` (``stable``,
    ``moderate``, ``shift``), ``flagged`` (psi > ``threshold``) and ``n`` (recent rows with a finite value). A
    feature with no recent value has PSI NaN and is not flagged."""
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[1] != len(names):
        raise ValueError(f"psi_table: X has shape {X.shape}; expected (n, {len(names)}) rows, one column per name")
    rows = []
    for j, name in enumerate(names):
        entry = reference.get(name)
        if entry is None:
            continue
        col = X[:, j][np.isfinite(X[:, j])]
        value = psi(np.asarray(entry["shares"]), bin_shares(entry, col)) if len(col) else float("nan")
        rows.append({"feature": name, "psi": value, "reading": reading(value), "n": len(col)})
    table = pd.DataFrame(rows, columns=["feature", "psi", "reading", "n"])
    table["flagged"] = table["psi"] > threshold
    return table.sort_values("psi", ascending=False, na_position="last", ignore_index=True)


def psi(reference_shares: np.ndarray, recent_shares: np.ndarray, epsilon: float = EPSILON) -> float:
    """PSI of two share vectors over the same bins (each summing to 1)."""
    e = np.maximum(np.asarray(reference_shares, dtype=float), epsilon)
    a = np.maximum(np.asarray(recent_shares, dtype=float), epsilon)
    return float(np.sum((a - e) * np.log(a / e)))


def column_psi(reference: np.ndarray, recent: np.ndarray, bins: int = BINS) -> float:
    """PSI of one feature's recent values against its reference values (bins from the reference)."""
    entry = profile(np.asarray(reference, dtype=float)[:, None], ["x"], bins)["x"]
    recent = np.asarray(recent, dtype=float)
    return psi(np.asarray(entry["shares"]), bin_shares(entry, recent[np.isfinite(recent)]))


def reading(value: float) -> str:
    """The usual reading of a PSI: ``stable`` (< 0.1), ``moderate`` (≤ 0.25), ``shift`` (> 0.25); ``no data``."""
    if not np.isfinite(value):
        return "no data"
    return "stable" if value < MODERATE else "moderate" if value <= SHIFT else "shift"


def bin_shares(entry: Mapping[str, Any], col: np.ndarray) -> np.ndarray:
    """Share of ``col`` in each bin of a profile entry (zeros for an empty column): the plots compare these."""
    if entry["kind"] == "categorical":
        values = np.asarray(entry["values"], dtype=float)
        bins = np.full(len(col), len(values))  # OTHER unless the reference had the value
        if len(values):
            index = np.minimum(np.searchsorted(values, col), len(values) - 1)
            bins = np.where(values[index] == col, index, bins)
        counts = np.bincount(bins, minlength=len(values) + 1)
    else:
        edges = np.asarray(entry["edges"], dtype=float)
        counts = np.bincount(np.searchsorted(edges, col, side="right"), minlength=len(edges) + 1)
    total = counts.sum()
    return counts / total if total else counts.astype(float)
