"""``matcher.treeshap`` gives LightGBM's own TreeSHAP values (``pred_contrib``): on trained models of every
numerical missing-value kind, at thresholds, for NaN and 0, with constant trees; models it does not cover say so."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest

from features.schema import SCHEMA
from matcher.booster import ServingBooster
from matcher.scorer import NO_ENCODER, Scorer
from matcher.splits import Splits
from matcher.treeshap import PathShap


def _train(objective: str = "regression", categorical: bool = False, **params) -> tuple[lgb.Booster, np.ndarray]:
    """A model on six features where feature 0 has NaNs and feature 5 is mostly 0 (a sparse-looking column)."""
    rng = np.random.default_rng(0)
    X = rng.random((800, 6))
    X[rng.random(len(X)) < 0.15, 0] = np.nan
    X[rng.random(len(X)) < 0.6, 5] = 0.0
    y = np.nan_to_num(X[:, 0], nan=0.7) + X[:, 1] * X[:, 2] + 2 * (X[:, 5] > 0) + rng.normal(0, 0.1, len(X))
    if categorical:
        X[:, 3] = rng.integers(0, 6, len(X))
        y += np.isin(X[:, 3], [1, 4]) * 2
    kind = {"objective": objective, "num_leaves": 31, "min_data_in_leaf": 3, "verbose": -1, "seed": 0, **params}
    group = None
    if objective == "lambdarank":
        y = np.clip(np.round(y), 0, 4).astype(int)
        group = [40] * 20
    data = lgb.Dataset(X, y, group=group, categorical_feature=[3] if categorical else "auto")
    return lgb.train(kind, data, num_boost_round=40), X


def _rows(X: np.ndarray, booster: lgb.Booster) -> np.ndarray:
    """Training rows, fresh random ones, NaN, 0 and the edges of LightGBM's zero in every column, and values exactly
    at split thresholds."""
    rng = np.random.default_rng(1)
    rows = [X[:200], rng.random((100, X.shape[1])) * 1.4 - 0.2]
    for value in (np.nan, 0.0, -0.0, 1e-36, np.float32(1e-35), np.nextafter(np.float32(1e-35), np.float32(1))):
        block = rng.random((6, X.shape[1]))
        block[np.arange(6), np.arange(6)] = value
        rows.append(block)
    splits = Splits.parse(booster.model_to_string())
    at = rng.random((len(splits.feature), X.shape[1]))
    at[np.arange(len(at)), splits.feature] = splits._at_most  # the last float32 ≤ each threshold: left
    rows.append(at[:200])
    return np.vstack(rows).astype(np.float32)


@pytest.mark.parametrize(
    "params",
    [
        {},  # NaN seen in training: missing type NaN, default side learned
        {"zero_as_missing": True},  # missing type Zero
        {"use_missing": False},  # missing type None: NaN is 0
        {"objective": "lambdarank"},  # the champion's kind
        {"min_data_in_leaf": 150, "num_leaves": 2},  # stumps
        {"min_data_in_leaf": 400, "num_leaves": 2},  # one tree of one leaf: nothing splits, all bias
    ],
)
def test_contributions_are_lightgbm_s_own(params) -> None:
    booster, X = _train(**params)
    shap = PathShap.parse(booster.model_to_string())
    assert shap is not None and shap.n_features == X.shape[1]
    rows = _rows(X, booster)
    want = booster.predict(rows, pred_contrib=True)
    got = shap.contributions(rows)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)  # float32 products
    np.testing.assert_allclose(got.sum(axis=1), booster.predict(rows), rtol=0, atol=1e-5)
    assert shap.contributions(rows[:0]).shape == (0, X.shape[1] + 1)


def test_the_missing_types_the_models_hold_are_the_three_numerical_ones() -> None:
    """The parametrisation above covers what it says: NaN, Zero and None missing types."""
    seen = set()
    for params in ({}, {"zero_as_missing": True}, {"use_missing": False}):
        booster, _ = _train(**params)
        for tree in booster.dump_model()["tree_info"]:
            stack = [tree["tree_structure"]]
            while stack:
                node = stack.pop()
                if "split_feature" in node:
                    seen.add(node["missing_type"])
                    stack += [node["left_child"], node["right_child"]]
    assert seen == {"NaN", "Zero", "None"}


def test_models_it_does_not_cover_are_left_to_lightgbm() -> None:
    booster, _ = _train(categorical=True)
    assert PathShap.parse(booster.model_to_string()) is None
    data = lgb.Dataset(np.random.default_rng(0).random((90, 4)), np.arange(90) % 3)
    three = lgb.train({"objective": "multiclass", "num_class": 3, "verbose": -1}, data, num_boost_round=3)
    assert PathShap.parse(three.model_to_string()) is None


def test_a_serving_scorer_explains_with_it_and_lightgbm_alike(tmp_path, monkeypatch) -> None:
    """``Scorer.contributions`` takes the tables for a covered model (LightGBM's TreeSHAP is not called) and
    LightGBM's own for another, and both give the same values, rows summing to the scores."""
    rng = np.random.default_rng(0)
    X = rng.random((800, len(SCHEMA.names))).astype(np.float32)
    y = np.clip(np.round(X[:, 0] * 2 + X[:, 3] * X[:, 7] * 3), 0, 4).astype(int)
    params = {"objective": "lambdarank", "num_leaves": 31, "min_data_in_leaf": 3, "verbose": -1, "seed": 0}
    lgb.train(params, lgb.Dataset(X, y, group=[40] * 20, feature_name=SCHEMA.names), 30).save_model(tmp_path / "m")
    serving = ServingBooster(tmp_path / "m")
    model = Scorer(serving, "t-1", SCHEMA.version, NO_ENCODER)
    calls = []
    predict = ServingBooster.predict
    monkeypatch.setattr(ServingBooster, "predict", lambda b, *a, **kw: calls.append(kw) or predict(b, *a, **kw))
    rows = rng.random((20, len(SCHEMA.names))).astype(np.float32)
    fast = model.contributions(rows)
    assert not calls
    model.__dict__["_path_shap"] = None  # as for a model with categorical splits
    slow = model.contributions(rows)
    assert calls and all(kw.get("pred_contrib") for kw in calls)
    assert fast.dtype == slow.dtype == np.float32
    np.testing.assert_allclose(fast, slow, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(fast.sum(axis=1), model.predict(rows), rtol=0, atol=1e-5)
