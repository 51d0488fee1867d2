"""The ranking cache is bounded by entries and by bytes (least recently used out), and a cached page served again
to the same key writes no new receipt rows: only the audit row of who saw it."""

from __future__ import annotations

import gc
import uuid

import httpx
import pytest
import sqlalchemy as sa
from api_helpers import auth, run_server, settings_for
from ranking_world import seed_ranking_world

from features.records import Need
from features.snapshot import stamps
from service import db
from service.api.app import create_app
from service.ranking import RankCache


@pytest.fixture
def office(tmp_path, sqlite_url):
    keys = seed_ranking_world(sqlite_url, tmp_path / "world")
    app = create_app(settings_for(sqlite_url, tmp_path, rank_cache_entries=2))
    with run_server(app) as base, httpx.Client(base_url=base, timeout=30) as client:
        yield client, {k: auth(v) for k, v in keys.items()}, app.state


def rows(state, table) -> int:
    with state.store.engine.connect() as conn:
        return conn.scalar(sa.select(sa.func.count()).select_from(table.__table__))


def test_a_cached_page_served_again_writes_no_receipt_rows(office):
    client, h, state = office
    first = client.get("/needs/n-pv/candidates?k=3", headers=h["recruiter"]).json()
    counts = [rows(state, t) for t in (db.RankingRow, db.RankingDetailRow)]
    assert counts == [1, 3]
    audits = rows(state, db.AuditRow)
    for _ in range(5):
        again = client.get("/needs/n-pv/candidates?k=3", headers=h["recruiter"]).json()
        assert again["ranking_id"] == first["ranking_id"] and again["candidates"] == first["candidates"]
    assert [rows(state, t) for t in (db.RankingRow, db.RankingDetailRow)] == counts
    assert rows(state, db.AuditRow) == audits + 5  # one row a page served, naming the receipt
    shown = first["candidates"][0]["talent_id"]
    log = client.get("/audit", params={"object_id": shown}, headers=h["admin"]).json()["items"]
    seen = [e for e in log if e["action"] == "rank" and e["detail"]["ranking_id"] == first["ranking_id"]]
    assert len(seen) == 6 and {e["object_kind"] for e in seen} == {"talent"}  # each card shown is still audited
    # another page, another key or other parameters are other decisions: their own receipts
    asks = [("k=3&offset=3", "recruiter"), ("k=3", "admin"), ("k=3&personalized=false", "recruiter")]
    other = [client.get(f"/needs/n-pv/candidates?{q}", headers=h[key]).json()["ranking_id"] for q, key in asks]
    assert len({first["ranking_id"], *other}) == 4
    assert client.get(f"/rankings/{first['ranking_id']}", headers=h["admin"]).status_code == 200


def test_receipts_are_keyed_in_the_order_they_were_written(office):
    """Ranking and page ids are UUIDv7s (``db.new_id``): each ranking's receipt rows land at the end of their
    B-trees, not on a random page of tables that only grow."""
    client, h, state = office
    ids = [client.get(f"/needs/n-pv/candidates?k={k}", headers=h["recruiter"]).json()["ranking_id"]
           for k in range(1, 9)]  # fmt: skip
    assert ids == sorted(ids) and len(set(ids)) == 8
    assert all(uuid.UUID(i).version == 7 for i in ids)
    with state.store.engine.connect() as conn:
        got = conn.execute(sa.select(db.RankingDetailRow.page_id)).scalars().all()
        named = conn.execute(sa.select(db.RankingRow.page_id)).scalars().all()
    assert len(set(got)) == 8 and all(uuid.UUID(page).version == 7 for page in got) and set(named) == set(got)


def counted_right(cache: RankCache) -> bool:
    """The bytes the cache keeps count of as entries come, grow and go are its entries' bytes."""
    return cache.nbytes == sum(full.nbytes for *_, full in cache._items.values())


