"""The talent graph: structure, incremental changes against rebuilds, and graph numbers on worlds small enough to
work out by hand."""

from __future__ import annotations

import math
import threading
import time
from array import array
from concurrent.futures import ThreadPoolExecutor

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp

from features import graph as graph_module
from features._growable import GrowableVector
from features.graph import (
    FEATURE_NAMES,
    PPR_ALPHA,
    PPR_RTOL,
    PPR_STEPS,
    ROUTE_CAP,
    EdgeType,
    NodeType,
    TalentGraph,
    _neighbours,
    solve_ppr,
)
from features.records import (
    Education,
    Enterprise,
    FeedbackEvent,
    Incubator,
    Need,
    Platform,
    Residence,
    Talent,
)


def talent(id: str, **kw) -> Talent:
    return Talent(id=id, name=f"Talent {id}", **kw)


def hire(need_id: str, talent_id: str, action: str = "hire") -> FeedbackEvent:
    return FeedbackEvent(need_id=need_id, talent_id=talent_id, action=action)


def snapshot(g: TalentGraph) -> tuple[dict, dict]:
    nodes = {n: dict(d) for n, d in g.to_networkx().nodes(data=True)}
    edges = {frozenset((u, v)): dict(d) for u, v, d in g.to_networkx().edges(data=True)}
    return nodes, edges


# ------------------------------------------------------------------ a world with every kind of record


def city_world() -> dict[str, list]:
    return {
        "platforms": [Platform(id="p1", name="Jiaxing Science City", industries=["semiconductors", "software"])],
        "enterprises": [
            Enterprise(id="e1", name="Chip Co", platform_id="p1", industries=["semiconductors"]),
            Enterprise(id="e2", name="Bio Co", platform_id="p-missing"),
        ],
        "incubators": [
            Incubator(id="i1", name="Haina Munich", country="DE", city="Munich", focus_industries=["semiconductors"]),
            Incubator(
                id="i2",
                name="Haina Boston",
                country="US",
                city="Boston",
                focus_industries=["life_health"],
                focus_disciplines=["C05"],
            ),
        ],
        "needs": [
            Need(
                id="n1",
                title="芯片设计",
                enterprise_id="e1",
                industry="semiconductors",
                required_skills=["Verilog"],
                disciplines=["F0401"],
            ),
            Need(id="n2", title="Biologist", enterprise_id="e-missing", required_skills=["CRISPR"]),
        ],
        "talents": [
            talent(
                "t1",
                skills=["Verilog", " deep  Learning "],
                disciplines=["F040101"],
                incubator_id="i1",
                residence=Residence(country="DE", city="Munich"),
                education=[Education(institution="TU München")],
                employer="TU  München",
            ),
            talent(
                "t2",
                skills=["verilog", "Deep learning"],
                disciplines=["F040102"],
                residence=Residence(country="DE"),
                employer="Infineon",
            ),
            talent(
                "t3",
                skills=["CRISPR", "rare skill"],
                disciplines=["C050101"],
                incubator_id="i2",
                residence=Residence(city="Shanghai"),
            ),
        ],
        "feedback": [hire("n1", "t2"), hire("n1", "t3", "contact"), hire("n2", "t3")],
    }


def test_build_types_ids_and_stats():
    g = TalentGraph.build(**city_world())
    nodes, edges = snapshot(g)
    # vocabulary is normalised: "Verilog"/"verilog" and " deep  Learning "/"Deep learning" are one node each
    assert {n for n in nodes if n.startswith("skill:")} == {
        "skill:verilog",
        "skill:deep learning",
        "skill:crispr",
        "skill:rare skill",
    }
    # disciplines bring their ancestors, linked by parent edges, so F040101 and F040102 meet at F0401
    assert {"discipline:F040101", "discipline:F040102", "discipline:F0401", "discipline:F04"} <= set(nodes)
    assert edges[frozenset(("discipline:F040101", "discipline:F0401"))] == {"type": "discipline_parent"}
    assert nodes["discipline:F0401"]["level"] == 2 and nodes["discipline:F04"]["level"] == 1
    # institution from education and employer merges roles on one edge
    assert edges[frozenset(("talent:t1", "institution:tu münchen"))] == {
        "type": "talent_institution",
        "role": "education+employer",
    }
    # places: city of a known country hangs from it; a bare country; a city with unknown country
    assert edges[frozenset(("talent:t1", "city:DE/munich"))]["type"] == "talent_city"
    assert edges[frozenset(("city:DE/munich", "country:DE"))]["type"] == "city_country"
    assert edges[frozenset(("talent:t2", "country:DE"))]["type"] == "talent_city"
    assert edges[frozenset(("talent:t3", "city:?/shanghai"))]["type"] == "talent_city"
    assert edges[frozenset(("incubator:i1", "city:DE/munich"))]["type"] == "incubator_city"
    # references without records become stubs
    assert nodes["enterprise:e-missing"]["stub"] is True and nodes["platform:p-missing"]["stub"] is True
    assert "stub" not in nodes["enterprise:e1"]
    assert nodes["industry:semiconductors"]["name_zh"] == "半导体与集成电路"
    assert all(d["type"] == n.partition(":")[0] for n, d in nodes.items())

    stats = g.stats()
    assert set(stats["nodes"]) == {t.value for t in NodeType} and set(stats["edges"]) == {t.value for t in EdgeType}
    assert stats["nodes"] == {
        "talent": 3,
        "need": 2,
        "enterprise": 3,
        "platform": 2,
        "incubator": 2,
        "discipline": 7,  # F040101 F040102 F0401 F04 (the need's F0401 is shared), C050101 C0501 C05
        "skill": 4,
        "institution": 2,
        "city": 3,
        "country": 2,
        "industry": 3,
    }
    assert sum(stats["edges"].values()) == g.to_networkx().number_of_edges()
    assert stats["edges"]["hire"] == 2 and stats["edges"]["talent_skill"] == 6
    assert stats["nodes"]["discipline"] == sum(1 for n in nodes if n.startswith("discipline:"))


def test_hires_become_talent_enterprise_edges_only_for_hire_actions():
    g = TalentGraph.build(**city_world())
    assert g.to_networkx().edges["talent:t2", "enterprise:e1"] == {"type": "hire"}
    assert not g.to_networkx().has_edge("talent:t3", "enterprise:e1")  # a "contact" is not a hire
    assert g.to_networkx().edges["talent:t3", "enterprise:e-missing"] == {"type": "hire"}
    # a hire recorded before its talent exists shows up when the talent is added
    g.add_feedback([hire("n1", "t9")])
    assert "talent:t9" not in g
    g.add_talent(talent("t9", skills=["Verilog"]))
    assert g.to_networkx().edges["talent:t9", "enterprise:e1"] == {"type": "hire"}


