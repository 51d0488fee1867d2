"""Label treatment: unexamined rows as unknown, examination propensity by position, and position debiasing.

The data is built here with a known answer (no demo world): which rows a treatment drops or weights, and a click
log where clicks depend on position only, so a debiased model must not learn the legacy ranking's preference.
"""

import numpy as np
import pytest

from features.records import FeedbackEvent
from features.schema import SCHEMA
from matcher.dataset import RankData
from matcher.evaluate import Splits
from matcher.labels import (
    DEFAULT_LABELS,
    Exposure,
    examination_propensity,
    exposure_from_feedback,
    labels_from_feedback,
    parse_label_map,
)
from matcher.ranker import LambdaRankModel
from matcher.train import LabelTreatment, Prepared, fit_model, position_ids, row_weights, training_grades

F = len(SCHEMA.names)


def ev(need: str, talent: str, action: str, position: int | None = None) -> FeedbackEvent:
    return FeedbackEvent(need_id=need, talent_id=talent, action=action, position=position)


def test_exposure_keeps_the_first_position_and_whether_anything_but_an_impression_happened():
    events = [
        ev("n", "a", "impression", 3),
        ev("n", "a", "impression", 1),
        ev("n", "b", "impression", 0),
        ev("n", "b", "view", 0),
        ev("n", "c", "reject"),
    ]
    assert exposure_from_feedback(events) == {
        ("n", "a"): Exposure(1, examined=False, judged=False),
        ("n", "b"): Exposure(0, examined=True, judged=False),
        ("n", "c"): Exposure(None, examined=True, judged=True),
    }


def test_a_judgement_overrides_the_exposure_events():
    events = [ev("n", "a", "view"), ev("n", "a", "reject"), ev("n", "b", "view"), ev("n", "c", "impression")]
    assert labels_from_feedback(events, parse_label_map("view=1,impression=0")) == {
        ("n", "a"): 0,
        ("n", "b"): 1,
        ("n", "c"): 0,
    }
    assert labels_from_feedback(events, DEFAULT_LABELS) == {("n", "a"): 0, ("n", "b"): 0, ("n", "c"): 0}


def exposures(rates: list[tuple[int, int]]) -> dict:
    """Position i shown ``rates[i][1]`` times, examined ``rates[i][0]`` of them."""
    out = {}
    for pos, (seen, shown) in enumerate(rates):
        for j in range(shown):
            out[(f"n{pos}", f"t{j}")] = Exposure(pos, j < seen)
    return out


def test_propensity_is_the_examined_share_relative_to_the_top_non_increasing_and_floored():
    assert examination_propensity(exposures([(8, 10), (4, 10), (2, 10)])) == pytest.approx([1.0, 0.5, 0.25])
    # a rise at position 2 is pooled with position 1 (weighted by talents shown)
    assert examination_propensity(exposures([(8, 10), (2, 10), (4, 10)])) == pytest.approx([1.0, 0.375, 0.375])
    assert examination_propensity(exposures([(10, 10), (0, 10)]), floor=0.1) == pytest.approx([1.0, 0.1])
    assert examination_propensity({("n", "t"): Exposure(None, True)}).tolist() == [1.0]


def data(shown, examined, position, y=None, judged=None) -> RankData:
    n = len(shown)
    return RankData(
        X=np.zeros((n, F), np.float32),
        y=np.zeros(n, np.int32) if y is None else np.asarray(y, np.int32),
        group=np.array([n]),
        need_ids=["n"],
        talent_ids=[f"t{i}" for i in range(n)],
        shown=np.array(shown),
        examined=np.array(examined),
        judged=np.array(examined if judged is None else judged),
        position=np.array(position),
    )


# rows: judged at 0, judged at 2, unexamined at 1, unexamined at unknown position, never shown
ROWS = data([True, True, True, True, False], [True, True, False, False, False], [0, 2, 1, -1, -1])
PROP = np.array([1.0, 0.5, 0.25])


@pytest.mark.parametrize(
    ("treatment", "weights"),
    [
        (LabelTreatment("negative", 1.0, "none"), [1, 1, 1, 1, 1]),
        (LabelTreatment("exclude", 0.3, "none"), [1, 1, 0, 0, 0.3]),
        (LabelTreatment("weight", 0.0, "none"), [1, 1, 0.5, 1, 0]),
        (LabelTreatment("exclude", 1.0, "ipw"), [1, 4, 0, 0, 1]),
        (LabelTreatment("negative", 0.5, "position"), [1, 1, 1, 1, 0.5]),
    ],
)
def test_row_weights_follow_the_treatment(treatment, weights):
    assert row_weights(ROWS, treatment, PROP) == pytest.approx(weights)


def test_view_grade_lifts_views_above_the_unjudged_and_judgements_above_views():
    # rows: shortlisted, rejected (viewed first), viewed only, impression only, never shown
    rows = data([True] * 4 + [False], [True, True, True, False, False], [0] * 4 + [-1], y=[1, 0, 0, 0, 0],
                judged=[True, True, False, False, False])  # fmt: skip
    assert training_grades(rows, LabelTreatment(view_grade=1)).tolist() == [2, 0, 1, 0, 0]
    assert training_grades(rows, LabelTreatment(view_grade=0)).tolist() == [1, 0, 0, 0, 0]