def test_the_cache_holds_at_most_its_entries_and_bytes(office):
    client, h, state = office
    for query in ("perovskite", "RISC-V", "protein folding"):
        assert client.post("/search", json={"query": query}, headers=h["recruiter"]).status_code == 200
    assert len(state.rank_cache) == 2  # TALENTMATCH_RANK_CACHE_ENTRIES=2: the least recently used went
    idx = state.indices
    needs = [Need(id=f"n-{i}", title=f"perovskite thin films {i}", description="solar cells") for i in range(6)]
    sized = RankCache(entries=100)
    for need in needs:
        sized.page(sized.get_or_rank(idx, need, None, None), idx, 10, 0)
    one = sized.nbytes / len(sized)
    assert len(sized) == 6 and one > 0
    small = RankCache(entries=100, max_bytes=int(2.5 * one))
    for need in needs:
        small.page(small.get_or_rank(idx, need, None, None), idx, 10, 0)
        assert small.nbytes <= 2.5 * one and counted_right(small)
    assert len(small) == 2
    assert small.cached(idx, needs[-1], None, None) is not None and small.cached(idx, needs[0], None, None) is None


def test_after_a_write_an_entry_serves_only_within_its_freshness(tmp_path):
    from ranking_world import ranking_world

    from features.indices import Indices
    from features.records import RECORD_TYPES, Talent

    world = ranking_world()
    idx = Indices.build({k: [RECORD_TYPES[k].model_validate(r) for r in v] for k, v in world.items()}, encoder=None)
    need = idx.needs["n-pv"]
    strict, lenient = RankCache(), RankCache(fresh=3600)
    first = [c.get_or_rank(idx, need, None, None) for c in (strict, lenient)]
    new = Talent.model_validate({**world["talent"][1], "id": "t-pv-new"})
    idx.add_talent(new)
    assert strict.cached(idx, need, None, None) is None  # the next request ranks afresh and sees the new talent
    assert "t-pv-new" in strict.get_or_rank(idx, need, None, None).ids
    assert lenient.cached(idx, need, None, None) is first[1]  # served stale, within its freshness


def _world_indices():
    from ranking_world import ranking_world

    from features.indices import Indices
    from features.records import RECORD_TYPES

    world = ranking_world()
    return world, Indices.build({k: [RECORD_TYPES[k].model_validate(r) for r in v] for k, v in world.items()},
                                encoder=None)  # fmt: skip


def _scorer():
    """A real LambdaRank booster on random rows (what it ranks does not matter here, only that TreeSHAP runs)."""
    import lightgbm as lgb
    import numpy as np

    from features.schema import SCHEMA
    from matcher.ranker import NO_ENCODER, Scorer

    rng = np.random.default_rng(0)
    X = rng.random((400, len(SCHEMA.names)), dtype=np.float32)
    ranker = lgb.LGBMRanker(n_estimators=10, min_child_samples=5, verbose=-1, random_state=0)
    ranker.fit(X, rng.integers(0, 4, 400), group=[20] * 20, feature_name=SCHEMA.names)
    return Scorer(ranker.booster_, "test-1", SCHEMA.version, NO_ENCODER)


def test_an_erasure_takes_the_talent_out_of_every_entry_and_keeps_the_rest(tmp_path):
    world, idx = _world_indices()
    need = idx.needs["n-pv"]
    cache = RankCache(fresh=3600)
    full = cache.get_or_rank(idx, need, None, None)
    assert len(full.ids) >= 3
    first = cache.page(full, idx, 1, 0)
    cache.page(full, idx, 1, 1)
    assert counted_right(cache)  # the pages made the entry larger
    gone = full.ids[1]
    name = next(t["name"] for t in world["talent"] if t["id"] == gone)
    search = Need.model_validate({**need.model_dump(), "id": "search-x", "description": f"like {name}"})
    cache.get_or_rank(idx, search, None, None)
    idx.erase_talent(gone)
    cache.erase_talent(gone, [name])
    kept = cache.cached(idx, need, None, None)
    assert kept is not None and gone not in kept.ids and len(kept.ids) == len(full.ids) - 1
    assert kept.pages == {(0, 1): first}  # the page before them stays; the one holding them is forgotten
    assert cache.page(kept, idx, 1, 1)[0].talent_id == full.ids[2]
    assert cache.cached(idx, search, None, None) is None  # a search naming them goes
    assert counted_right(cache)
    cache.clear()
    assert cache.nbytes == 0
    assert all(gone not in f.ids for *_, f in cache._items.values())
    assert kept.inputs is None  # they held the talent's row