def test_only_the_export_graph_labels_talents_with_their_names():
    """No graph number reads a talent's name: the ranking graph keeps none (personal data, ~70 MB at 1M talents)."""
    world = city_world()
    names = {t.display_name for t in world["talents"]}
    ranking, export = TalentGraph.build(**world), TalentGraph.build(**world, talent_labels=True)
    ranking.add_talent(talent("t-late"))
    export.add_talent(talent("t-late"))
    assert not ({*names, "Talent t-late"} & set(ranking._label)) and ranking.node_attrs("talent:t1")["label"] == ""
    assert {export.node_attrs(f"talent:{t.id}")["label"] for t in world["talents"]} == names
    assert export.node_attrs("talent:t-late")["label"] == "Talent t-late"
    assert ranking.node_attrs("need:n1") == export.node_attrs("need:n1")  # other kinds keep their labels


def test_scrub_blanks_every_node_an_erased_talent_had_and_forgets_its_hires():
    """A removed node keeps its name and label until the graph compacts; erasure must not wait for that."""
    g = TalentGraph.build(**city_world(), talent_labels=True)
    g.add_talent(talent("t2", skills=["Verilog"]))  # replaced: the first node is dead, still named
    with pytest.raises(ValueError, match="remove it before scrubbing"):
        g.scrub("t2")
    g.remove_talent("t2")
    assert g._names.count("talent:t2") == 2 and "Talent t2" in g._label
    assert g.scrub("t2") == 2
    assert not [name for name in g._names if "t2" in name] and "Talent t2" not in g._label
    g.add_talent(talent("t2", skills=["Verilog"]))  # the same id again: a new person, with no hire of the old one
    assert not g.has_edge("talent:t2", "enterprise:e1") and "t2" not in g._hires_by_need["n1"]


# ------------------------------------------------------------------ incremental changes equal a rebuild


def assert_same_graph(a: TalentGraph, b: TalentGraph) -> None:
    assert snapshot(a) == snapshot(b)
    assert a.stats() == b.stats()
    ids = sorted(n.partition(":")[2] for n, d in a.to_networkx().nodes(data=True) if d["type"] == "talent")
    for need_id in sorted(n.partition(":")[2] for n, d in a.to_networkx().nodes(data=True) if d["type"] == "need"):
        fa, fb = a.features(need_id, ids), b.features(need_id, ids)
        for name in FEATURE_NAMES:
            np.testing.assert_allclose(fa[name], fb[name], rtol=1e-5, atol=1e-9, err_msg=name)


def test_a_graph_pickled_with_array_edges_loads_into_numpy_and_takes_changes():
    """Snapshots before stop 32 pickled the node and edge columns as ``array.array``; they load, and then grow."""
    world = city_world()
    old = TalentGraph.build(**without(world, "talents", "t1"))
    for name, dtype in graph_module._ARRAYS.items():
        setattr(old, name, array(np.dtype(dtype).char, getattr(old, name).view.tobytes()))
    loaded = TalentGraph.__new__(TalentGraph)
    loaded.__setstate__(old.__getstate__())  # as unpickling a snapshot does
    assert all(isinstance(getattr(loaded, name), GrowableVector) for name in graph_module._ARRAYS)
    loaded.add_talent(next(t for t in world["talents"] if t.id == "t1"))
    assert_same_graph(loaded, TalentGraph.build(**world))


def without(world: dict, kind: str, record_id: str) -> dict:
    return {**world, kind: [r for r in world[kind] if r.id != record_id]}


@pytest.mark.parametrize("talent_id", ["t1", "t2", "t3"])
def test_add_and_remove_talent_equal_rebuild(talent_id):
    world = city_world()
    full = TalentGraph.build(**world)
    smaller = TalentGraph.build(**without(world, "talents", talent_id))

    grown = TalentGraph.build(**without(world, "talents", talent_id))
    grown.add_talent(next(t for t in world["talents"] if t.id == talent_id))
    assert_same_graph(grown, full)

    full.remove_talent(talent_id)
    assert_same_graph(full, smaller)


@pytest.mark.parametrize("need_id", ["n1", "n2"])
def test_add_and_remove_need_equal_rebuild(need_id):
    world = city_world()
    full = TalentGraph.build(**world)
    smaller = TalentGraph.build(**without(world, "needs", need_id))
    grown = TalentGraph.build(**without(world, "needs", need_id))
    grown.add_need(next(n for n in world["needs"] if n.id == need_id))
    assert_same_graph(grown, full)
    full.remove_need(need_id)
    assert_same_graph(full, smaller)


def test_replacing_a_talent_equals_rebuild_with_the_new_record():
    world = city_world()
    changed = talent("t1", skills=["Python"], disciplines=["A010101"], residence=Residence(country="FR"))
    g = TalentGraph.build(**world)
    g.add_talent(changed)
    rebuilt = TalentGraph.build(**{**world, "talents": [changed, *world["talents"][1:]]})
    assert_same_graph(g, rebuilt)


def test_removal_prunes_only_vocabulary_nobody_else_uses():
    g = TalentGraph.build(**city_world())
    g.remove_talent("t3")
    assert "skill:rare skill" not in g  # only t3 used it
    assert "skill:crispr" in g  # need n2 still asks for it
    assert "city:?/shanghai" not in g
    assert "discipline:C050101" not in g and "discipline:C0501" not in g  # the chain goes up to …
    assert "discipline:C05" in g  # … the code incubator i2 still focuses on
    assert g.to_networkx().has_edge("enterprise:e-missing", "need:n2")  # the stub stays while n2 refers to it
    g.remove_need("n2")
    assert "enterprise:e-missing" not in g and "skill:crispr" not in g
    g.remove_talent("t1")
    assert "city:DE/munich" in g  # incubator i1 is there
    assert "country:DE" in g and "institution:tu münchen" not in g


def test_many_replacements_compact_the_csr_mirror_and_keep_numbers():
    talents = [talent(f"t{i}", skills=[f"s{i % 50}", "common"], disciplines=["F020101"]) for i in range(1_100)]
    needs = [Need(id="n1", title="x", required_skills=["s3", "common"], disciplines=["F020102"], enterprise_id="e1")]
    g = TalentGraph.build(talents=talents, needs=needs)
    g.ppr("n1", ["t1"])
    for i in range(600):
        g.add_talent(talents[i])  # replace with itself: remove + add
    g.ppr("n1", ["t1"])  # re-assembling the CSR compacts the dead rows
    assert len(g._names) == g.to_networkx().number_of_nodes()
    assert_same_graph(g, TalentGraph.build(talents=talents, needs=needs))
    g.remove_talent("t3")  # the edge index follows the new numbering
    assert sorted(g.neighbours("skill:s3")) == sorted(g.to_networkx().adj["skill:s3"]) != []