def test_position_ids_put_unknown_and_never_shown_rows_at_the_top():
    assert position_ids(ROWS).tolist() == [0, 2, 1, 0, 0]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"unexamined": "ignore"}, "unexamined must be one of negative, exclude, weight"),
        ({"debias": "pbm"}, "debias must be one of none, position, ipw"),
        ({"context_weight": 1.5}, "context_weight must be a number in 0..1"),
        ({"context_weight": True}, "context_weight must be a number in 0..1"),
        ({"view_grade": 2}, "view_grade must be 0 or 1"),
    ],
)
def test_bad_treatments_are_refused_naming_the_option(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LabelTreatment(**kwargs)


def synthetic_prepared(seed: int = 0) -> Prepared:
    """Column 0 decides relevance; every row shown and examined (so no treatment changes the rows)."""
    rng = np.random.default_rng(seed)
    g, n = 60, 20

    def rows() -> RankData:
        X = rng.normal(size=(g * n, F)).astype(np.float32)
        return RankData(
            X=X,
            y=(X[:, 0] > 1).astype(np.int32),
            group=np.full(g, n),
            need_ids=[f"n{i}" for i in range(g)],
            talent_ids=[f"t{i}" for i in range(g * n)],
            shown=np.ones(g * n, bool),
            examined=np.ones(g * n, bool),
            judged=np.ones(g * n, bool),
            position=np.tile(np.arange(n), g),
        )

    return Prepared(Splits([], [], []), rows(), rows(), np.ones(n), None, {})


def test_feature_groups_leave_the_other_columns_unused():
    params = {"n_estimators": 20, "min_child_samples": 10, "n_jobs": 1}
    model = fit_model(synthetic_prepared(), params=params, feature_groups=["graph"])
    graph = {f.name for f in SCHEMA.features if f.group == "graph"}
    assert all(v == 0 for name, v in model.feature_importance().items() if name not in graph)
    with pytest.raises(ValueError, match=r"unknown feature group.*schema groups are"):
        fit_model(synthetic_prepared(), params=params, feature_groups=["texts"])


def test_row_weights_reach_lightgbm_per_row():
    """Rows of weight 0 whose labels contradict column 0 (marked by column 1) leave column 1 unused."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(4000, F)).astype(np.float32)
    mark = rng.random(4000) < 0.3
    X[:, 1] = mark
    y = np.where(mark, X[:, 0] < 0, X[:, 0] > 0).astype(int)
    fit = {"n_estimators": 30, "min_child_samples": 5, "early_stopping_rounds": 30, "n_jobs": 1}
    plain = LambdaRankModel(**fit).fit(X, y, np.full(200, 20))
    weighted = LambdaRankModel(**fit).fit(X, y, np.full(200, 20), sample_weight=np.where(mark, 0.0, 1.0))
    col = SCHEMA.names[1]
    assert plain.feature_importance()[col] > 0 and weighted.feature_importance()[col] == 0


def test_a_position_debiased_model_learns_no_preference_from_clicks_that_depend_on_position_only():
    """The legacy ranking orders by column 0 plus noise; clicks fall with position and ignore the talent. Without
    positions the model learns column 0 (the legacy preference); with them the position biases absorb the clicks."""
    rng = np.random.default_rng(0)
    g, n = 400, 20
    X = rng.normal(size=(g * n, F)).astype(np.float32)
    legacy = X[:, 0] + rng.normal(size=g * n)
    position = np.argsort(np.argsort(-legacy.reshape(g, n), axis=1), axis=1).ravel()
    y = (rng.random(g * n) < 0.7 / (1 + position)).astype(int)
    fit = {"n_estimators": 200, "learning_rate": 0.1, "min_child_samples": 20, "n_jobs": 1}
    Xt = rng.normal(size=(5000, F)).astype(np.float32)

    def preference(model: LambdaRankModel) -> float:
        return float(np.corrcoef(model.predict(Xt), Xt[:, 0])[0, 1])

    assert preference(LambdaRankModel(**fit).fit(X, y, np.full(g, n))) > 0.6
    assert abs(preference(LambdaRankModel(**fit).fit(X, y, np.full(g, n), position=position))) < 0.3


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sample_weight": np.ones(3)}, "sample_weight: expected one value per training row"),
        ({"sample_weight": -np.ones(40)}, "sample_weight must be finite and >= 0"),
        ({"position": -np.ones(40)}, "position ids must be >= 0"),
    ],
)
def test_bad_weights_and_positions_are_refused(kwargs, message):
    X = np.zeros((40, F), np.float32)
    with pytest.raises(ValueError, match=message):
        LambdaRankModel(n_estimators=2).fit(X, np.arange(40) % 2, np.array([20, 20]), **kwargs)


def test_dask_refuses_weights_and_positions_before_connecting():
    treatment = LabelTreatment(debias="position")
    with pytest.raises(ValueError, match="--dask trains unweighted rows without positions"):
        fit_model(synthetic_prepared(), treatment=treatment, dask="tcp://127.0.0.1:9")
