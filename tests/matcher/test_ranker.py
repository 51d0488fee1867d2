"""LambdaRankModel follows scikit-learn conventions and learns a known order; Scorer guards the schema."""

import lightgbm as lgb
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from features.schema import SCHEMA
from matcher.ranker import NO_ENCODER, ContractError, LambdaRankModel, Scorer, _partition

F = len(SCHEMA.names)
SIGNAL = SCHEMA.index("concept_overlap")


def synthetic(n_groups: int = 60, size: int = 20, seed: int = 0):
    """Groups where the grade is a step function of one column (plus distractor columns): a known right order."""
    rng = np.random.default_rng(seed)
    X = rng.random((n_groups * size, F)).astype(np.float32)
    y = np.digitize(X[:, SIGNAL], [0.6, 0.75, 0.85, 0.95]).astype(np.int32)
    return X, y, np.full(n_groups, size)


@pytest.fixture(scope="module")
def fitted():
    X, y, g = synthetic()
    Xv, yv, gv = synthetic(10, seed=1)
    return LambdaRankModel(n_estimators=60, n_jobs=1).fit(X, y, g, eval_set=(Xv, yv), eval_group=gv)


def test_fit_returns_self_with_learned_attributes(fitted):
    assert isinstance(fitted, LambdaRankModel)
    assert isinstance(fitted.booster_, lgb.Booster)
    assert 1 <= fitted.best_iteration_ <= 60
    assert fitted.booster_.current_iteration() == fitted.best_iteration_  # cut at the best validation round
    assert fitted.feature_names_ == SCHEMA.names and fitted.schema_version_ == SCHEMA.version
    assert "booster_" not in LambdaRankModel().__dict__  # nothing learned before fit


def test_learns_the_known_order(fitted):
    X, _, _ = synthetic(5, seed=2)
    s = fitted.predict(X)
    assert s.dtype == np.float32 and s.shape == (len(X),)
    assert np.corrcoef(s, X[:, SIGNAL])[0, 1] > 0.8
    assert next(iter(fitted.feature_importance())) == "concept_overlap"


def test_clone_and_params_round_trip():
    m = LambdaRankModel(num_leaves=7, random_state=3)
    c = clone(m)
    assert c.get_params() == m.get_params() and c is not m
    assert c.set_params(num_leaves=9).num_leaves == 9


def test_same_random_state_same_predictions():
    X, y, g = synthetic()
    a = LambdaRankModel(n_estimators=30, random_state=4, n_jobs=1).fit(X, y, g).predict(X)
    b = LambdaRankModel(n_estimators=30, random_state=4, n_jobs=1).fit(X, y, g).predict(X)
    np.testing.assert_array_equal(a, b)


def test_predict_before_fit_is_an_error():
    with pytest.raises(NotFittedError):
        LambdaRankModel().predict(np.zeros((1, F)))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda X, y, g: (X[:, :5], y, g), r"expected \(n, "),
        (lambda X, y, g: (X, y[:-1], g), "labels"),
        (lambda X, y, g: (X, y, g[:-1]), "group sizes must be positive and sum"),
        (lambda X, y, g: (X, y - 1, g), "negative label"),
        (lambda X, y, g: (X, y + 0.5, g), "integer grades"),
        (lambda X, y, g: (X[:0], y[:0], g[:0]), "empty"),
    ],
)
def test_bad_training_input_is_named(change, message):
    with pytest.raises(ValueError, match=message):
        LambdaRankModel(n_estimators=2).fit(*change(*synthetic(3)))


def test_label_without_gain_and_eval_without_group():
    X, y, g = synthetic(3)
    with pytest.raises(ValueError, match=r"label [34] has no gain"):
        LambdaRankModel(label_gain=[0, 1, 3]).fit(X, y, g)
    with pytest.raises(ValueError, match="eval_set needs eval_group"):
        LambdaRankModel().fit(X, y, g, eval_set=(X, y))