@pytest.mark.parametrize("slack", [0, 1 << 30], ids=["indexed", "scanned"])
def test_changes_answered_from_the_edge_index_equal_a_rebuild(monkeypatch, slack):
    """A change asks for neighbours and edges while the CSR is stale, from the edge index (``_EdgeIndex``) and a
    scan of the edges appended since: re-indexed often (slack 0) or every edge scanned (an index of no edges),
    replacements, removals and hires leave the graph a rebuild makes, neighbour by neighbour."""
    monkeypatch.setattr(graph_module, "INDEX_SLACK", slack)
    rng = np.random.default_rng(5)
    skills, codes, places = ["Verilog", "CRISPR", "Rust", "rare"], ["F040101", "F040102", "C050101"], ["DE", "FR", "CN"]

    def random_talent(i: int) -> Talent:
        return talent(f"t{i}", skills=list(rng.choice(skills, rng.integers(0, 3), replace=False)),
                      disciplines=list(rng.choice(codes, rng.integers(0, 2), replace=False)),
                      residence=Residence(country=str(rng.choice(places))),
                      incubator_id=f"i{i % 3}" if i % 2 else None)  # fmt: skip

    world = city_world()
    world["talents"] = [random_talent(i) for i in range(40)]
    g = TalentGraph.build(**world)
    g.neighbours("talent:t1")  # index the build's edges
    current, hires = {t.id: t for t in world["talents"]}, []
    for step in range(60):
        i = int(rng.integers(0, 50))
        if step % 3 == 2 and f"t{i}" in current:
            g.remove_talent(f"t{i}")
            del current[f"t{i}"]
        else:
            current[f"t{i}"] = random_talent(i)
            g.add_talent(current[f"t{i}"])
        if step % 7 == 0:
            hires.append(hire("n1", f"t{i}"))
            g.add_feedback(hires[-1:])
    g.remove_need("n1")  # its hires' edges to e1 die with it, their ends stay
    rebuilt = TalentGraph.build(**{**without(world, "needs", "n1"), "talents": list(current.values()),
                                   "feedback": world["feedback"] + hires})  # fmt: skip
    assert snapshot(g) == snapshot(rebuilt)
    arrays = g.to_networkx()  # from the edge arrays, not the index
    for node in arrays:
        assert sorted(g.neighbours(node)) == sorted(rebuilt.neighbours(node)) == sorted(arrays.adj[node]), node
        assert all(g.has_edge(node, v) and g.has_edge(v, node) for v in g.neighbours(node))
        for kind in (NodeType.talent, NodeType.skill, NodeType.enterprise):
            assert g.first_neighbour(node, kind) == next(iter(g.neighbours(node, kind)), None)
        for kind in NodeType:  # the readers' form, from the CSR row
            assert sorted(g.linked(node, kind)) == sorted(g.neighbours(node, kind)), (node, kind)
    assert g.linked("talent:nope", NodeType.skill) == []
    assert not g.has_edge("talent:t1", "need:n2") and not g.has_edge("talent:nope", "need:n2")
    assert g.neighbours("talent:nope") == [] and g.neighbours("need:n2", NodeType.talent) == []


def test_vocabulary_of_many_removed_talents_is_pruned_through_the_index_s_dead_edges(monkeypatch):
    """A discipline 20 talents linked to (its first indexed edges dead one by one) goes with the last of them, and
    its parent chain with it, while a skill one of them keeps stays: the index's windows never count dead edges."""
    talents = [talent(f"t{i}", disciplines=["C050101"], skills=["kept"] if i == 0 else []) for i in range(20)]
    g = TalentGraph.build(talents=[*talents, talent("other", skills=["kept"])])
    monkeypatch.setattr(graph_module, "INDEX_SLACK", 0)
    g.neighbours("discipline:C050101")  # index every edge
    assert g._index.size == len(g._eu)
    monkeypatch.setattr(graph_module, "INDEX_SLACK", 1 << 30)  # no re-index: the dead edges stay in the windows
    for t in talents[:-1]:
        g.remove_talent(t.id)
        assert "discipline:C050101" in g and "discipline:C05" in g
    g.remove_talent(talents[-1].id)
    assert not any(f"discipline:{c}" in g for c in ("C050101", "C0501", "C05")) and "skill:kept" in g


# ------------------------------------------------------------------ graph numbers


def incubator_world() -> dict[str, list]:
    """Three talents identical but for their incubator: ta's focuses on the need's industry, tb's does not, tc has
    none."""
    return {
        "incubators": [
            Incubator(id="chips", name="Chips", focus_industries=["semiconductors"]),
            Incubator(id="bio", name="Bio", focus_industries=["life_health"]),
        ],
        "needs": [Need(id="n1", title="IC design", industry="semiconductors", required_skills=["verilog"])],
        "talents": [
            talent("ta", skills=["verilog"], incubator_id="chips"),
            talent("tb", skills=["verilog"], incubator_id="bio"),
            talent("tc", skills=["verilog"]),
        ],
    }


def test_ppr_mass_flows_through_the_incubator_focused_on_the_need_industry():
    g = TalentGraph.build(**incubator_world())
    ppr = g.ppr("n1", ["ta", "tb", "tc", "nobody"])
    assert ppr.dtype == np.float32
    assert ppr[0] > ppr[1] and ppr[0] > ppr[2] > 0  # ta and tb differ only in their incubator's focus
    assert ppr[3] == 0.0
    ids, scores = g.ppr_top("n1", 2)
    assert ids[0] == "ta" and len(ids) == 2 and scores[0] == pytest.approx(ppr[0])
    assert g.incubator_route("n1", ["ta", "tb", "tc", "nobody"]).tolist() == [1.0, 0.0, 0.0, 0.0]


def test_ppr_top_is_kept_per_graph_version_and_handed_out_as_copies():
    g = TalentGraph.build(**incubator_world())
    ids, scores = g.ppr_top("n1", 2)
    assert ("ppr_top", "n1", 2) in g._memo
    ids.append("x")
    scores[:] = -1  # a caller's changes stay its own
    again = g.ppr_top("n1", 2)
    assert again[0] == ids[:2] == ["ta", again[0][1]] and (again[1] > 0).all()
    fresh = TalentGraph.build(**incubator_world())
    assert fresh.ppr_top("n1", 2)[0] == again[0]
    np.testing.assert_array_equal(fresh.ppr_top("n1", 2)[1], again[1])
    g.add_talent(talent("td", skills=["verilog"], incubator_id="chips"))  # a new version: computed afresh
    assert "td" in g.ppr_top("n1", 2)[0]


def test_ppr_is_a_probability_vector_and_matches_a_dense_solve():
    g = TalentGraph.build(**city_world())
    csr = g._csr()
    a = (csr.adj.toarray() > 0).astype(np.float64)  # the pattern is the adjacency
    walk = a / np.maximum(a.sum(axis=0), 1)[None, :]
    np.testing.assert_allclose(csr.adj.toarray(), walk, rtol=1e-6)  # its values the walk
    seed = np.zeros(len(a))
    seed[csr.pos[g._number["need:n1"]]] = 1.0
    exact = np.linalg.solve(np.eye(len(a)) - 0.85 * walk, 0.15 * seed)
    x = g.ppr_vector("n1", iters=200, tol=0)
    np.testing.assert_allclose(x, exact, atol=1e-6)
    assert x.sum() == pytest.approx(1.0, abs=1e-5)
    ids = ["t1", "t2", "t3"]
    np.testing.assert_allclose(
        g.ppr("n1", ids, iters=200, tol=0), exact[csr.pos[[g._number[f"talent:{i}"] for i in ids]]], atol=1e-6
    )


