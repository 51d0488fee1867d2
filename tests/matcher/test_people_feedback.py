"""Feedback per person on a small world with a known answer: a relevant talent ``A``, a second record ``B`` of the
same person and a stranger ``S`` with the very same profile (so the same feature row). Feedback on either record
grades the person once; ``B`` is never a grade-0 negative where ``A`` was judged; NDCG counts the person once; ``S``
is untouched by all of it; and without persons nothing changes."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sklearn.metrics import ndcg_score

from features.indices import Indices
from features.records import FeedbackEvent
from features.schema import SCHEMA
from matcher.dataset import build_rank_data, retrieve_ids
from matcher.evaluate import evaluate
from matcher.labels import exposure_from_feedback, fold_persons, labels_from_feedback
from matcher.receipt_rows import ShownPage, join_receipts

T0 = datetime(2026, 5, 1, tzinfo=UTC)
B, S = "TWIN-B", "TWIN-S"


@dataclass(frozen=True)
class Twins:
    idx: Indices
    feedback: list[FeedbackEvent]
    need: str
    a: str
    persons: dict[str, str]


@functools.cache
def twins() -> Twins:
    """An 80-talent demo world plus ``B`` and ``S``, copies of a talent ``A`` that feedback graded relevant for a need
    whose retrieval finds it; ``persons`` links ``A`` and ``B``."""
    import shutil
    import tempfile
    from pathlib import Path

    from demo.world import generate_world
    from features.io import load_world

    root = Path(tempfile.mkdtemp(prefix="tm-twins-"))
    try:
        generate_world(root, talents=80, needs=12, seed=3)
        world = load_world(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    records = {kind: list(world[kind]) for kind in world}
    plain = Indices.build(records, encoder=None)
    labels = labels_from_feedback(records["feedback"])
    found = ((n, t) for (n, t), g in sorted(labels.items()) if g >= 1 and t in retrieve_ids(plain, plain.needs[n]))
    need, a = next(found)
    original = next(t for t in records["talent"] if t.id == a)
    records["talent"] += [original.model_copy(update={"id": B}), original.model_copy(update={"id": S})]
    return Twins(Indices.build(records, encoder=None), records["feedback"], need, a, {a: a, B: a})


def ev(need: str, talent: str, action: str, minute: int, position: int | None = None) -> FeedbackEvent:
    return FeedbackEvent(need_id=need, talent_id=talent, action=action, position=position,
                         time=T0 + timedelta(minutes=minute))  # fmt: skip


def test_feedback_on_any_record_grades_the_person_once_on_the_record_first_judged():
    persons = {"a": "a", "b": "a"}
    events = [ev("n", "a", "impression", 0, 3), ev("n", "b", "impression", 1, 1), ev("n", "b", "shortlist", 2, 1),
              ev("n", "a", "contact", 3, 3), ev("n", "s", "reject", 4, 2), ev("m", "a", "view", 5, 0)]  # fmt: skip
    folded = fold_persons(events, persons)
    assert labels_from_feedback(folded) == {("n", "b"): 2, ("n", "s"): 0, ("m", "a"): 0}  # b judged first
    assert exposure_from_feedback(folded)[("n", "b")].position == 1  # the person's best position
    assert [e.id for e in folded] == [e.id for e in events]  # the same events, re-addressed
    assert fold_persons(events, {}) == events and fold_persons(events, None) == events


@pytest.mark.parametrize("judged", ["a", B])
def test_a_judged_persons_other_record_is_never_a_negative_and_a_stranger_is_untouched(judged):
    tw = twins()
    a = tw.a if judged == "a" else B
    other = B if judged == "a" else tw.a
    events = [e for e in tw.feedback if not (e.need_id == tw.need and e.talent_id == tw.a)]
    events.append(ev(tw.need, a, "contact", 0, 0))
    need = [tw.idx.needs[tw.need]]

    def rows(persons):
        labels = labels_from_feedback(fold_persons(events, persons))
        data = build_rank_data(tw.idx, need, labels, mode="union", persons=persons)
        return {t: (int(y), x.tobytes()) for t, y, x in zip(data.talent_ids, data.y, data.X, strict=True)}

    before, after = rows(None), rows(tw.persons)
    assert before[other][0] == 0 and before[a][0] == 2  # per record: the same person is a negative beside its contact
    assert other not in after and after[a][0] == 2  # per person: one row, the judged record's
    assert after[S] == before[S] and after[S][0] == 0 and after[S][1] == after[a][1]  # the twin stranger stays a 0
    assert set(before) - set(after) == {other}


def test_a_person_retrieved_on_two_records_is_one_negative():
    tw = twins()
    events = [e for e in tw.feedback if not (e.need_id == tw.need and e.talent_id == tw.a)]
    labels = labels_from_feedback(events)
    data = build_rank_data(tw.idx, [tw.idx.needs[tw.need]], labels, mode="union", persons=tw.persons)
    assert (tw.a in data.talent_ids) != (B in data.talent_ids) and S in data.talent_ids


def test_ndcg_counts_a_person_once_one_card_per_person():
    tw = twins()
    need = tw.idx.needs[tw.need]
    cands = retrieve_ids(tw.idx, need)
    truth = {tw.need: {tw.a: 3, B: 3, cands[-1]: 2}}  # copies inherit their original's grade
    score = np.linspace(0, 1, len(cands))[::-1].copy()
    score[cands.index(tw.a)], score[cands.index(B)] = 2.0, 1.5  # the person first and second
    score[cands.index(cands[-1])] = -1.0  # the other relevant talent last
    scorer = {"fixed": lambda X, n: score}
    per_record = evaluate(tw.idx, [need], scorer, truth=truth)["fixed"]
    per_person = evaluate(tw.idx, [need], scorer, truth=truth, persons=tw.persons)["fixed"]
    rel = np.array([truth[tw.need].get(t, 0) for t in cands], dtype=float)
    once = np.array([t != B for t in cands])
    assert per_record["ndcg@20"] == pytest.approx(ndcg_score(rel[None], score[None], k=20), abs=1e-4)
    assert per_person["ndcg@20"] == pytest.approx(ndcg_score(rel[once][None], score[once][None], k=20), abs=1e-4)
    assert per_person["ndcg@20"] < per_record["ndcg@20"]  # the duplicate no longer props the ranking up
    assert per_person["recall@300"] == per_record["recall@300"] == 1.0
    assert per_person["recall@10"] == 0.5 and per_record["recall@10"] == pytest.approx(2 / 3, abs=1e-4)
    # a stranger: the same figures whoever else is linked
    assert evaluate(tw.idx, [need], scorer, truth=truth, persons={"x": "y", "z": "y"})["fixed"] == per_record


def test_receipts_give_a_person_one_row_the_record_acted_on():
    feats = {"a": 0.1, "b": 0.2, "c": 0.3, "s": 0.4}

    def page(rid, talents, minute):
        rows = [{"skill_coverage": feats[t], "tier_rank": 0.5} for t in talents]
        return ShownPage(rid, "n", T0 + timedelta(minutes=minute), SCHEMA.version, "3", list(range(len(talents))),
                         talents, rows)  # fmt: skip

    # r1 (before linking) shows both records of the person; the recruiter shortlists b; r2 later shows a again
    pages = {"r1": page("r1", ["a", "b", "c", "s"], 0), "r2": page("r2", ["a", "c"], 60)}

    def act(talent, action, rid, position, minute):
        return FeedbackEvent(need_id="n", talent_id=talent, action=action, ranking_id=rid, position=position,
                             time=T0 + timedelta(minutes=minute))  # fmt: skip

    events = [act("b", "shortlist", "r1", 1, 1), act("s", "reject", "r1", 3, 2), act("c", "view", "r2", 1, 61)]
    per_record = join_receipts(events, pages)
    per_person = join_receipts(events, pages, persons={"a": "a", "b": "a"})
    got = dict(zip(per_person.data.talent_ids, per_person.data.y.tolist(), strict=True))
    assert dict(zip(per_record.data.talent_ids, per_record.data.y.tolist(), strict=True))["a"] == 0  # passed over
    assert got == {"b": 1, "c": 0, "s": 0}  # a is b's person: no judged 0 beside its shortlist
    assert per_person.skipped["same_person"] == 1  # a on r1, beside b
    assert per_person.skipped["shown_again"] == 2  # a on r2 (its person's row is r1's), c on r1 (first acted on in r2)
    row = per_person.data.X[per_person.data.talent_ids.index("b"), SCHEMA.index("skill_coverage")]
    assert row == pytest.approx(0.2)  # the features of the record the recruiter judged


def test_sampled_rows_per_person_are_the_per_record_rows_less_the_kin():
    tw = twins()
    labels = labels_from_feedback(tw.feedback)
    needs = [tw.idx.needs[n] for n in sorted({n for n, _ in labels})]

    def pairs(persons):
        data = build_rank_data(tw.idx, needs, labels, mode="sampled", negatives=10, random_state=3, persons=persons)
        starts = np.concatenate([[0], np.cumsum(data.group)[:-1]])
        return {(n, t) for n, s, g in zip(data.need_ids, starts, data.group, strict=True)
                for t in data.talent_ids[s : s + g]}  # fmt: skip

    before, after = pairs(None), pairs(tw.persons)
    assert after <= before and {t for _, t in before - after} <= {tw.a, B}  # the same draw, less the kin