def test_contributions_are_computed_once_per_row_and_ahead_of_the_page(tmp_path, monkeypatch):
    import numpy as np

    _, idx = _world_indices()
    scorer = _scorer()
    calls: list[int] = []
    real = scorer.contributions
    monkeypatch.setattr(scorer, "contributions", lambda X: calls.append(len(X)) or real(X))
    cache = RankCache()
    full = cache.get_or_rank(idx, idx.needs["n-pv"], scorer, None)
    n = len(full.ids)
    assert n >= 3
    rows = cache.page(full, idx, 1, 0)
    assert calls == [min(n, 1 + 40)]  # the page and the rows ahead of it, in one call
    np.testing.assert_allclose(np.stack([r.contributions for r in rows]), real(full.X[:1]), rtol=1e-6)
    cache.page(full, idx, 1, 1)
    assert len(calls) == 1  # the next page's rows were computed ahead
    cache._items.clear()  # a ranking afresh (after a write) finds the same rows: no TreeSHAP call
    fresh = cache.get_or_rank(idx, idx.needs["n-pv"], scorer, None)
    assert fresh is not full and [r.contributions.tolist() for r in cache.page(fresh, idx, 1, 0)] == [
        r.contributions.tolist() for r in rows
    ]
    assert len(calls) == 1
    cache.erase_talent(full.ids[0])
    assert not any(key[1] == full.ids[0] for key in cache._shap)


def test_with_the_cache_off_contributions_are_computed_for_the_page_only(monkeypatch):
    import numpy as np

    _, idx = _world_indices()
    scorer = _scorer()
    calls: list[int] = []
    real = scorer.contributions
    monkeypatch.setattr(scorer, "contributions", lambda X: calls.append(len(X)) or real(X))
    cache = RankCache(ttl=0)  # TALENTMATCH_RANK_CACHE_SECONDS=0: every request ranks afresh
    full = cache.get_or_rank(idx, idx.needs["n-pv"], scorer, None)
    assert len(full.ids) >= 3
    rows = cache.page(full, idx, 2, 0)
    assert calls == [2]  # no rows ahead: the next page is another ranking, with rows of its own
    np.testing.assert_array_equal(np.stack([r.contributions for r in rows]), real(full.X[:2]))


def test_with_the_cache_off_an_unchanged_ranking_lends_its_pages_and_a_changed_one_does_not(monkeypatch):
    """Every request ranks afresh: scores, policy and order, on the candidates and feature rows of the last ranking
    while nothing was written since (``matcher.pipeline.Inputs``: what retrieval and the feature matrix would give
    again), afresh after a write. A page whose every input came out the same (talents, records, feature rows,
    scores) keeps the last ranking's rows, so its reasons and receipt details are not built and stored again. A
    written candidate's page is built anew."""
    from features.records import Talent
    from matcher import pipeline

    world, idx = _world_indices()
    scorer = _scorer()
    need = idx.needs["n-pv"]
    cache = RankCache(ttl=0)
    retrieved: list[str] = []
    real = pipeline.retrieve
    monkeypatch.setattr(pipeline, "retrieve", lambda i, n, **kw: retrieved.append(n.id) or real(i, n, **kw))
    first = cache.get_or_rank(idx, need, scorer, None)
    rows = cache.page(first, idx, 2, 0)
    first.stored_pages.add(rows[0].page_id)  # its receipt committed (``ranking_page`` marks it)
    again = cache.get_or_rank(idx, need, scorer, None)
    assert again is not first  # ranked afresh: the cache is off
    assert retrieved == ["n-pv"] and again.inputs is first.inputs  # nothing written: the same candidates and rows
    assert again.stamps is first.stamps  # and the same records: their stamps are not looked up again
    assert again.pages[(0, 2)] is rows and rows[0].page_id in again.stored_pages
    assert cache.page(again, idx, 2, 0) is rows
    top = next(t for t in world["talent"] if t["id"] == rows[0].talent_id)
    idx.add_talent(Talent.model_validate({**top, "summary": top["summary"] + " and more"}))
    after = cache.get_or_rank(idx, need, scorer, None)
    assert retrieved == ["n-pv", "n-pv"] and after.inputs is not first.inputs
    now = stamps(idx.talents, after.ids)  # looked up again: the written record's is new
    assert after.stamps is not first.stamps and all(a is b for a, b in zip(after.stamps, now, strict=True))
    assert (0, 2) not in after.pages and not after.stored_pages
    assert cache.page(after, idx, 2, 0)[0].page_id != rows[0].page_id