def test_ppr_with_its_defaults_matches_networkx_pagerank():
    """The defaults a ranking uses (not a 200-step budget) agree with networkx to 1e-4 relative on every node,
    restarting at the need alone and at the need and its enterprise (a seed on the concept side of the split)."""
    g = TalentGraph.build(**city_world())
    csr = g._csr()
    G = nx.from_scipy_sparse_array((csr.adj > 0).astype(np.float32))  # the adjacency (its values are the walk)
    need, enterprise = csr.pos[g._number["need:n1"]], csr.pos[g._number["enterprise:e1"]]
    for seeds, with_enterprise in (({need: 1.0}, False), ({need: 0.5, enterprise: 0.5}, True)):
        want = nx.pagerank(G, alpha=1 - PPR_ALPHA, personalization=seeds, tol=1e-12, max_iter=1000)
        got = g.ppr_vector("n1", with_enterprise=with_enterprise)
        np.testing.assert_allclose(got, [want[i] for i in range(len(got))], rtol=1e-4, atol=1e-7)


class _Counted(sp.csr_array):
    """A real CSR matrix that counts the products taken with it (the solver's whole-graph work)."""

    products = 0

    def __matmul__(self, other):
        _Counted.products += 1
        return super().__matmul__(other)


def _bipartite_walks(records: int, concepts: int, links: int, seed: int) -> tuple[int, tuple, np.ndarray]:
    """Rows ``[:records]`` each linked to ``links`` concepts drawn with a skewed popularity (hub concepts, as
    skills are), plus a few concept–concept edges and an isolated record: the split, W's two row blocks, A."""
    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, concepts + 1)
    u = np.repeat(np.arange(records - 1), links)
    v = records + rng.choice(concepts, len(u), p=popularity / popularity.sum())
    u = np.concatenate([u, records + rng.integers(0, concepts, 20)])
    v = np.concatenate([v, records + rng.integers(0, concepts, 20)])
    keep = u != v
    n = records + concepts
    adj = sp.csr_array((np.ones(2 * keep.sum(), np.float32), (np.r_[u[keep], v[keep]], np.r_[v[keep], u[keep]])),
                       shape=(n, n))  # fmt: skip
    adj.data[:] = 1.0  # duplicate draws count once
    degree = np.diff(adj.indptr).astype(np.float32)
    walk = (adj * np.divide(1.0, degree, out=np.zeros_like(degree), where=degree > 0)[None, :]).tocsr()
    blocks = tuple(_Counted(b) for b in (walk[:records], walk[records:]))
    return records, blocks, adj.toarray() if n <= 3000 else adj


def test_ppr_cg_matches_a_dense_solve_on_hubs_isolated_nodes_and_mixed_seeds():
    split, walks, a = _bipartite_walks(1500, 300, 4, seed=3)
    n = a.shape[0]
    walk = a / np.maximum(a.sum(axis=0), 1)[None, :]
    for seeds in ([0], [split - 1], [split + 5], [7, split + 2]):  # a record, the isolated one, a concept, both
        restart = np.zeros(n, np.float32)
        restart[seeds] = PPR_ALPHA / len(seeds)
        exact = np.linalg.solve(np.eye(n) - (1 - PPR_ALPHA) * walk, restart.astype(np.float64))
        got = solve_ppr(restart, split, walks, PPR_ALPHA, PPR_STEPS, PPR_RTOL)
        np.testing.assert_allclose(got, exact, atol=1e-6)
        assert got.sum() == pytest.approx(exact.sum(), abs=1e-4)  # 1, or alpha where the walk is stuck
    lone = np.zeros(n, np.float32)
    lone[split - 1] = PPR_ALPHA  # no edges: the walk stays, the vector is the restart
    np.testing.assert_array_equal(solve_ppr(lone, split, walks, PPR_ALPHA, PPR_STEPS, PPR_RTOL), lone)


