"""The bilingual concept layer: a Chinese need and an English profile meet on the same taxonomy codes."""

from __future__ import annotations

import numpy as np
import pytest

from features.concepts import ConceptIndex, ConceptMatrix, ancestors, mapper, top_rows
from features.records import Need, Talent

NEED = Need(
    id="n-litho",
    title="招聘半导体光刻工艺专家",
    description="负责28nm产线光刻工艺开发，熟悉光刻胶、曝光与刻蚀工艺，有晶圆制造经验者优先。",
    required_skills=["光刻", "光刻胶", "刻蚀"],
    industry="semiconductors",
)

PROFILES = [
    Talent(id="e-ml", summary="Machine learning engineer: deep learning, computer vision and recommender systems."),
    Talent(
        id="e-litho",
        summary="Process engineer in a 300 mm wafer fab: photolithography, photoresist qualification and plasma "
        "etching for advanced nodes.",
        skills=["lithography", "etching"],
    ),
    Talent(id="e-pv", summary="Perovskite solar cells and silicon wafer texturing for photovoltaic modules."),
    Talent(id="e-bat", summary="Lithium-ion battery cathode materials and battery management systems."),
    Talent(id="e-chip", summary="Analog IC design engineer, RF integrated circuits and EDA flows."),
]


def test_chinese_need_meets_the_one_english_profile_that_fits() -> None:
    index = ConceptIndex.build(PROFILES)
    rows = index.rows([t.id for t in PROFILES])
    overlap = index.score(NEED, rows)["concept_overlap"]
    assert PROFILES[int(np.argmax(overlap))].id == "e-litho"
    assert overlap.max() > 2 * np.sort(overlap)[-2]  # a clear winner, not a tie broken by luck
    ids, scores = index.search(NEED, k=3)
    assert ids[0] == "e-litho" and scores[0] == pytest.approx(overlap.max())


def test_same_skill_id_in_both_languages() -> None:
    m = mapper()
    zh, en = m.concepts("钙钛矿太阳能电池与光刻"), m.concepts("perovskite solar cells and lithography")
    for concept in ("skill:perovskite_solar_cell", "skill:lithography"):
        assert zh[concept] == en[concept] == 1.0
    assert zh["skill:perovskite"] == 0.5  # broader skill at lower weight (longest match named the narrower one)
    assert "industry:photovoltaics" in zh


def test_word_boundaries_plurals_and_generic_names() -> None:
    m = mapper()
    assert "skill:gan" not in m.concepts("organic synthesis")  # "gan" inside a word is not GaN
    assert "skill:gan" in m.concepts("GaN HEMT devices")
    assert "skill:lithium_battery" in m.concepts("lithium ion batteries")  # plural of battery
    assert m.concepts("其他") == {} and m.concepts("other") == {}  # too generic to mean a concept


def test_discipline_ancestors_let_close_codes_meet() -> None:
    assert ancestors("F020101") == ["F0201", "F02"]
    talents = [
        Talent(id="same", name="a", disciplines=["F020101"]),
        Talent(id="sibling", name="b", disciplines=["F020102"]),
        Talent(id="far", name="c", disciplines=["A010101"]),
        Talent(id="none", name="d"),
    ]
    index = ConceptIndex.build(talents)
    need = Need(id="n", title="x", disciplines=["F020101"])
    m = index.score(need, index.rows(["same", "sibling", "far", "none", "unknown"]))["discipline_match"]
    assert m[0] == pytest.approx(1.0, abs=1e-5)
    assert 0 < m[1] < m[0]
    assert m[2] == m[3] == m[4] == 0


def test_structured_codes_share_the_text_space() -> None:
    cm = mapper()
    code_col = cm.column["discipline:F0201"]
    matrix = ConceptMatrix.build([Talent(id="a", name="a", disciplines=["F0201"]), "deep learning", ""])
    assert matrix.matrix.shape == (3, cm.n_columns)
    norms = np.sqrt(np.asarray(matrix.matrix.multiply(matrix.matrix).sum(axis=1)).ravel())
    np.testing.assert_allclose(norms, [1.0, 1.0, 0.0], atol=1e-5)
    assert matrix.matrix[0, code_col] > 0
    assert matrix.encode("深度学习")[0, cm.column["skill:deep_learning"]] > 0


def test_a_need_s_concepts_are_kept_by_its_content_and_match_the_direct_computation() -> None:
    cm = mapper()
    direct = cm.expand_dense(*cm.direct(NEED))
    first = cm.query_concepts(NEED)
    np.testing.assert_array_equal(first, direct)
    assert cm.query_concepts(NEED.model_copy()) is first  # the same content: kept
    assert not first.flags.writeable
    for changed in ({"title": "光伏组件"}, {"disciplines": ["F0201"]}, {"industry": "new_energy"}):
        other = Need.model_validate({**NEED.model_dump(), **changed})
        np.testing.assert_array_equal(cm.query_concepts(other), cm.expand_dense(*cm.direct(other)))
        assert not np.array_equal(cm.query_concepts(other), direct)
    index = ConceptIndex.build(PROFILES)
    q = np.log1p(direct) * index.idf
    np.testing.assert_array_equal(index.query_vector(NEED), q / np.linalg.norm(q))