def test_after_a_write_moves_every_row_a_little_the_page_is_explained_from_the_memo(monkeypatch):
    """With the cache off every ranking computes its feature rows afresh, and a write moves them all (BM25 statistics,
    PageRank): rows that cross no split of the model keep their contributions, found by the side of each split."""
    import numpy as np

    from features.records import Talent

    _, idx = _world_indices()
    scorer = _scorer()
    calls: list[int] = []
    real = scorer.contributions
    monkeypatch.setattr(scorer, "contributions", lambda X: calls.append(len(X)) or real(X))
    cache = RankCache(ttl=0)
    need = idx.needs["n-pv"]
    before = cache.get_or_rank(idx, need, scorer, None)
    cache.page(before, idx, 3, 0)
    idx.add_talent(Talent(id="t-new", summary="perovskite solar cells, thin films and perovskite modules"))
    after = cache.get_or_rank(idx, need, scorer, None)
    kept = [i for i in range(3) if after.ids[i] in before.ids[:3]]
    assert kept and not np.array_equal(after.X[kept], before.X[[before.ids.index(after.ids[i]) for i in kept]])
    rows = cache.page(after, idx, 3, 0)
    assert sum(calls) == 3 + 3 - len(kept)  # the first page, then only the rows it did not show
    np.testing.assert_array_equal(np.stack([r.contributions for r in rows]), real(after.X[:3]))


@pytest.mark.parametrize("loaded", [False, True], ids=["built", "snapshot"])
def test_a_ranking_after_writes_reuses_the_rows_of_talents_no_write_touched(monkeypatch, tmp_path, loaded):
    """Also on indices loaded from a snapshot, whose records go back to their bytes once nothing holds them: the
    cache keeps the records' stamps, not the records."""
    import numpy as np

    from features import snapshot
    from features.records import Talent
    from matcher import pipeline

    world, idx = _world_indices()
    if loaded:
        idx = snapshot.load(snapshot.save(idx, tmp_path, seq=1), encoder=None)
        monkeypatch.setattr(snapshot, "READ_HELD", 0)
    need = idx.needs["n-pv"]
    cache = RankCache(fresh=0)
    first = cache.get_or_rank(idx, need, None, None)
    assert len(first.ids) >= 2
    if loaded:
        gc.collect()
        assert not list(idx.talents._read)  # the cache keeps stamps, not records: they go back to their bytes
    computed: list[list[str]] = []
    real = pipeline.feature_matrix
    monkeypatch.setattr(
        pipeline, "feature_matrix", lambda i, n, ids, **kw: computed.append(list(ids)) or real(i, n, ids, **kw)
    )
    changed = idx.talents[first.ids[0]].model_copy(update={"summary": "钙钛矿 perovskite 薄膜 tandem cells, 2024"})
    new = Talent.model_validate({**world["talent"][1], "id": "t-pv-new"})
    idx.add_talent(changed)
    idx.add_talent(new)
    again = cache.get_or_rank(idx, need, None, None)
    assert again is not first and "t-pv-new" in again.ids
    assert sorted(i for ids in computed for i in ids) == sorted({changed.id, "t-pv-new"} & set(again.ids))
    for tid in set(first.ids) - {changed.id}:  # the others' rows carried over as they were
        np.testing.assert_array_equal(again.X[again.ids.index(tid)], first.X[first.ids.index(tid)])
    afresh = RankCache().get_or_rank(idx, need, None, None)  # the written talents' rows are today's
    assert sorted(afresh.ids) == sorted(again.ids)
    for tid in (changed.id, "t-pv-new"):
        np.testing.assert_array_equal(again.X[again.ids.index(tid)], afresh.X[afresh.ids.index(tid)])
    computed.clear()
    monkeypatch.setattr(cache, "ttl", 0.0)  # after a write, rows older than the cache's lifetime are computed afresh
    idx.add_talent(Talent.model_validate({"id": "t-far", "summary": "宋词 classical poetry"}))
    last = cache.get_or_rank(idx, need, None, None)
    assert sorted(computed[0]) == sorted(last.ids)


