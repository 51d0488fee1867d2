"""The incubator retriever against brute force on a generated world: exactly the talents linked to an incubator that
fits the need (from the records), most concept overlap first, ties to the lower row, cut at ``k``."""

import numpy as np
import pytest

from demo.world import generate_world
from features.indices import Indices
from features.io import load_world
from matcher.retrievers import IncubatorRoute


@pytest.fixture(scope="module")
def idx(tmp_path_factory):
    out = tmp_path_factory.mktemp("world")
    generate_world(out, talents=600, needs=40, seed=11)
    w = load_world(out)
    return Indices.build({k: r.records for k, r in w.files.items()}, encoder=None)


def brute_force(idx: Indices, need, k: int) -> list[int]:
    """From the records: talents whose ``incubator_id`` names an incubator that fits the need."""
    fitting = {node.removeprefix("incubator:") for node in idx.graph.matching_incubators(need)}
    rows = np.sort(idx.table.rows([t.id for t in idx.talents.values() if t.incubator_id in fitting]))
    overlap = dict(zip(rows.tolist(), idx.concepts.concept_overlap(need, rows).tolist(), strict=True))
    return sorted(overlap, key=lambda r: (-overlap[r], r))[:k]


def test_the_route_lists_the_fitting_incubators_talents_best_overlap_first(idx):
    needs = list(idx.needs.values())
    routed = 0
    for need in needs:
        for k in (1, 7, 60, 10_000):
            got = IncubatorRoute().run(idx, need, k)
            assert got.tolist() == brute_force(idx, need, k), (need.id, k)
        routed += len(got) > 0
    assert routed >= 5  # the world has needs with fitting incubators: the comparison is not between empty lists
    pools = [(need, IncubatorRoute().run(idx, need, 10_000)) for need in needs]
    ties = [n for n, rows in pools if len(set(idx.concepts.concept_overlap(n, rows).tolist())) < len(rows)]
    assert ties  # and some have ties, which go to the lower row


def test_a_removed_talent_leaves_the_route(idx):
    need = next(n for n in idx.needs.values() if len(IncubatorRoute().run(idx, n, 10_000)))
    first = IncubatorRoute().run(idx, need, 10_000)
    gone = idx.table.ids[first[0]]
    idx.remove_talent(gone)
    after = IncubatorRoute().run(idx, need, 10_000)
    assert idx.table.rows([gone])[0] == -1 and after.tolist() == [r for r in first.tolist() if r != first[0]]


def test_writes_move_talents_between_incubators_and_erasure_leaves_no_trace(tmp_path):
    """The route's pool is the table's incubator column: a replaced talent follows its new incubator (or none), a new
    talent joins, an erased one leaves nothing behind, and a snapshot keeps the numbering; each against brute force."""
    from features import snapshot

    generate_world(tmp_path / "w", talents=300, needs=30, seed=5)
    w = load_world(tmp_path / "w")
    idx = Indices.build({k: r.records for k, r in w.files.items()}, encoder=None)
    need = max(idx.needs.values(), key=lambda n: len(IncubatorRoute().run(idx, n, 10_000)))
    fitting = sorted(node.removeprefix("incubator:") for node in idx.graph.matching_incubators(need))
    others = sorted(set(idx.incubators) - set(fitting))
    assert fitting and others
    members = [idx.table.ids[r] for r in IncubatorRoute().run(idx, need, 10_000)]
    outsider = next(t for t in idx.talents.values() if t.incubator_id not in fitting)
    idx.add_talent(idx.talents[members[0]].model_copy(update={"incubator_id": others[0]}))  # leaves
    idx.add_talent(idx.talents[members[1]].model_copy(update={"incubator_id": None}))  # leaves
    idx.add_talent(outsider.model_copy(update={"incubator_id": fitting[-1]}))  # joins
    idx.add_talent(outsider.model_copy(update={"id": "newcomer", "incubator_id": fitting[0]}))  # new
    idx.erase_talent(members[2])
    got = IncubatorRoute().run(idx, need, 10_000)
    assert got.tolist() == brute_force(idx, need, 10_000)
    ids = {idx.table.ids[r] for r in got}
    assert {outsider.id, "newcomer"} <= ids and not ids & set(members[:3])
    erased = np.array([i == "" for i in idx.table.ids])
    assert erased.any() and not idx.table.incubator[erased].any()  # the erased rows' incubator too
    loaded = snapshot.load(snapshot.save(idx, tmp_path / "snap", seq=1), encoder=None)
    loaded.add_talent(outsider.model_copy(update={"id": "late", "incubator_id": fitting[0]}))
    assert IncubatorRoute().run(loaded, need, 10_000).tolist() == brute_force(loaded, need, 10_000)
    assert "late" in {loaded.table.ids[r] for r in IncubatorRoute().run(loaded, need, 10_000)}
