"""Graded labels from feedback and the label-map syntax of ``--labels``."""

import pytest

from features.records import FeedbackEvent
from matcher.labels import DEFAULT_LABELS, check_label_map, labels_from_feedback, parse_label_map


def ev(need: str, talent: str, action: str) -> FeedbackEvent:
    return FeedbackEvent(need_id=need, talent_id=talent, action=action)


def test_default_grades_follow_the_funnel():
    assert DEFAULT_LABELS == {
        "hire": 4, "offer": 3, "interview": 3, "contact": 2, "shortlist": 1, "view": 0, "impression": 0, "reject": 0,
    }  # fmt: skip


def test_an_offer_sits_between_interview_and_hire():
    grade = {t: g for (_, t), g in labels_from_feedback(
        [ev("n1", "t1", "interview"), ev("n1", "t2", "offer"), ev("n1", "t2", "reject"), ev("n1", "t3", "hire")]
    ).items()}  # fmt: skip
    assert grade["t1"] <= grade["t2"] <= grade["t3"] and grade["t2"] == 3  # a declined offer keeps its grade


def test_a_pair_keeps_its_highest_grade():
    events = [
        ev("n1", "t1", "impression"),
        ev("n1", "t1", "interview"),
        ev("n1", "t1", "reject"),  # declined after the interview: the interview still counts
        ev("n1", "t2", "reject"),
        ev("n2", "t1", "shortlist"),
    ]
    assert labels_from_feedback(events) == {("n1", "t1"): 3, ("n1", "t2"): 0, ("n2", "t1"): 1}


def test_a_custom_map_changes_the_grades():
    labels = labels_from_feedback([ev("n1", "t1", "view")], parse_label_map("view=1"))
    assert labels == {("n1", "t1"): 1}


def test_parse_overrides_only_the_named_actions():
    assert parse_label_map("hire=4, contact=3") == {**DEFAULT_LABELS, "contact": 3}
    assert parse_label_map("") == DEFAULT_LABELS


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("hire", "expected ACTION=GRADE"),
        ("=3", "expected ACTION=GRADE"),
        ("hire=", "expected ACTION=GRADE"),
        ("hired=4", "unknown action 'hired'"),
        ("hire=four", "grade 'four' is not an integer"),
        ("hire=11", "outside 0..10"),
        ("hire=-1", "outside 0..10"),
        ("hire=4,hire=3", "given twice"),
        ("hire=0,offer=0,interview=0,contact=0,shortlist=0", "nothing is relevant"),
    ],
)
def test_parse_errors_name_the_item_and_the_fix(text: str, message: str):
    with pytest.raises(ValueError, match=message):
        parse_label_map(text)


def test_check_label_map_errors():
    with pytest.raises(ValueError, match="no grade for view"):
        check_label_map({k: v for k, v in DEFAULT_LABELS.items() if k != "view"})
    with pytest.raises(ValueError, match="unknown action"):
        check_label_map({**DEFAULT_LABELS, "like": 1})
    with pytest.raises(ValueError, match="must be an integer"):
        check_label_map({**DEFAULT_LABELS, "hire": 2.5})
