"""Metrics against hand-computed values, the truth reader, and a training run's evaluation shape and outcome."""

import json
import math

import numpy as np
import pytest
from partb_world import demo

from matcher.evaluate import MODEL_NAMES, _average, _metrics, baseline_scorers, evaluate
from matcher.train import train
from matcher.truth import load_truth


def test_metrics_match_hand_computed_values():
    rel = np.array([0, 2, 1, 0], dtype=float)
    score = np.array([0.9, 0.8, 0.1, 0.5])  # order: 0, 1, 3, 2 → grades 0, 2, 0, 1
    m = _metrics(rel, score, np.zeros(4), n_wanted=3, k_recall=(1, 2, 10))
    dcg = 2 / math.log2(3) + 1 / math.log2(5)
    idcg = 2 / math.log2(2) + 1 / math.log2(3)
    assert m["ndcg@10"] == pytest.approx(dcg / idcg)
    assert m["ndcg@5"] == pytest.approx(dcg / idcg)
    assert m["map"] == pytest.approx((1 / 2 + 2 / 4) / 2)
    assert m["mrr"] == pytest.approx(1 / 2)
    assert (m["recall@1"], m["recall@2"], m["recall@10"]) == (0, pytest.approx(1 / 3), pytest.approx(2 / 3))


def test_ties_are_broken_by_the_seeded_order_not_the_candidate_order():
    rel = np.array([1.0, 0, 0, 0])
    m = _metrics(rel, np.zeros(4), np.array([0.9, 0.1, 0.2, 0.3]), n_wanted=1, k_recall=(1,))
    assert m["mrr"] == pytest.approx(1 / 4) and m["recall@1"] == 0


def test_needs_without_relevant_candidates_are_skipped():
    none = _metrics(np.zeros(3), np.arange(3.0), np.zeros(3), n_wanted=2, k_recall=(10,))
    assert math.isnan(none["ndcg@10"]) and math.isnan(none["mrr"]) and none["recall@10"] == 0
    some = _metrics(np.array([1.0, 0, 0]), np.array([3.0, 2, 1]), np.zeros(3), n_wanted=1, k_recall=(10,))
    out = _average([none, some], ["enclave", "full_time"])
    assert out["ndcg@10"] == 1.0 and out["recall@10"] == 0.5
    assert out["by_kind"]["enclave"] == {"recall@10": 0.0}


def test_load_truth_and_its_errors(tmp_path):
    assert load_truth(tmp_path, missing_ok=True) is None
    with pytest.raises(FileNotFoundError, match="no truth file"):
        load_truth(tmp_path)
    (tmp_path / "truth.jsonl").write_text('{"need_id":"n1","talent_id":"t1","grade":3}\n\n{"need_id":"n1"}\n')
    with pytest.raises(ValueError, match=r"truth.jsonl:3: bad truth row"):
        load_truth(tmp_path)
    (tmp_path / "truth.jsonl").write_text('{"need_id":"n1","talent_id":"t1","grade":3}\n')
    assert load_truth(tmp_path / "truth.jsonl") == {"n1": {"t1": 3}}


def test_evaluate_needs_something_to_score_against():
    d = demo()
    with pytest.raises(ValueError, match="give truth"):
        evaluate(d.idx, list(d.idx.needs.values())[:1], baseline_scorers())
    with pytest.raises(ValueError, match="no scorers"):
        evaluate(d.idx, [], {}, truth={})


@pytest.fixture(scope="module")
def run():
    d = demo()
    return train(d.idx, d.world["feedback"], truth=d.truth, params={"n_estimators": 150, "n_jobs": 1})


def test_held_out_needs_never_train(run):
    s = run.splits
    assert set(run.trained_on) <= set(s.train)
    assert not set(s.test) & (set(s.train) | set(s.valid)) and not set(s.valid) & set(s.train)


def test_evaluation_json_has_every_model_and_metric(run):
    doc = json.loads(json.dumps(run.metrics))
    assert tuple(doc) == MODEL_NAMES
    for metrics in doc.values():
        assert {"ndcg@5", "ndcg@10", "ndcg@20", "map", "mrr", "recall@10", "recall@20", "recall@300"} <= set(metrics)
        assert metrics["by_kind"] and all("ndcg@10" in m for m in metrics["by_kind"].values())
    assert tuple(run.feedback_metrics) == MODEL_NAMES and run.truth_based


def test_learned_model_beats_random_against_the_truth(run):
    m = run.metrics
    assert m["lambdarank"]["ndcg@10"] > m["random"]["ndcg@10"] + 0.3
    assert m["lambdarank"]["recall@300"] == m["random"]["recall@300"]  # same candidates for every scorer


def test_training_refuses_hire_edges_in_the_graph():
    from features.indices import Indices

    d = demo()
    idx = Indices.build(d.world, encoder=None)
    assert idx.graph.stats()["edges"]["hire"] == 0  # build never indexes feedback
    idx.graph.add_feedback(d.world["feedback"])
    with pytest.raises(ValueError, match="hire edge"):
        train(idx, d.world["feedback"])
