"""PSI against known answers: identical samples, a deterministic half-range shift, a normal mean shift (the analytic
value from the normal CDF), a binary flag, and values the reference never had."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import norm

from matcher.drift import EPSILON, column_psi, profile, psi_table, reading


def test_identical_samples_are_stable() -> None:
    x = np.random.default_rng(0).normal(size=5000)
    assert column_psi(x, x) == pytest.approx(0.0, abs=1e-12)
    assert reading(column_psi(x, x)) == "stable"


def test_half_the_range_gives_the_closed_form() -> None:
    """Deciles of 0..999 hold 100 values each; 0..499 fills the first five (share 0.2) and leaves five empty."""
    reference, recent = np.arange(1000), np.arange(500)
    expected = 5 * 0.1 * np.log(2) + 5 * (EPSILON - 0.1) * np.log(EPSILON / 0.1)
    assert column_psi(reference, recent) == pytest.approx(expected, rel=1e-9)


def test_a_normal_mean_shift_matches_the_analytic_psi() -> None:
    rng = np.random.default_rng(1)
    reference, recent = rng.normal(size=400_000), rng.normal(0.5, 1.0, size=400_000)
    z = norm.ppf(np.arange(1, 10) / 10)
    cdf = norm.cdf(np.concatenate([[-np.inf], z, [np.inf]]) - 0.5)
    a = np.diff(cdf)
    expected = float(np.sum((a - 0.1) * np.log(a / 0.1)))  # ≈ 0.25: the edge of a shift
    assert column_psi(reference, recent) == pytest.approx(expected, abs=0.005)


def test_binary_feature_gets_one_bin_per_value() -> None:
    reference = np.array([1] * 80 + [0] * 20)
    recent = np.array([1] * 50 + [0] * 50)
    expected = 0.3 * np.log(0.5 / 0.2) + (-0.3) * np.log(0.5 / 0.8)
    assert column_psi(reference, recent) == pytest.approx(expected, rel=1e-9)
    prof = profile(reference[:, None], ["flag"])
    assert prof["flag"]["kind"] == "categorical" and prof["flag"]["values"] == [0.0, 1.0]


def test_unseen_category_lands_in_other() -> None:
    prof = profile(np.array([[0.0], [1.0]] * 50), ["kind"])
    table = psi_table(prof, np.array([[2.0]] * 10), ["kind"])
    expected = 2 * (EPSILON - 0.5) * np.log(EPSILON / 0.5) + (1 - EPSILON) * np.log(1 / EPSILON)
    assert table.loc[0, "psi"] == pytest.approx(expected, rel=1e-9)


def test_psi_table_sorts_flags_and_survives_json() -> None:
    rng = np.random.default_rng(2)
    ref = np.column_stack([rng.normal(size=2000), rng.integers(0, 2, 2000)])
    recent = np.column_stack([rng.normal(size=2000), np.ones(2000)])
    prof = json.loads(json.dumps(profile(ref, ["score", "flag"])))
    table = psi_table(prof, recent, ["score", "flag"])
    assert list(table["feature"]) == ["flag", "score"]
    assert list(table["flagged"]) == [True, False]
    assert list(table["reading"]) == ["shift", "stable"]
    empty = psi_table(prof, np.zeros((0, 2)), ["score", "flag"])
    assert empty["psi"].isna().all() and not empty["flagged"].any() and set(empty["reading"]) == {"no data"}


def test_wrong_shape_names_the_problem() -> None:
    with pytest.raises(ValueError, match="expected \\(n, 2\\)"):
        profile(np.zeros((3, 3)), ["a", "b"])
