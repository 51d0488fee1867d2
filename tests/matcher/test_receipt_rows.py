"""The receipt join on hand-built receipts with known answers: each label meets the feature row shown with it, a
talent passed over above the deepest action is a judged 0, erased rows and another schema's rows drop out (counted),
feedback without a receipt is left to recompute, and the plan refuses a run with nothing new."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from features.records import FeedbackEvent
from features.schema import SCHEMA
from matcher.evaluate import split_needs
from matcher.receipt_rows import ShownPage, feature_rows, join_receipts, take_needs
from matcher.retrain import ChampionNeeds, NothingNew, Since, group_ndcg, plan

T0 = datetime(2026, 5, 1, tzinfo=UTC)
F = "skill_coverage"


def page(rid: str, need: str, talents: list[str | None], values: list[float], *, at: int = 0, schema=SCHEMA.version):
    feats = [None if t is None else {F: v, "tier_rank": 0.5} for t, v in zip(talents, values, strict=True)]
    return ShownPage(rid, need, T0 + timedelta(minutes=at), schema, "3", list(range(len(talents))), talents, feats)


def ev(need: str, talent: str, action: str, rid: str | None, position: int | None, minute: int) -> FeedbackEvent:
    return FeedbackEvent(need_id=need, talent_id=talent, action=action, ranking_id=rid, position=position,
                         time=T0 + timedelta(minutes=minute))  # fmt: skip


def rows_by_talent(data) -> dict[str, tuple[float, int, bool, bool, int]]:
    col = SCHEMA.index(F)
    return {t: (float(data.X[i, col]), int(data.y[i]), bool(data.examined[i]), bool(data.judged[i]),
                int(data.position[i])) for i, t in enumerate(data.talent_ids)}  # fmt: skip


def test_each_label_meets_the_row_shown_with_it_and_passed_over_talents_are_judged_zeros():
    pages = {
        "r1": page("r1", "n1", ["a", "b", "c", "d"], [0.1, 0.2, 0.3, 0.4], at=0),
        # shown again an hour later with other values: b was acted on in r1, so r1's row counts
        "r2": page("r2", "n1", ["b", "e"], [0.9, 0.8], at=60),
    }
    events = [ev("n1", "c", "shortlist", "r1", 2, 1), ev("n1", "b", "contact", "r2", 0, 70),
              ev("n1", "b", "view", "r1", 1, 2)]  # fmt: skip
    joined = join_receipts(events, pages)
    got = rows_by_talent(joined.data)
    assert got["b"] == (pytest.approx(0.2), 2, True, True, 1)  # first acted on in r1: its features there
    assert got["c"] == (pytest.approx(0.3), 1, True, True, 2)
    assert got["a"] == (pytest.approx(0.1), 0, True, True, 0)  # above the deepest action (2): passed over
    assert got["d"] == (pytest.approx(0.4), 0, False, False, 3)  # below it: perhaps never looked at
    assert got["e"] == (pytest.approx(0.8), 0, False, False, 1)  # r2's deepest action is at 0
    assert joined.data.need_ids == ["n1"] and joined.data.group.tolist() == [5]
    assert joined.skipped["shown_again"] == 1 and joined.recompute == [] and joined.pages == 2


def test_erased_rows_and_another_schemas_rows_drop_out_counted_and_receiptless_feedback_is_recomputed():
    pages = {
        "r1": page("r1", "n1", ["a", None, "c"], [0.1, 0.2, 0.3]),
        "old": page("old", "n2", ["x", "y"], [0.5, 0.6], schema="0"),
    }
    events = [ev("n1", "c", "shortlist", "r1", 2, 1), ev("n2", "x", "hire", "old", 0, 2),
              ev("n3", "z", "contact", None, None, 3), ev("n3", "w", "contact", "gone", 0, 4)]  # fmt: skip
    joined = join_receipts(events, pages)
    assert joined.data.talent_ids and set(joined.data.talent_ids) == {"a", "c"}
    assert joined.skipped["erased"] == 1
    assert (joined.skipped["other_schema"], joined.skipped["other_schema_events"]) == (2, 1)
    assert [e.talent_id for e in joined.recompute] == ["z", "w"]  # no receipt (or none left): today's records


def test_feature_rows_follow_the_schema_order_with_nan_for_missing_or_null():
    X = feature_rows([{F: 0.5, "tier_rank": None}, {SCHEMA.names[0]: 2.0}])
    assert X.shape == (2, len(SCHEMA.names)) and X.dtype == np.float32
    assert X[0, SCHEMA.index(F)] == 0.5 and np.isnan(X[0, SCHEMA.index("tier_rank")])
    assert X[1, 0] == 2.0 and np.isnan(X[1, SCHEMA.index(F)])


def three_needs():
    pages = {f"r{i}": page(f"r{i}", f"n{i}", ["a", "b", "c"], [0.1, 0.5, 0.9], at=i) for i in range(4)}
    events = [ev(f"n{i}", "c", "shortlist", f"r{i}", 2, 10 + i) for i in range(4)]
    return pages, events


def test_the_plan_counts_the_events_journalled_since_the_watermark_and_refuses_a_run_with_nothing_new():
    pages, events = three_needs()
    known = {f"n{i}" for i in range(4)}
    first = plan(events, pages, since=Since(head=7, store_id="db"), known_needs=known)
    summary = first.summary()
    assert (summary["events"], summary["new_events"], summary["rows"]["receipts"]) == (4, 4, 12)
    assert summary["new_watermark"] == events[-1].time.isoformat() and first.since.journal == ("db", 7)
    assert summary["new_since"].startswith("all feedback: no earlier run")
    assert len(summary["heldout_needs"]) == 1 and summary["heldout_needs"][0] in known
    # the oldest event, journalled after the last run (a late import), is new whatever its time says
    later = plan(events, pages, since=Since(frozenset({events[0].id}), 7, events[-1].time), known_needs=known)
    assert later.new_events == 1 and later.events == 4  # the earlier feedback is still trained on
    assert later.summary()["new_since"] == "journal seq 7"
    with pytest.raises(NothingNew, match="no feedback recorded since the last training run \\(journal seq 7"):
        plan(events, pages, since=Since(frozenset(), 7, events[-1].time), known_needs=known)
    with pytest.raises(ValueError, match="2 need\\(s\\) have usable feedback"):
        plan(events, pages, since=Since(), known_needs={"n0", "n1"})


def ten_needs():
    pages = {f"r{i}": page(f"r{i}", f"n{i}", ["a", "b", "c"], [0.1, 0.5, 0.9], at=i) for i in range(10)}
    return pages, [ev(f"n{i}", "c", "shortlist", f"r{i}", 2, 10 + i) for i in range(10)]


def test_held_out_needs_are_drawn_from_those_the_champion_never_trained_on_where_there_are_enough():
    pages, events = ten_needs()
    known = {f"n{i}" for i in range(10)}
    blind = plan(events, pages, since=Since(), known_needs=known)
    assert len(blind.splits.test) == 2  # 20 % of 10
    for fresh in ({"n3", "n8"}, {"n0", "n5", "n9"}):  # e.g. the champion's held-out needs and needs new since it
        trained = ChampionNeeds(frozenset(known - fresh), "journal seq 3")
        fair = plan(events, pages, since=Since(), known_needs=known, champion=trained)
        assert set(fair.splits.test) <= fresh and len(fair.splits.test) == 2
        assert fair.summary()["heldout"] == {"champion_trained": 0, "champion_basis": "journal seq 3"}
        assert sorted(fair.splits.train + fair.splits.valid + fair.splits.test) == sorted(known)
    # too few fresh needs: the one there is held out, a need the champion trained on fills up (and is counted)
    short = plan(events, pages, since=Since(), known_needs=known, champion=ChampionNeeds(frozenset(known - {"n4"})))
    assert "n4" in short.splits.test and short.summary()["heldout"]["champion_trained"] == 1
    # no champion: exactly split_needs' split
    assert blind.splits == split_needs(sorted(known))


def test_held_out_ndcg_averages_the_groups_that_have_a_relevant_row():
    pages, events = three_needs()
    data = join_receipts(events, pages).data  # per need: a, b (0) and c (shortlisted); c has the highest value
    col = data.X[:, SCHEMA.index(F)]
    assert group_ndcg(data, col, 10) == pytest.approx(1.0)
    worst = group_ndcg(data, -col, 10)
    assert worst == pytest.approx(0.5)  # the one relevant row last of three: 1 / log2(4)
    no_relevant = take_needs(data, {"n0"})
    no_relevant.y[:] = 0
    assert np.isnan(group_ndcg(no_relevant, no_relevant.X[:, 0], 10))