def test_add_remove_and_compact() -> None:
    index = ConceptIndex.build(PROFILES)
    index.remove("e-litho")
    assert "e-litho" not in index.search(NEED, k=5)[0]
    assert index.rows(["e-litho"])[0] == -1
    with pytest.raises(KeyError, match="not in the concept index"):
        index.remove("e-litho")
    index.add(Talent(id="e-litho2", summary="EUV lithography and photoresist chemistry"))
    assert index.search(NEED, k=1)[0][0] == "e-litho2"
    index.compact()
    assert index.search(NEED, k=1)[0][0] == "e-litho2"
    assert len(index.ids) == len(PROFILES)
    with pytest.raises(ValueError, match="appears twice"):
        ConceptIndex.build([PROFILES[0], PROFILES[0]])
    with pytest.raises(ValueError, match="k must be a positive"):
        index.search(NEED, k=0)


def test_skill_list_errors_name_the_line() -> None:
    from features.concepts import _check_skill_terms

    good = {"id": "x", "zh": ["某"], "industry": "ai"}
    assert _check_skill_terms([(1, good)]) == [good]
    with pytest.raises(ValueError, match="line 1: every term needs a unique 'id'"):
        _check_skill_terms([(1, good), (2, good)])
    with pytest.raises(ValueError, match="line 1: unknown industry 'mining'"):
        _check_skill_terms([(1, {**good, "industry": "mining"})])
    with pytest.raises(ValueError, match=r"line 1: 'broader' names unknown term id\(s\) \['y'\]"):
        _check_skill_terms([(1, {**good, "broader": ["y"]})])
    with pytest.raises(ValueError, match="needs at least one 'zh' or 'en' name"):
        _check_skill_terms([(1, {"id": "z"})])


@pytest.mark.parametrize("n", [50, 5_000, 200_000])
def test_top_rows_are_the_k_best_live_positive_scores_ties_broken_by_row(n: int) -> None:
    """Against sorting every live positive row: scores drawn from few values (ties at every boundary, so which tied
    rows the partition kept would show), a tenth of the rows dead, some zero and negative; k below and above the
    number of positive rows."""
    rng = np.random.default_rng(n)
    scores = rng.choice(
        np.array([-1.0, 0.0, 0.25, 0.5, 0.75, 1.0, 2.0], np.float32), n, p=[0.05, 0.3, 0.3, 0.2, 0.1, 0.04, 0.01]
    )
    alive = rng.random(n) > 0.1
    for k in (1, 7, 400, n // 2, n + 3):
        live = np.flatnonzero(alive & (scores > 0))
        expected = live[np.lexsort((live, -scores[live]))][:k]
        rows, best = top_rows(scores, alive, k)
        np.testing.assert_array_equal(rows, expected)
        np.testing.assert_array_equal(best, scores[expected])
    assert len(top_rows(np.zeros(n, np.float32), alive, 10)[0]) == 0


def test_search_reads_the_concept_major_copy_and_scores_exactly_as_the_row_product() -> None:
    """A query reads only its concepts' columns; its scores must be the row product's bit for bit (the same float32
    additions in the same order), through appended rows, removals and an erasure, whose entries leave the copy."""
    from features.concepts import skill_terms

    rng = np.random.default_rng(3)
    terms = [t["en"][0] if i % 2 else t["zh"][0] for i, t in enumerate(skill_terms())]

    def talent(i: int) -> Talent:
        picked = rng.choice(terms, size=int(rng.integers(1, 12)), replace=False).tolist()
        return Talent(id=f"t{i}", summary=" and ".join(picked[1:]) or "expert", skills=picked[:1])

    needs = [Need(id=f"n{i}", title=" ".join(rng.choice(terms, size=4, replace=False))) for i in range(20)]
    index = ConceptIndex.build([talent(i) for i in range(600)])

    def check() -> None:
        for need in needs:
            q = index.query_vector(need)
            rows_product = index._concepts.csr() @ q
            np.testing.assert_array_equal(index._overlap_all(q), rows_product)
            for k in (1, 50, 700):  # remembered answers (``features._topk``), brought up to date: a new search's
                got, want = index.search_rows(need, k), top_rows(rows_product, index._alive.view, k)
                np.testing.assert_array_equal(got[0], want[0])
                np.testing.assert_array_equal(got[1], want[1])

    check()
    assert index._by_concept is not None and index._by_concept.nnz == index._concepts.csr().nnz
    index.add_many([talent(i) for i in range(600, 640)])  # appended: scored by rows
    index.add(talent(3))  # a new version of t3: its old row is a tombstone
    check()
    erased = int(index.rows(["t7"])[0])
    index.remove("t7")
    index.scrub("t7")
    assert erased not in index._by_concept.indices  # no entry left to say which concepts t7 had
    check()
    del index._by_concept  # as a snapshot pickled before the copy loads: the class default, read by rows
    assert index._by_concept is None
    check()
    assert len(index._memo) == 3 * len(needs)
    index.compact()  # IDF recomputed, rows renumbered: nothing remembered survives
    assert len(index._memo) == 0
    check()