def test_pages_that_come_out_the_same_after_writes_keep_their_rows():
    from features.records import Talent

    _, idx = _world_indices()
    need = idx.needs["n-pv"]
    cache = RankCache(fresh=0)
    first = cache.get_or_rank(idx, need, None, None)
    assert len(first.ids) >= 3
    top, rest = cache.page(first, idx, 1, 0), cache.page(first, idx, 1, 1)
    first.stored_pages |= {top[0].page_id}
    idx.add_talent(Talent.model_validate({"id": "t-far", "name": "Far Away", "summary": "宋词 classical poetry"}))
    changed = idx.talents[first.ids[1]].model_copy(update={"name": "Renamed"})  # a card changes, not a row
    idx.add_talent(changed)
    again = cache.get_or_rank(idx, need, None, None)
    assert again is not first and again.ids[:2] == first.ids[:2]
    assert again.pages == {(0, 1): top} and again.stored_pages == {top[0].page_id}  # no reasons, cards or details anew
    assert cache.page(again, idx, 1, 1) is not rest  # its talent's record changed: made again


def test_rankings_of_different_needs_are_computed_one_at_a_time(monkeypatch):
    """Concurrent requests for different needs queue for the computation instead of interleaving it under the GIL
    (the class doc's measurement); requests for the same need still share one computation."""
    import threading
    import time

    from matcher import pipeline

    _, idx = _world_indices()
    running, most, lock = 0, 0, threading.Lock()
    rank_pool = pipeline.rank_pool

    def counted(*args, **kwargs):
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.05)  # long enough for every thread to arrive while one computes
        try:
            return rank_pool(*args, **kwargs)
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(pipeline, "rank_pool", counted)
    cache = RankCache()
    needs = [Need(id=f"n-{i}", title=f"perovskite thin films {i}", description="solar cells") for i in range(4)]
    asks = [*needs, needs[0], needs[0]]
    got: dict[int, object] = {}
    threads = [threading.Thread(target=lambda i=i: got.__setitem__(i, cache.get_or_rank(idx, asks[i], None, None)))
               for i in range(len(asks))]  # fmt: skip
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert most == 1
    assert [got[i].need.id for i in range(len(asks))] == [n.id for n in asks]
    assert len(cache) == len(needs)  # four computations for six requests


def test_a_pools_person_links_are_read_once_and_forgotten_when_persons_change(monkeypatch):
    """With the cache off every request ranks, but the store's person links for an unchanged pool are read once;
    ``clear`` (this process merged or split persons, or the journal brought another's: ``service.sync``) and an
    erasure forget them at once, however old they are. A folded record stays folded on the remembered answer. A
    process that does not follow the journal reads them every ranking."""
    _, idx = _world_indices()
    need = idx.needs["n-pv"]
    reads: list[int] = []
    links: dict[str, str] = {}

    def persons(ids):
        reads.append(len(ids))
        return {t: links[t] for t in ids if t in links}

    clock = [1000.0]
    monkeypatch.setattr("service.ranking.time.monotonic", lambda: clock[0])
    cache = RankCache(ttl=0, persons=persons, remember_persons=True)
    first = cache.get_or_rank(idx, need, None, None)
    pair = first.ids[:2]
    links.update(dict.fromkeys(pair, "P1"))  # the office links the top two: this process would call ``clear``
    again = cache.get_or_rank(idx, need, None, None)
    assert len(reads) == 1 and again.ids == first.ids  # the remembered answer: not linked yet
    cache.clear()
    merged = cache.get_or_rank(idx, need, None, None)
    assert len(reads) == 2 and pair[1] not in merged.ids and merged.removed["same_person"] == 1
    assert cache.get_or_rank(idx, need, None, None).ids == merged.ids and len(reads) == 2  # folded on the memo
    clock[0] += 3600.0  # time alone reads nothing again
    cache.get_or_rank(idx, need, None, None)
    assert len(reads) == 2
    cache.erase_talent("t-nobody")
    cache.get_or_rank(idx, need, None, None)
    assert len(reads) == 3
    off = RankCache(ttl=0, persons=persons)  # not following the journal (sync off): every ranking reads
    off.get_or_rank(idx, need, None, None)
    off.get_or_rank(idx, need, None, None)
    assert len(reads) == 5