def test_ppr_cg_steps_do_not_grow_with_the_graph():
    """CG's error shrinks by a factor fixed by alpha (κ ≤ 1 / (1 - 0.85²)), not by the graph's size: 2k and 60k
    records take the same few products to the tolerance, far fewer than the 30 half-sweeps of Gauss–Seidel."""
    steps = []
    for records in (2_000, 60_000):
        split, walks, _ = _bipartite_walks(records, records // 10, 6, seed=5)
        restart = np.zeros(records + records // 10, np.float32)
        restart[1] = PPR_ALPHA
        _Counted.products = 0
        solve_ppr(restart, split, walks, PPR_ALPHA, 50, PPR_RTOL)
        steps.append(_Counted.products)
    assert steps[1] <= steps[0] + 2 and steps[1] <= 2 * 9 + 2  # two products a step, one each before and after


def test_ppr_restart_at_the_enterprise_favours_its_hires():
    g = TalentGraph.build(**city_world())
    plain = g.ppr("n1", ["t2"])[0]
    assert g.ppr("n1", ["t2"], with_enterprise=True)[0] > plain


def test_common_neighbours_and_adamic_adar_by_hand():
    g = TalentGraph.build(
        needs=[Need(id="n", title="ML", required_skills=["Python", "ML"], disciplines=["F020101"])],
        talents=[
            talent("t1", skills=["python"], disciplines=["F020101"]),
            talent("t2", skills=["ml"], disciplines=["F020102"]),
            talent("t3", skills=["java"], disciplines=["A010101"]),
        ],
    )
    # concept sets: n {python, ml, F020101, F0201}; t1 {python, F020101, F0201}; t2 {ml, F020102, F0201};
    # t3 {java, A010101, A0101}. How many owners hold each: python 2, ml 2, F020101 2, F0201 3.
    ids = ["t1", "t2", "t3", "ghost"]
    assert g.common_neighbours("n", ids).tolist() == [3.0, 2.0, 0.0, 0.0]
    ln2, ln3 = math.log(2), math.log(3)
    np.testing.assert_allclose(g.adamic_adar("n", ids), [2 / ln2 + 1 / ln3, 1 / ln2 + 1 / ln3, 0, 0], rtol=1e-6)


def test_a_code_and_its_parent_count_once_each():
    g = TalentGraph.build(
        needs=[Need(id="n", title="x", disciplines=["F0201"])],  # concepts {F0201, F02}
        talents=[talent("t", disciplines=["F0201", "F020101", "F020102"])],  # {F0201, F020101, F020102, F02}
    )
    assert g.common_neighbours("n", ["t"]).tolist() == [2.0]


def route_world() -> dict[str, list]:
    """e1 on p1; t1 hired at e1 (1 hop); t2 shares an institution with t1 (3); t3 shares a skill with t2 only (5);
    t6 shares a skill with n2 of e2, also on p1 (4 via the platform, 5 via e1); t4 is on its own."""
    return {
        "platforms": [Platform(id="p1", name="P1")],
        "enterprises": [
            Enterprise(id="e1", name="E1", platform_id="p1"),
            Enterprise(id="e2", name="E2", platform_id="p1"),
        ],
        "needs": [
            Need(id="n1", title="x", enterprise_id="e1"),
            Need(id="n2", title="y", enterprise_id="e2", required_skills=["rust"]),
            Need(id="n3", title="no enterprise"),
        ],
        "talents": [
            talent("t1", employer="Lab"),
            talent("t2", employer="Lab", skills=["go"]),
            talent("t3", skills=["go"]),
            talent("t4", skills=["cobol"]),
            talent("t6", skills=["rust"]),
        ],
        "feedback": [hire("n1", "t1")],
    }


def test_route_length_exact_on_a_chain():
    g = TalentGraph.build(**route_world())
    ids = ["t1", "t2", "t3", "t4", "t6", "ghost"]
    unreachable = ROUTE_CAP + 1
    assert g.route_length("n1", ids).tolist() == [1, 3, 5, unreachable, 4, unreachable]
    assert g.route_length("n1", ids, cap=2).tolist() == [1, 3, 3, 3, 3, 3]
    assert g.route_length("n3", ids).tolist() == [unreachable] * 6


def test_features_names_shapes_and_empty_candidates():
    g = TalentGraph.build(**city_world())
    out = g.features("n1", ["t1", "t2", "ghost"])
    assert tuple(out) == FEATURE_NAMES
    assert all(v.dtype == np.float32 and v.shape == (3,) for v in out.values())
    assert out["graph_incubator_route"].tolist() == [1.0, 0.0, 0.0]
    assert out["graph_route_length"][2] == ROUTE_CAP + 1
    empty = g.features("n1", [])
    assert all(v.shape == (0,) for v in empty.values())
    assert g.ppr_top("n1", 0) == ([], pytest.approx(np.zeros(0)))


def test_incubator_route_by_focus_discipline_along_the_tree():
    g = TalentGraph.build(**city_world())
    # i2 focuses on C05; a need in C050101 (a descendant) matches it, one in F04 does not
    g.add_need(Need(id="n-bio", title="gene editing", disciplines=["C050101"]))
    assert g.incubator_route("n-bio", ["t1", "t3"]).tolist() == [0.0, 1.0]
    assert g.incubator_route("n1", ["t1", "t3"]).tolist() == [1.0, 0.0]


# ------------------------------------------------------------------ export and errors


def test_graphml_export_reads_back(tmp_path):
    g = TalentGraph.build(**city_world())
    path = g.to_graphml(tmp_path / "graph.graphml")
    back = nx.read_graphml(path)
    assert set(back.nodes) == set(g.to_networkx().nodes)
    assert {frozenset(e) for e in back.edges} == {frozenset(e) for e in g.to_networkx().edges}
    assert back.nodes["need:n1"]["label"] == "芯片设计"
    assert back.nodes["discipline:F0401"]["level"] == 2
    assert back.nodes["enterprise:e-missing"]["stub"] is True
    assert back.edges["talent:t1", "institution:tu münchen"]["role"] == "education+employer"
    assert [p.name for p in tmp_path.iterdir()] == ["graph.graphml"]  # no temporary left behind


def test_errors_name_the_problem():
    g = TalentGraph.build(**city_world())
    with pytest.raises(LookupError, match=r"need 'nope' is not in the graph; add it with TalentGraph\.add_need"):
        g.ppr("nope", ["t1"])
    for fn in (g.common_neighbours, g.adamic_adar, g.route_length, g.incubator_route, g.features):
        with pytest.raises(LookupError, match="need 'nope'"):
            fn("nope", ["t1"])
    with pytest.raises(LookupError, match="talent 'nope' is not in the graph"):
        g.remove_talent("nope")
    with pytest.raises(LookupError, match="need 'nope' is not in the graph"):
        g.remove_need("nope")
    with pytest.raises(ValueError, match=r"talent id\(s\) t1 appear more than once .* TalentGraph\.add_talents"):
        g.add_talents([talent("t1"), talent("t1")])
    with pytest.raises(ValueError, match=r"need id\(s\) n1 appear more than once"):
        TalentGraph.build(needs=[Need(id="n1", title="a"), Need(id="n1", title="b")])


def test_ppr_to_a_talent_equals_each_need_s_ppr_on_it_and_the_neighbour_gather_the_scipy_form():
    """The reverse PPR (one solve from the talent, scaled by degrees) gives every need's ``ppr_vector`` mass on the
    talent, to the solver's tolerance; an isolated talent keeps its restart mass alone; the BFS's row gather is
    ``adj[rows].indices``; after a write too."""
    g = TalentGraph.build(**city_world())
    g.add_talent(talent("t-alone"))
    for _ in range(2):
        csr = g._csr()
        exact, default = g.ppr_to("t1", iters=200, tol=0), g.ppr_to("t1")
        t = csr.pos[g._number["talent:t1"]]
        for need in ("n1", "n2"):
            row, want = csr.pos[g._number[f"need:{need}"]], g.ppr_vector(need, iters=200, tol=0)[t]
            assert exact[row] == pytest.approx(want, rel=1e-5, abs=1e-8)
            assert default[row] == pytest.approx(want, rel=2e-3, abs=1e-7)
        alone = g.ppr_to("t-alone")
        assert alone[csr.pos[g._number["talent:t-alone"]]] == pytest.approx(PPR_ALPHA) and alone.sum() == alone.max()
        for rows in ([], [0], [3, 1, 3], list(range(csr.adj.shape[0]))[::-1]):
            np.testing.assert_array_equal(_neighbours(csr.adj, np.array(rows, np.int64)), csr.adj[rows].indices)
        g.add_talent(talent("t-new", skills=["Verilog", "rare skill"], disciplines=["F040101"]))


def test_talents_linked_in_chunks_give_the_same_graph_and_numbers(monkeypatch):
    from features import graph

    world = city_world()
    whole = TalentGraph.build(**world)
    monkeypatch.setattr(graph, "ATTACH_CHUNK", 1)
    chunked = TalentGraph.build(**world)
    assert_same_graph(whole, chunked)
    np.testing.assert_array_equal(whole._csr().adj.toarray(), chunked._csr().adj.toarray())  # same CSR row order
    shapes = [{tuple(sorted(d.items())) for d in g._shapes} for g in (whole, chunked)]
    assert shapes[0] == shapes[1] and len(whole._shapes) < 40  # attribute dicts shared, not one per node or edge


def test_the_memo_is_bounded_by_bytes_least_recently_used_out_with_the_same_values(monkeypatch):
    """At 1M talents a need's PPR alone is 4 MB: the memo holds ``MEMO_BYTES``, however many entries that is."""
    world = city_world()
    world["needs"] += [world["needs"][0].model_copy(update={"id": f"m{i}"}) for i in range(6)]
    needs = [n.id for n in world["needs"]]
    g = TalentGraph.build(**world)
    ids = sorted(n.partition(":")[2] for n, d in g.to_networkx().nodes(data=True) if d["type"] == "talent")
    want = {n: g.features(n, ids) for n in needs}  # the default bound holds all of them
    nbytes = graph_module._nbytes
    per_need = sum(nbytes(v) for k, v in g._memo.items() if k[1:2] == ("m0",))
    assert per_need and {k[1] for k in g._memo if isinstance(k[1], str)} == set(needs)  # routes: per enterprise

    monkeypatch.setattr(graph_module, "MEMO_BYTES", int(2.5 * per_need))  # two or three needs' worth
    bounded = TalentGraph.build(**world)
    for n in needs:
        got = bounded.features(n, ids)
        assert all(np.array_equal(got[name], want[n][name]) for name in FEATURE_NAMES)
        assert bounded._memo_bytes == sum(map(nbytes, bounded._memo.values())) <= graph_module.MEMO_BYTES
    held = [n for n in needs if ("ppr", n, PPR_ALPHA, PPR_STEPS, PPR_RTOL, False) in bounded._memo]
    assert 2 <= len(held) < len(needs) and held == needs[-len(held) :]  # the least recently used went first
    assert all(np.array_equal(bounded.features(needs[0], ids)[name], want[needs[0]][name]) for name in FEATURE_NAMES)


def test_whole_graph_results_are_kept_per_version_outside_the_per_need_bound(monkeypatch):
    """Whole-graph results are sized by the graph, not the need: bounded with the per-need results they would be
    dropped by the next need's PPR and rebuilt by every ranking (every row's concepts, once kept there, were ~120 MB
    at 1M talents). They stay for the graph's version, and go with it."""
    monkeypatch.setattr(graph_module, "MEMO_BYTES", 1)  # room for no per-need result beside the newest
    world = city_world()
    g = TalentGraph.build(**world)
    ids = sorted(n.partition(":")[2] for n, d in g.to_networkx().nodes(data=True) if d["type"] == "talent")
    needs = [n.id for n in world["needs"]]
    g.features(needs[0], ids)
    kept = {key: g._per_version(key, lambda: None) for key in ("closure", "children")}
    assert all(v is not None for v in kept.values())
    for n in needs[1:] + needs[:1]:
        g.features(n, ids)
        assert len(g._memo) == 1  # the per-need bound holds
    assert all(g._per_version(key, lambda: None) is value for key, value in kept.items())  # never rebuilt
    g.add_need(world["needs"][0].model_copy(update={"id": "fresh"}))  # a new version
    assert g._per_version("children", lambda: "rebuilt") == "rebuilt"


def test_an_enterprises_needs_share_one_route_search():
    world = city_world()
    g = TalentGraph.build(**world)
    ids = sorted(n.partition(":")[2] for n, d in g.to_networkx().nodes(data=True) if d["type"] == "talent")
    g.add_need(world["needs"][0].model_copy(update={"id": "n1-bis", "required_skills": ["CRISPR"]}))
    first = g.route_length("n1", ids)
    np.testing.assert_array_equal(g.route_length("n1-bis", ids), first)
    assert (first < ROUTE_CAP + 1).any()
    assert sum(key[0] == "route" for key in g._memo) == 1  # one BFS for both needs of e1


def _skill_world(talents: int, seed: int) -> dict[str, list]:
    """Talents with two to four of 40 skills (popular ones more often), needs at five enterprises on two platforms."""
    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, 41)
    draw = lambda k: [f"s{i}" for i in rng.choice(40, k, replace=False, p=popularity / popularity.sum())]  # noqa: E731
    return {
        "platforms": [Platform(id=f"p{i}", name=f"P{i}") for i in range(2)],
        "enterprises": [Enterprise(id=f"e{i}", name=f"E{i}", platform_id=f"p{i % 2}") for i in range(5)],
        "needs": [Need(id=f"n{i}", title="x", enterprise_id=f"e{i % 5}", required_skills=draw(3)) for i in range(12)],
        "talents": [talent(f"t{i}", skills=draw(int(rng.integers(2, 5)))) for i in range(talents)],
    }


def _incubator_world(talents: int, seed: int) -> dict[str, list]:
    """``_skill_world`` with two incubators (a seventh of the talents linked to one) and needs in their industries."""
    world = _skill_world(talents, seed)
    world["incubators"] = [
        Incubator(id="i0", name="Haina Munich", country="DE", city="Munich", focus_industries=["semiconductors"]),
        Incubator(id="i1", name="Haina Boston", country="US", city="Boston", focus_industries=["software"]),
    ]
    industries = ("semiconductors", "software", None)
    world["needs"] = [Need.model_validate({**n.model_dump(), "industry": industries[i % 3]})
                      for i, n in enumerate(world["needs"])]  # fmt: skip
    world["talents"] = [t.model_copy(update={"incubator_id": f"i{i % 2}"}) if i % 7 == 0 else t
                        for i, t in enumerate(world["talents"])]  # fmt: skip
    return world


def test_a_need_keeps_its_results_on_the_concept_side_and_reads_them_the_same_at_every_row():
    """Record rows (talents, needs, platforms) link only to the concept side, so a need keeps its PPR and routes for
    the concept rows alone and makes a record row's from its neighbours there: equal, bit for bit, to the passes
    over the whole graph (the solve's whole vector, a BFS over every row), at every row of the graph."""
    world = _incubator_world(1_500, seed=2)
    g = TalentGraph.build(**world)
    csr = g._csr()
    every = np.arange(csr.adj.shape[0])
    ids = [t.id for t in world["talents"]] + ["nobody"]
    rows = g._rows(ids)
    reached = linked_any = 0
    for need in world["needs"]:
        restart = g._restart(need.id, PPR_ALPHA, False)
        whole = solve_ppr(restart, csr.split, g._walks(), PPR_ALPHA, PPR_STEPS, PPR_RTOL)
        np.testing.assert_array_equal(g._ppr_at(need.id, every), whole)  # the need's own row holds its restart
        np.testing.assert_array_equal(g.ppr(need.id, ids), np.where(rows >= 0, whole[rows], 0))
        np.testing.assert_array_equal(g.ppr_vector(need.id), whole)
        starts = np.array([g._row_of(v) for v in g.route_targets(need)], dtype=np.int64)  # enterprise and platform
        for cap in (2, ROUTE_CAP, 200):
            hops = g._hops(starts, cap)
            np.testing.assert_array_equal(g._routes_at(need.id, every, cap), hops)
            np.testing.assert_array_equal(
                g.route_length(need.id, ids, cap=cap), np.where(rows >= 0, hops[rows], cap + 1)
            )
        reached += int((g.route_length(need.id, ids) < ROUTE_CAP + 1).sum())
        linked = {v for inc in g.matching_incubators(need) for v in g.linked(inc, NodeType.talent)}
        want = np.array([f"talent:{t}" in linked for t in ids], dtype=np.float32)
        np.testing.assert_array_equal(g.incubator_route(need.id, ids), want)
        linked_any += int(want.sum())
    assert reached and linked_any  # not vacuous: routes and incubator links were there to read


def test_a_needs_memoised_results_are_sized_by_the_vocabulary_not_by_the_pool():
    """At 1M talents a need's PPR over every node was 4 MB and its routes 1 MB, so the memo's 64 MiB held eight
    needs. On the concept side they are the same size for 1,500 talents and for 6,000 sharing one vocabulary."""
    nbytes, sizes = graph_module._nbytes, []
    for talents in (1_500, 6_000):
        g = TalentGraph.build(**_incubator_world(talents, seed=3))
        csr = g._csr()
        g.features("n0", [f"t{i}" for i in range(talents)])
        kept = {key[0]: value for key, value in g._memo.items()}
        block, record_targets = kept["route"]
        assert kept["ppr"].dtype == np.float32 and len(kept["ppr"]) == len(block) == csr.adj.shape[0] - csr.split
        assert block.dtype == np.int8 and len(record_targets) == 1  # the need's enterprise's platform
        sizes.append((nbytes(kept["ppr"]), nbytes(kept["route"])))
        g.route_length("n0", ["t1"], cap=200)  # a cap past int8 keeps float32 hops
        assert any(v[0].dtype == np.float32 for key, v in g._memo.items() if key[0] == "route")
    assert sizes[0] == sizes[1]


def test_ppr_after_a_write_starts_from_the_need_s_last_vector(monkeypatch):
    """A write moves a need's PPR little: the next solve starts from the vector of the version before (the
    memo keeps it, in its bound) and reaches the same tolerance in fewer products."""
    calls = []

    def counted(restart, split, walks, *args, start=None, whole=True):
        _Counted.products = 0
        out = solve_ppr(restart, split, tuple(_Counted(w) for w in walks), *args, start=start, whole=whole)
        calls.append((start is not None, _Counted.products))
        return out

    monkeypatch.setattr(graph_module, "solve_ppr", counted)
    world = _skill_world(1_500, seed=1)
    g = TalentGraph.build(**world)
    ids = [t.id for t in world["talents"]]
    before = g.ppr("n0", ids)
    for i in (3, 70, 500):  # three talents take other skills
        g.add_talent(talent(f"t{i}", skills=["s1", "s39"]))
    g.settle()  # as a writer does: the new version's adjacency, the old vectors kept as warm starts
    assert ("ppr-warm", "n0", PPR_ALPHA, PPR_STEPS, PPR_RTOL, False) in g._memo
    assert g._memo_bytes == sum(map(graph_module._nbytes, g._memo.values()))
    warm = g.ppr("n0", ids)
    (cold_start, cold_products), (warm_start, warm_products) = calls
    assert not cold_start and warm_start and warm_products < cold_products
    exact = g.ppr("n0", ids, iters=500, tol=1e-9)  # a key of its own: solved from zero
    np.testing.assert_allclose(warm, exact, atol=1e-4 * exact.max())
    assert np.abs(before - exact).max() > 1e-3 * exact.max()  # the writes did move it


def test_ppr_after_compaction_solves_from_zero_with_the_same_values(monkeypatch):
    """Compaction renumbers nodes, so a kept vector would sit on the wrong rows: it is dropped."""
    starts = []
    real = graph_module.solve_ppr
    monkeypatch.setattr(
        graph_module, "solve_ppr", lambda *a, start=None, **kw: starts.append(start) or real(*a, start=start, **kw)
    )
    talents = [talent(f"t{i}", skills=[f"s{i % 50}", "common"]) for i in range(1_100)]
    needs = [Need(id="n1", title="x", required_skills=["s3", "common"], enterprise_id="e1")]
    g = TalentGraph.build(talents=talents, needs=needs)
    g.ppr("n1", ["t1"])
    g.add_talent(talents[7])
    g.ppr("n1", ["t1"])
    epoch = g.epoch
    for i in range(600):
        g.add_talent(talents[i])  # replace with itself: the next version compacts
    got = g.ppr("n1", [t.id for t in talents])
    assert g.epoch == epoch + 1 and [s is not None for s in starts] == [False, True, False]
    want = TalentGraph.build(talents=talents, needs=needs).ppr("n1", [t.id for t in talents])
    np.testing.assert_allclose(got, want, atol=1e-6 * want.max())


def test_route_lengths_equal_a_breadth_first_search_whichever_side_each_step_reads():
    """The BFS reads the frontier's edges, or the unvisited rows' once the frontier is the larger side (here from
    the third hop: the talents); both give networkx's hop counts."""
    world = _skill_world(800, seed=2)
    g = TalentGraph.build(**world)
    ids = [t.id for t in world["talents"]] + ["ghost"]
    nxg = g.to_networkx()
    for need in world["needs"][:5]:
        targets = g.route_targets(need)
        hops = nx.multi_source_dijkstra_path_length(nxg, targets, cutoff=ROUTE_CAP)
        want = [hops.get(f"talent:{i}", ROUTE_CAP + 1) for i in ids]
        assert g.route_length(need.id, ids).tolist() == want
        assert set(want) >= {3, 5}  # near and far talents both
    g.remove_talent("t5")  # a change, and a talent reached from it
    assert g.route_length("n0", ["t5"]).tolist() == [ROUTE_CAP + 1]


def test_routes_after_a_write_are_kept_where_they_still_hold_and_searched_anew_where_a_route_changed(monkeypatch):
    """A write keeps each enterprise's route hops from the version before, checked at the nodes it touched: a talent
    whose concepts lie within two hops of each other opens no shorter route and is read without a search; a hire
    (a talent now one hop from the enterprise) or the loss of the only talent linking a skill changes routes, and
    those enterprises search anew. Either way every row's hops equal a fresh BFS."""
    searches = []
    bfs = TalentGraph._hops
    monkeypatch.setattr(TalentGraph, "_hops", lambda g, start, cap: searches.append(cap) or bfs(g, start, cap))
    world = _skill_world(1_500, seed=4)
    g = TalentGraph.build(**world)
    needs = world["needs"][:5]  # one need at each of the five enterprises

    def read() -> tuple[int, dict[str, np.ndarray]]:
        """Searches made for the five enterprises' routes, and their hops at every row checked against a BFS."""
        del searches[:]
        every = np.arange(g._csr().adj.shape[0])
        hops = {n.id: g._routes_at(n.id, every, ROUTE_CAP) for n in needs}
        made = len(searches)
        for need in needs:
            starts = np.array([g._row_of(v) for v in g.route_targets(need)], dtype=np.int64)
            np.testing.assert_array_equal(hops[need.id], bfs(g, starts, ROUTE_CAP))
        return made, hops

    assert read()[0] == 5
    concept_hops = lambda need_id, nodes: read()[1][need_id][[g._row_of(v) for v in nodes]]  # noqa: E731
    near = [s for s in (f"s{i}" for i in range(40)) if f"skill:{s}" in g][:3]
    assert all(np.ptp(concept_hops(n.id, [f"skill:{s}" for s in near])) <= 2 for n in needs)
    g.add_talent(talent("new", skills=[*near, "brand-new skill"]))  # a new skill node too
    g.settle()
    assert any(key[0] == "route-warm" for key in g._memo)
    assert read()[0] == 0  # kept for all five: checked, not searched

    far = next(t for t in world["talents"] if g.route_length("n0", [t.id])[0] == 5)
    g.add_feedback([hire("n0", far.id)])  # the talent is now one hop from n0's enterprise
    g.settle()
    g.add_talent(talent("new2", skills=near[:2]))  # a version that alone would keep them: the changes add up
    g.settle()
    made, _ = read()
    assert 1 <= made < 5 and g.route_length("n0", [far.id])[0] == 1

    g.add_talent(talent("relay", skills=[near[0], "rare"]))  # the only way to "rare" and to "lonely"
    g.add_talent(talent("lonely", skills=["rare"]))
    g.add_talent(talent("unrelated", skills=near[1:]))
    assert read()[0] == 0 and g.route_length("n0", ["lonely"])[0] < ROUTE_CAP + 1
    g.remove_talent("relay")
    made, _ = read()
    assert made == 5 and g.route_length("n0", ["lonely"])[0] == ROUTE_CAP + 1

    monkeypatch.setattr(graph_module, "TOUCHED_LIMIT", 8)  # a bulk change: too many nodes to check
    g.add_talents([talent(f"bulk{i}", skills=near) for i in range(10)])
    assert read()[0] == 5


def test_preparing_needs_for_a_snapshot_stops_at_its_time_or_at_three_quarters_of_the_memo(monkeypatch):
    """``prepare_needs`` builds needs in the order given, and leaves the memo room for what serving reads; on two
    threads it builds the same results."""
    world = _skill_world(600, seed=5)
    ids = [n.id for n in world["needs"]]
    assert TalentGraph.build(**world).prepare_needs(ids, 0.0) == 0
    rebuilds, keep = [], TalentGraph._keep_warm_starts
    slow = lambda g, touched: rebuilds.append(1) or time.sleep(0.05) or keep(g, touched)  # noqa: E731
    monkeypatch.setattr(TalentGraph, "_keep_warm_starts", slow)
    both = TalentGraph.build(**world)
    assert both.prepare_needs(ids, 60.0, threads=2) == len(ids)
    assert len(rebuilds) == 1  # settled once before the threads, not by each of them (the second kept nothing)
    monkeypatch.setattr(TalentGraph, "_keep_warm_starts", keep)
    one = TalentGraph.build(**world)
    one.prepare(ids[0])
    monkeypatch.setattr(graph_module, "MEMO_BYTES", 4 * one._memo_bytes)
    done = one.prepare_needs(ids, 60.0, threads=1)
    assert 1 < done < len(ids) and one._memo_bytes <= graph_module.MEMO_BYTES
    assert [key[1] for key in one._memo if key[0] == "ppr"] == ids[:done]
    for key, value in one._memo.items():
        kept = both._memo[key]
        for a, b in zip(*(v if isinstance(v, tuple) else (v,) for v in (value, kept)), strict=True):
            np.testing.assert_array_equal(a, b)


def test_readers_of_a_changed_graph_at_once_rebuild_its_adjacency_once(monkeypatch):
    """Two rankings reading a graph no writer settled: one re-assembles the adjacency, the other waits for it (each
    rebuilding it, the second turned the first's PageRank into a warm start only)."""
    world = _skill_world(600, seed=5)
    a, b = (n.id for n in world["needs"][:2])
    alone = TalentGraph.build(**world)
    expected = {n: alone.ppr_top(n, 50) for n in (a, b)}
    rebuilds, keep = [], TalentGraph._keep_warm_starts
    slow = lambda g, touched: rebuilds.append(1) or time.sleep(0.05) or keep(g, touched)  # noqa: E731
    monkeypatch.setattr(TalentGraph, "_keep_warm_starts", slow)
    g = TalentGraph.build(**world)
    start = threading.Barrier(2)

    def read(need_id: str) -> tuple[list[str], np.ndarray]:
        start.wait()
        return g.ppr_top(need_id, 50)

    with ThreadPoolExecutor(2) as pool:
        got = dict(zip((a, b), pool.map(read, (a, b)), strict=True))
    assert len(rebuilds) == 1
    assert {key[:2] for key in g._memo if key[0] == "ppr"} == {("ppr", a), ("ppr", b)}
    for n in (a, b):
        assert got[n][0] == expected[n][0]
        np.testing.assert_array_equal(got[n][1], expected[n][1])


def test_the_walk_is_the_adjacency_s_values_and_its_blocks_are_views_through_a_pickle():
    """W = A D⁻¹ is stored once, as the adjacency's values; its two row blocks are views of them, in a process
    and after a snapshot's pickle (kept apart, each was another copy of the edges, ~124 MB at 1M talents)."""
    import pickle

    built = TalentGraph.build(**city_world())._csr()
    for csr in (built, pickle.loads(pickle.dumps(built, protocol=5))):
        top, bottom = csr.walks()
        assert all(np.shares_memory(block.data, csr.adj.data) for block in (top, bottom))
        assert all(np.shares_memory(block.indices, csr.adj.indices) for block in (top, bottom))
        np.testing.assert_array_equal(sp.vstack([top, bottom]).toarray(), csr.adj.toarray())
    assert not hasattr(csr, "walk_top")


def test_a_writer_s_settle_builds_what_every_reader_would():
    """After a change, ``settle`` (the writer, under its lock) builds the adjacency and the whole-graph results, so
    the first ranking or alert match after a write finds them."""
    world = city_world()
    g = TalentGraph.build(**world)
    g.add_talent(talent("tw", skills=["rust"]))
    g.settle()
    version = g._csr_cache.version
    assert version == g._version and {"walks", "closure", "children"} <= set(g._whole)
    g.common_neighbours(world["needs"][0].id, ["tw"])
    assert g._csr_cache.version == version


def test_readers_asking_for_one_need_at_once_share_one_solve_and_a_failed_one_is_retried(monkeypatch):
    """A ranking's helper thread and its retrievers (or two first rankings of one need) ask for the same PageRank
    at once: the second waits for the first's solve instead of running its own; if that solve fails, the waiter
    solves (and answers) itself."""
    import threading
    import time

    g = TalentGraph.build(**city_world())
    real, calls, release = graph_module.solve_ppr, [], threading.Event()

    def slow(*args, **kw):
        calls.append(threading.current_thread().name)
        release.wait(5)
        if len(calls) == 1 and fail:
            raise RuntimeError("the first solve failed")
        return real(*args, **kw)

    got: dict[str, object] = {}

    def ask(name):
        try:
            got[name] = g._ppr_block("n1", PPR_ALPHA, PPR_STEPS, PPR_RTOL, False)  # the memoised solve
        except RuntimeError as e:
            got[name] = e

    monkeypatch.setattr(graph_module, "solve_ppr", slow)
    for fail in (False, True):
        g._memo.clear()
        calls.clear()
        release.clear()
        got.clear()
        first = threading.Thread(target=ask, args=("first",), name="first")
        first.start()
        while not calls:
            time.sleep(0.01)
        second = threading.Thread(target=ask, args=("second",), name="second")
        second.start()
        time.sleep(0.2)
        assert calls == ["first"]  # the second reader waits for the solve under way
        release.set()
        first.join(5)
        second.join(5)
        assert not g._building
        if fail:
            assert isinstance(got["first"], RuntimeError) and calls == ["first", "second"]
            assert isinstance(got["second"], np.ndarray)
        else:
            assert got["first"] is got["second"] and calls == ["first"]
