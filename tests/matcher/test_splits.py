"""A row's side of every split is all TreeSHAP reads of it: rows of one key are explained alike, bit for bit."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest

from matcher.booster import ServingBooster
from matcher.splits import Splits


def _booster(categorical: bool = False) -> lgb.Booster:
    rng = np.random.default_rng(0)
    X = rng.random((600, 6))
    y = X[:, 0] + X[:, 1] * X[:, 2] + rng.normal(0, 0.1, len(X))
    if categorical:
        X[:, 3] = rng.integers(0, 6, len(X))
        y += np.isin(X[:, 3], [1, 4]) * 2
    params = {"objective": "regression", "num_leaves": 15, "min_data_in_leaf": 5, "verbose": -1, "seed": 0}
    data = lgb.Dataset(X, y, categorical_feature=[3] if categorical else "auto")
    return lgb.train(params, data, num_boost_round=20)


def test_rows_taking_the_same_side_of_every_split_get_the_same_contributions_bit_for_bit() -> None:
    booster = _booster()
    splits = Splits.parse(booster.model_to_string())
    assert splits is not None
    assert len(splits.feature) == sum(t["num_leaves"] - 1 for t in booster.dump_model()["tree_info"])
    rng = np.random.default_rng(1)
    X = rng.random((400, 6), dtype=np.float32)
    nudged = X * np.float32(1 + 1e-5)  # what a write does to every candidate's row: a little, everywhere
    moved = X.copy()  # one value a row moved anywhere: across some split, or within its cells
    moved[np.arange(len(X)), rng.integers(0, 6, len(X))] = rng.random(len(X), dtype=np.float32)
    keys = splits.sides(X)
    for other, fewest, most in ((nudged, 300, len(X)), (moved, 20, len(X) - 1)):
        same = [i for i, key in enumerate(splits.sides(other)) if key == keys[i]]
        assert fewest <= len(same) <= most and not np.array_equal(X[same], other[same])
        np.testing.assert_array_equal(
            booster.predict(X[same], pred_contrib=True), booster.predict(other[same], pred_contrib=True)
        )
    t = splits.threshold[0]
    at = np.float32(t) if np.float32(t) <= t else np.nextafter(np.float32(t), np.float32(-1))  # the last float32 ≤ t
    crossed = X[:1].copy()  # at a threshold (≤: left) and the next float32 above it: another side, another key
    crossed[0, splits.feature[0]] = at
    above = crossed.copy()
    above[0, splits.feature[0]] = np.nextafter(at, np.float32(2))
    assert splits.sides(crossed) != splits.sides(above)
    missing = X[:1].copy()  # NaN and 0 go one way to a split without a missing type; the key still tells them apart
    missing[0, splits.feature[0]] = np.nan
    zero = X[:1].copy()
    zero[0, splits.feature[0]] = 0.0
    assert splits.sides(missing) != splits.sides(zero)


def test_a_model_with_categorical_splits_has_no_split_keys(tmp_path) -> None:
    booster = _booster(categorical=True)
    assert any(t["num_cat"] for t in booster.dump_model()["tree_info"])
    assert Splits.parse(booster.model_to_string()) is None
    booster.save_model(tmp_path / "model.lgb")
    assert ServingBooster(tmp_path / "model.lgb").model_to_string() == (tmp_path / "model.lgb").read_text()
    with pytest.raises(ValueError, match="do not pair up"):
        Splits.parse("split_feature=1 2\nthreshold=0.5\n")