def test_scorer_contributions_sum_to_the_score(fitted):
    X, _, _ = synthetic(2, seed=5)
    scorer = Scorer.from_model(fitted, "7", NO_ENCODER)
    contrib = scorer.contributions(X)
    assert contrib.shape == (len(X), F + 1)
    np.testing.assert_allclose(contrib.sum(axis=1), scorer.predict(X), rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(scorer.predict(X), fitted.predict(X))
    assert scorer.contributions(X[:0]).shape == (0, F + 1)  # a need whose every candidate a rule removed
    assert scorer.predict(X[:0]).shape == (0,)


def test_scorer_refuses_a_model_of_another_schema(fitted):
    with pytest.raises(ValueError, match="trained on feature schema 0"):
        Scorer(fitted.booster_, "3", "0", NO_ENCODER)
    X, y, g = synthetic(3)
    other = lgb.train({"objective": "lambdarank", "verbose": -1}, lgb.Dataset(X[:, :4], y, group=g), 2)
    with pytest.raises(ValueError, match="booster features differ"):
        Scorer(other, "4", SCHEMA.version, NO_ENCODER)
    names = list(SCHEMA.names)
    names[1], names[2] = names[2], names[1]  # the same features, two columns swapped: scores would be garbage
    swapped = lgb.train({"objective": "lambdarank", "verbose": -1}, lgb.Dataset(X, y, group=g, feature_name=names), 2)
    with pytest.raises(ContractError, match="same names, different order from position 1"):
        Scorer(swapped, "5", SCHEMA.version, NO_ENCODER)


def test_partitions_hold_whole_groups():
    rows, groups = _partition(np.array([3, 5, 2, 4, 6]), 2)
    assert sum(groups) == 5 and sum(rows) == 20
    assert rows == (10, 10) and groups == (3, 2)
    assert _partition(np.array([7]), 4) == ((7,), (1,))


def test_monotone_option_holds_the_schema_directions():
    """Trained where more concept overlap means a *lower* grade, the monotone model still never scores a row lower
    for more overlap (a +1 column), while the free model learns the reversal."""
    X, _, g = synthetic()
    y = np.digitize(1 - X[:, SIGNAL], [0.6, 0.75, 0.85, 0.95]).astype(np.int32)
    assert SCHEMA.monotone[SIGNAL] == 1 and set(SCHEMA.monotone) == {0, 1}
    probe = np.repeat(synthetic(1, seed=3)[0][:1], 11, axis=0)
    probe[:, SIGNAL] = np.linspace(0, 1, 11)
    free = LambdaRankModel(n_estimators=30, n_jobs=1).fit(X, y, g).predict(probe)
    tied = LambdaRankModel(n_estimators=30, n_jobs=1, monotone=True).fit(X, y, g).predict(probe)
    assert free[-1] < free[0]
    assert np.all(np.diff(tied) >= 0)
    assert "monotone_constraints" not in LambdaRankModel()._lgb_params(4)
    assert LambdaRankModel(monotone=True)._lgb_params(4)["monotone_constraints"] == SCHEMA.monotone


def test_a_pages_rows_are_explained_on_two_threads_with_the_values_of_one_call(fitted, monkeypatch):
    """For a model ``matcher.treeshap`` does not cover, TreeSHAP runs in LightGBM's C call without the GIL: a
    page's rows are split over a helper thread (half the wait on an idle second core) and come back in order, equal
    to one call over them all. A chunk the helper has not started when the caller is done with its own (the helper
    busy with other requests') is explained by the caller."""
    import os
    import threading

    import matcher.scorer as scorer_module

    X, _, _ = synthetic(2, seed=5)
    calls: list[tuple[int, int]] = []
    caller, helper_started = threading.get_ident(), threading.Event()

    class Recording:
        def predict(self, rows, **kw):
            calls.append((threading.get_ident(), len(rows)))
            if threading.get_ident() == caller:
                helper_started.wait(5)  # else, on an idle helper, the caller might finish first and take it back
            else:
                helper_started.set()
            return fitted.booster_.predict(rows, **kw)

    scorer = Scorer.from_model(fitted, "7", NO_ENCODER)
    scorer.__dict__["_path_shap"] = None  # as for a model with categorical splits
    whole = fitted.booster_.predict(X, pred_contrib=True, num_threads=1).astype(np.float32)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)  # two cores, whatever runs this
    scorer_module._explainers.cache_clear()
    gate = threading.Event()
    try:
        monkeypatch.setattr(scorer, "booster", Recording())
        got, few = scorer.contributions(X), scorer.contributions(X[: scorer_module.SPLIT_ROWS - 1])
        helpers, _ = scorer_module._explainers()
        busy = helpers.submit(gate.wait, 10)  # the one helper busy elsewhere
        split, alone = calls[:2], calls[2:]
        calls.clear()
        taken_back = scorer.contributions(X)
    finally:
        gate.set()
        scorer_module._explainers.cache_clear()
    np.testing.assert_array_equal(got, whole)
    np.testing.assert_array_equal(few, whole[: scorer_module.SPLIT_ROWS - 1])
    np.testing.assert_array_equal(taken_back, whole)
    assert len({thread for thread, _ in split}) == 2 and sum(n for _, n in split) == len(X)
    assert alone == [(caller, scorer_module.SPLIT_ROWS - 1)]  # too few to hand off
    assert busy.result(5)
    assert calls == [(caller, 20), (caller, 20)]  # both halves on the caller's thread
