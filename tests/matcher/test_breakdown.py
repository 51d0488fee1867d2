"""The model report's tables: grouped metrics agree with ``evaluate``'s own, calibration bins and contribution shares
against hand-computed values."""

import numpy as np
import pytest
from partb_world import demo

from features.records import Enterprise, FeedbackEvent, Need
from features.schema import SCHEMA
from matcher.breakdown import (
    NO_PLATFORM,
    calibration,
    contribution_summary,
    evaluate_by,
    platform_of,
    relevance_map,
    scored_candidates,
)
from matcher.dataset import retrieve_ids
from matcher.evaluate import baseline_scorers, evaluate


def test_relevance_is_the_truth_when_there_is_one_else_the_best_feedback_grade():
    feedback = [
        FeedbackEvent(need_id="n1", talent_id="t1", action="view"),
        FeedbackEvent(need_id="n1", talent_id="t1", action="contact"),
        FeedbackEvent(need_id="n1", talent_id="t2", action="reject"),
        FeedbackEvent(need_id="n2", talent_id="t3", action="hire"),
    ]
    assert relevance_map(["n1", "n9"], feedback) == {"n1": {"t1": 2, "t2": 0}, "n9": {}}
    assert relevance_map(["n1"], feedback, truth={"n1": {"t7": 4}, "n2": {"t3": 1}}) == {"n1": {"t7": 4}}


def test_platform_of_follows_the_need_to_its_enterprise():
    needs = [Need(id="n1", title="a", enterprise_id="e1"), Need(id="n2", title="b", enterprise_id="e2"),
             Need(id="n3", title="c")]  # fmt: skip
    enterprises = [Enterprise(id="e1", name="x", platform_id="p1"), Enterprise(id="e2", name="y")]
    assert platform_of(needs, enterprises) == {"n1": "p1", "n2": NO_PLATFORM, "n3": NO_PLATFORM}


def test_calibration_bins_are_equally_filled_and_rise_with_the_grade():
    scores = np.arange(100.0)[::-1]
    grades = np.where(scores >= 80, 3, np.where(scores >= 60, 1, 0))
    table = calibration(scores, grades, bins=5)
    assert table["candidates"].tolist() == [20] * 5
    assert table["score_min"].tolist() == [0, 20, 40, 60, 80]
    assert table["grade_mean"].tolist() == [0, 0, 0, 1, 3]
    assert table["relevant"].tolist() == [0, 0, 0, 1, 1]
    assert table["highly_relevant"].tolist() == [0, 0, 0, 0, 1]
    assert len(calibration([1.0, 2.0], [0, 1], bins=10)) == 2  # never more bins than candidates
    assert calibration([], []).empty
    wide = calibration([0.0, 0.1, 0.2, 0.3, 10.0], [0, 0, 0, 1, 4], bins=4, strategy="uniform")
    assert wide["bin"].tolist() == [0, 3] and wide["candidates"].tolist() == [4, 1]  # empty bins left out
    assert wide["grade_mean"].tolist() == [0.25, 4.0]
    with pytest.raises(ValueError, match="strategy must be"):
        calibration([1.0], [0], strategy="kmeans")
    with pytest.raises(ValueError, match="2 scores but 1 grades"):
        calibration([1.0, 2.0], [0])
    with pytest.raises(ValueError, match="bins must be at least 1"):
        calibration([1.0], [0], bins=0)


def test_contribution_summary_by_feature_and_by_reason_group():
    names = ["skill_coverage", "bm25_profile", "dense_profile", "kind_enclave"]
    contrib = np.array([[1.0, -2.0, 0.0, 1.0, 5.0], [3.0, 2.0, 1.0, -1.0, 5.0]])  # last column: the bias
    by_feature = contribution_summary(contrib, names)
    assert by_feature["feature"].tolist() == [
        "skill_coverage",
        "bm25_profile",
        "kind_enclave",
        "dense_profile",
    ]  # ties: schema order
    assert by_feature["group"].tolist() == ["skills", "topic", "other", "topic"]
    assert by_feature["mean_abs"].tolist() == [2.0, 2.0, 1.0, 0.5]
    assert by_feature["mean"].tolist() == [2.0, 0.0, 0.0, 0.5]
    assert by_feature["share"].sum() == pytest.approx(1.0)
    by_group = contribution_summary(contrib, names, by="group")
    assert by_group.set_index("group")["mean_abs"].to_dict() == {"topic": 2.5, "skills": 2.0, "other": 1.0}
    with pytest.raises(ValueError, match=r"expected \(n, 5\)"):
        contribution_summary(contrib[:, :-1], names)
    with pytest.raises(ValueError, match="by must be"):
        contribution_summary(contrib, names, by="kind")


def test_metrics_grouped_by_post_kind_are_evaluates_own_by_kind():
    d = demo()
    needs = [d.idx.needs[n] for n in sorted(d.truth)[:12]]
    scorers = {"bm25": baseline_scorers()["bm25"]}
    table = evaluate_by(d.idx, needs, scorers, lambda need: need.kind.value, relevance=d.truth)
    assert table["needs"].sum() == len(needs)
    whole = evaluate(d.idx, needs, scorers, truth=d.truth)["bm25"]["by_kind"]
    for row in table.to_dict("records"):
        assert row["ndcg@10"] == pytest.approx(whole[row["group"]]["ndcg@10"], nan_ok=True)
        assert row["recall@300"] == pytest.approx(whole[row["group"]]["recall@300"], nan_ok=True)
    by_id = evaluate_by(d.idx, needs, scorers, {n.id: "all" for n in needs}, relevance=d.truth)
    assert by_id["group"].tolist() == ["all"] and by_id["needs"].tolist() == [len(needs)]
    with pytest.raises(ValueError, match=f"need '{needs[-1].id}' has no group"):
        evaluate_by(d.idx, needs, scorers, {n.id: "all" for n in needs[:-1]}, relevance=d.truth)


def test_scored_candidates_are_the_retrieved_ones_with_their_grades_and_rows():
    d = demo()
    needs = [d.idx.needs[n] for n in sorted(d.truth)[:3]]
    frame, X = scored_candidates(d.idx, needs, baseline_scorers()["bm25"], d.truth)
    assert len(frame) == len(X) == sum(len(retrieve_ids(d.idx, n)) for n in needs)
    first = frame[frame["need_id"] == needs[0].id]
    assert first["talent_id"].tolist() == retrieve_ids(d.idx, needs[0])
    assert first["grade"].tolist() == [d.truth[needs[0].id].get(t, 0) for t in first["talent_id"]]
    assert frame["grade"].max() >= 1
    assert frame["score"].to_numpy() == pytest.approx(X[:, SCHEMA.index("bm25_profile")])
