"""Rows per need for the ranker: candidates, grades, groups, and the split by need."""

from datetime import UTC, datetime

import numpy as np
import pytest
from partb_world import demo

from features.matrix import feature_matrix
from features.records import FeedbackEvent
from features.schema import SCHEMA
from matcher.dataset import build_rank_data, retrieve_ids, snapshot_time
from matcher.evaluate import split_needs
from matcher.labels import labels_from_feedback


@pytest.fixture(scope="module")
def setup():
    d = demo()
    labels = labels_from_feedback(d.world["feedback"])
    needs = [d.idx.needs[n] for n in sorted({n for n, _ in labels})[:6]]
    return d, labels, needs


def test_feedback_mode_has_exactly_the_labelled_talents(setup):
    d, labels, needs = setup
    data = build_rank_data(d.idx, needs, labels, mode="feedback")
    assert data.need_ids == [n.id for n in needs]
    assert data.X.shape == (len(data), len(SCHEMA.names)) and data.group.sum() == len(data)
    start = 0
    for need_id, size in zip(data.need_ids, data.group, strict=True):
        ids = data.talent_ids[start : start + size]
        assert set(ids) == {t for (n, t) in labels if n == need_id}
        assert data.y[start : start + size].tolist() == [labels[(need_id, t)] for t in ids]
        start += size


def test_union_adds_every_retrieved_candidate_as_grade_0(setup):
    d, labels, needs = setup
    data = build_rank_data(d.idx, needs[:2], labels, mode="union", k=50)
    first = needs[0]
    ids = data.talent_ids[: data.group[0]]
    assert set(retrieve_ids(d.idx, first, 50)) <= set(ids)
    unlabelled = [i for i, t in enumerate(ids) if (first.id, t) not in labels]
    assert unlabelled and (data.y[unlabelled] == 0).all()


def test_sampled_mode_caps_the_negatives_and_is_seeded(setup):
    d, labels, needs = setup
    a = build_rank_data(d.idx, needs, labels, mode="sampled", negatives=5, random_state=1)
    b = build_rank_data(d.idx, needs, labels, mode="sampled", negatives=5, random_state=1)
    fb = build_rank_data(d.idx, needs, labels, mode="feedback")
    assert a.talent_ids == b.talent_ids
    assert (a.group - fb.group <= 5).all() and (a.group >= fb.group).all()


def test_rows_equal_the_feature_matrix_at_the_snapshot(setup):
    d, labels, needs = setup
    now = datetime(2025, 1, 1, tzinfo=UTC)
    data = build_rank_data(d.idx, needs[:1], labels, mode="feedback", now=now)
    np.testing.assert_array_equal(data.X, feature_matrix(d.idx, needs[0], data.talent_ids, now=now))


def test_unindexed_talents_and_needs_without_rows_are_dropped(setup):
    d, _, needs = setup
    data = build_rank_data(d.idx, needs[:1], {(needs[0].id, "gone"): 4}, mode="feedback")
    assert len(data) == 0 and data.X.shape == (0, len(SCHEMA.names)) and data.need_ids == []


def test_snapshot_is_the_latest_feedback_time():
    t1, t2 = datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 3, 1, tzinfo=UTC)
    events = [FeedbackEvent(need_id="n", talent_id="t", action="view", time=t) for t in (t2, t1)]
    assert snapshot_time(events) == t2
    assert snapshot_time([FeedbackEvent(need_id="n", talent_id="t", action="view")]) is None


def test_split_is_by_need_disjoint_and_deterministic():
    ids = [f"N{i:03d}" for i in range(100)]
    s = split_needs(ids, test_size=0.2, valid_size=0.1, random_state=5)
    assert (len(s.train), len(s.valid), len(s.test)) == (70, 10, 20)
    assert not (set(s.train) & set(s.test)) and not (set(s.train) & set(s.valid)) and not (set(s.valid) & set(s.test))
    assert set(s.train) | set(s.valid) | set(s.test) == set(ids)
    assert split_needs(list(reversed(ids)) + ids[:3], random_state=5) == s
    assert split_needs(ids, random_state=6) != s


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"test_size": 0}, "test_size must be a fraction"),
        ({"valid_size": 1.5}, "valid_size must be a fraction"),
        ({"test_size": 0.6, "valid_size": 0.5}, "leaves no training needs"),
    ],
)
def test_split_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        split_needs([f"N{i}" for i in range(10)], **kwargs)
    with pytest.raises(ValueError, match="needs at least 3"):
        split_needs(["a", "b"])
