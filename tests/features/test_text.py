"""Bilingual tokenisation, BM25 over talents (profile and works) and needs, incremental updates, skill coverage."""

from __future__ import annotations

import numpy as np
import pytest

import features.concepts
import features.text
from features.concepts import ConceptIndex
from features.records import Need, Talent, Work
from features.table import han_share, script_overlap
from features.text import NeedIndex, SparseIndex, skill_coverage, tokenize, tokenize_many


def _t(tid: str, summary: str, skills: tuple[str, ...] = (), works: tuple[str, ...] = ()) -> Talent:
    return Talent(id=tid, summary=summary, skills=list(skills), works=[Work(title=w) for w in works])


FIVE = [
    _t("t1", "Researcher in perovskite photovoltaics and tandem solar cell passivation", ("solar cells",)),
    _t("t2", "Machine learning engineer building recommendation models for e-commerce", ("python",)),
    _t("t3", "从事锂电池正极材料研究，熟悉电化学表征", ("锂电池",)),
    _t("t4", "Process engineer for lithium battery production lines and quality control", ("quality control",)),
    _t("t5", "Mechanical design of industrial robots and motion control", ("robotics",)),
]


def test_tokenize_mixed_chinese_english() -> None:
    toks = tokenize("招聘半导体光刻工艺专家，熟悉光刻胶与刻蚀；GaN/SiC power devices, C++ and 5G in 2021")
    for expected in ("半导体", "光刻", "光刻胶", "刻蚀", "gan", "sic", "power", "devic", "c++", "5g"):
        assert expected in toks
    # Stopwords of both languages, bare numbers and punctuation are gone.
    for dropped in ("熟悉", "与", "and", "in", "2021", "，", "/"):
        assert dropped not in toks


def test_user_dictionary_keeps_taxonomy_terms_whole_and_in_pieces() -> None:
    toks = tokenize("钙钛矿太阳能电池")
    assert "钙钛矿太阳能电池" in toks  # the whole term, from the skill list's Chinese names
    assert {"钙钛矿", "太阳能"} <= set(toks)  # and its dictionary pieces, so a shorter query still meets it
    assert "半导体晶体材料" in tokenize("关于半导体晶体材料的生长")  # an NSFC name (F040101)


def test_bm25_rare_terms_rank_first() -> None:
    index = SparseIndex.build(FIVE)
    ids, scores = index.search("perovskite passivation", k=3)
    assert list(ids) == ["t1"]  # only t1 has either term; others score 0 and are not returned
    assert scores[0] > 0
    s = index.score("lithium battery", index.rows(["t3", "t4", "t2", "nobody"]))
    assert s["bm25_profile"][1] > 0 and s["bm25_profile"][2] == 0 and s["bm25_profile"][3] == 0
    assert s["bm25_profile"].dtype == np.float32
    # Chinese query on Chinese text.
    ids, _ = index.search("锂电池正极材料", k=1)
    assert list(ids) == ["t3"]


def test_best_work_beats_many_weak_works() -> None:
    strong = _t("strong", "researcher", works=("Perovskite solar cell passivation with lewis bases", "Soil", "Rivers"))
    weak = _t(
        "weak",
        "researcher",
        works=tuple(f"A survey of energy topics {i} including solar among many other things" for i in range(8)),
    )
    others = [_t(f"o{i}", "researcher", works=(f"Unrelated topic {i} on bridges and roads",)) for i in range(5)]
    index = SparseIndex.build([strong, weak, *others])
    s = index.score("perovskite solar cell passivation", index.rows(["strong", "weak", "o0"]))
    assert s["bm25_works_max"][0] > s["bm25_works_max"][1] > 0
    assert s["bm25_works_top3"][0] > 0
    assert s["bm25_works_max"][2] == 0


def _scores_by_id(index: SparseIndex, query: str, ids: list[str]) -> dict[str, np.ndarray]:
    return index.score(query, index.rows(ids))


def test_incremental_add_remove_equals_rebuild() -> None:
    extra = _t("t6", "Perovskite thin films by vapour deposition", works=("Vapour deposited perovskite films",))
    index = SparseIndex.build(FIVE)
    index.remove("t1")
    index.add(extra)
    index.add(_t("t2", "Updated: deep learning for lithium battery health"))  # a new version replaces the old
    rebuilt = SparseIndex.build([*FIVE[2:], extra, _t("t2", "Updated: deep learning for lithium battery health")])
    live = ["t2", "t3", "t4", "t5", "t6"]
    for query in ("perovskite deposition", "lithium battery", "锂电池", "deep learning"):
        a, b = _scores_by_id(index, query, live), _scores_by_id(rebuilt, query, live)
        for key in a:
            np.testing.assert_allclose(a[key], b[key], rtol=1e-5)
        ids_a, sc_a = index.search(query, 10)
        ids_b, sc_b = rebuilt.search(query, 10)
        assert list(ids_a) == list(ids_b)
        np.testing.assert_allclose(sc_a, sc_b, rtol=1e-5)
    # The removed talent never comes back; the added one is searchable.
    assert "t1" not in index.search("passivation tandem perovskite", 10)[0]
    assert index.rows(["t1"])[0] == -1
    assert list(index.search("vapour", 1)[0]) == ["t6"]
    # compact reclaims rows without changing any score.
    before = _scores_by_id(index, "perovskite deposition", live)
    index.compact()
    after = _scores_by_id(index, "perovskite deposition", live)
    for key in before:
        np.testing.assert_allclose(before[key], after[key], rtol=1e-5)
    assert list(index.search("vapour", 1)[0]) == ["t6"]


def test_index_errors_are_clear() -> None:
    with pytest.raises(ValueError, match="appears twice"):
        SparseIndex.build([FIVE[0], FIVE[0]])
    index = SparseIndex.build(FIVE)
    with pytest.raises(KeyError, match="not in the index"):
        index.remove("nobody")
    with pytest.raises(ValueError, match="k must be a positive"):
        index.search("perovskite", 0)
    with pytest.raises(TypeError, match="str, Need or Talent"):
        index.score(42, np.array([0]))  # type: ignore[arg-type]


def test_skill_coverage_counts_fractions_across_languages() -> None:
    need = Need(id="n1", title="光刻工艺工程师", required_skills=["光刻", "刻蚀", "Python", "量子计算"])
    talents = [
        _t("a", "Semiconductor engineer with ten years of lithography", ("python",)),  # 光刻 via concept, Python
        _t("b", "熟悉光刻与刻蚀工艺，精通Python，从事量子计算研究"),  # all four in Chinese text
        _t("c", "Chef specialised in French pastry"),
    ]
    cov = skill_coverage(need, talents)
    np.testing.assert_allclose(cov, [0.5, 1.0, 0.0])
    index, concepts = SparseIndex.build(talents), ConceptIndex.build(talents)
    rows = index.rows(["a", "zzz", "b"])
    np.testing.assert_allclose(index.skill_coverage(need, rows, concepts), [0.5, 0.0, 1.0])
    np.testing.assert_allclose(index.skill_coverage(need, rows), [0.25, 0.0, 1.0])  # no concepts: text only
    assert not index.skill_coverage(Need(id="n2", title="x"), rows).any()


def test_need_index_finds_the_right_need_for_a_talent() -> None:
    needs = [
        Need(
            id="n-pv", title="钙钛矿光伏研发工程师", description="perovskite solar cell R&D", required_skills=["钙钛矿"]
        ),
        Need(id="n-ai", title="算法工程师", description="推荐系统与深度学习", required_skills=["deep learning"]),
        Need(id="n-bat", title="电池工艺专家", description="锂电池产线工艺", required_skills=["锂电池"]),
    ]
    index = NeedIndex.build(needs)
    ids, _ = index.search(_t("t", "I build deep learning recommendation models", ("deep learning",)), k=3)
    assert ids[0] == "n-ai"
    ids, _ = index.search("perovskite solar cells and 钙钛矿 films", k=1)
    assert list(ids) == ["n-pv"]
    index.remove("n-pv")
    assert "n-pv" not in index.search("perovskite solar cells", k=3)[0]
    index.add(Need(id="n-pv2", title="perovskite tandem cells"))
    assert list(index.search("perovskite", k=1)[0]) == ["n-pv2"]
    s = index.score("锂电池 battery", index.rows(["n-bat", "n-ai", "n-pv"]))["bm25_need"]
    assert s[0] > 0 and s[1] == 0 and s[2] == 0


def test_large_batches_tokenise_in_a_pool_with_the_same_result(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = [f"钙钛矿太阳能电池 perovskite cells {i}" for i in range(40)] + ["GaN 功率器件"] * 10
    monkeypatch.setattr(features.concepts, "PARALLEL_MIN", 10)
    assert tokenize_many(texts, processes=2) == [tokenize(t) for t in texts]
    talents = [_t(f"p{i}", t) for i, t in enumerate(texts)]
    pooled = ConceptIndex.build(talents, processes=2)
    serial = ConceptIndex.build(talents, processes=1)
    assert (pooled._concepts.csr() != serial._concepts.csr()).nnz == 0


def test_a_build_tokenised_in_chunks_equals_one_in_a_single_step(monkeypatch: pytest.MonkeyPatch) -> None:
    talents = [*FIVE, _t("w1", "Perovskite cells", works=("GaN 功率器件", "Tandem passivation")), _t("w2", "机器人")]
    whole = SparseIndex.build(talents, processes=1)
    monkeypatch.setattr(features.text, "TOKENIZE_CHUNK", 2)
    chunked = SparseIndex.build(talents, processes=1)
    assert chunked.vocab.ids == whole.vocab.ids
    for corpus in ("profile", "works"):
        a, b = getattr(whole, corpus).tf.csr(), getattr(chunked, corpus).tf.csr()
        assert a.shape == b.shape and (a != b).nnz == 0
    ids = [t.id for t in talents]
    for name, values in whole.score("perovskite GaN 功率器件", whole.rows(ids)).items():
        np.testing.assert_array_equal(values, chunked.score("perovskite GaN 功率器件", chunked.rows(ids))[name])


def test_vectorised_idf_is_bm25s_lucene_idf() -> None:
    from bm25s.scoring import _score_idf_lucene

    index = SparseIndex.build(FIVE)
    terms = np.arange(len(index.vocab))
    df = index.profile.df.view
    expected = [_score_idf_lucene(int(df[t]), index.profile.n_live) for t in terms]
    assert index.profile._idf(terms) == pytest.approx(expected, rel=1e-6)


def test_saturation_is_bm25s_lucene_term_component_to_the_bit() -> None:
    """``features.text`` writes bm25s's expression itself (importing bm25s imports numba, ~150 MB a process)."""
    from bm25s.scoring import _score_tfc_lucene

    rng = np.random.default_rng(0)
    tf = rng.integers(1, 50, 10_000).astype(np.float32)
    length = rng.integers(1, 3_000, 10_000).astype(np.float32)
    for l_avg in (1.0, 57.3, 911.0):
        got = features.text._saturation(tf, length, l_avg)
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, _score_tfc_lucene(tf, length, l_avg, features.text.K1, features.text.B))


# One short paper exactly on the query, against a long profile that holds every query word but never two in one work.
LOOSE_EN = ("Solar energy policy", "Cell biology", "Perovskite minerals", "Steel passivation")
LOOSE_ZH = ("钙钛矿矿物", "太阳能政策", "电池回收", "钢材钝化")
ONE_PAPER = [
    _t("focused", "researcher", works=("Perovskite solar cell passivation with Lewis bases", "Soil erosion", "Rivers")),
    _t("loose", "energy researcher", works=tuple(f"{topic} survey {i}" for i in range(3) for topic in LOOSE_EN)),
    *[_t(f"o{i}", "researcher", works=(f"Unrelated topic {i} on bridges and roads",)) for i in range(6)],
]
ONE_PAPER_ZH = [
    _t("focused", "研究人员", works=("钙钛矿太阳能电池的界面钝化", "土壤侵蚀", "河流")),
    _t("loose", "能源研究", works=tuple(f"{topic}综述{i}" for i in range(3) for topic in LOOSE_ZH)),
    *[_t(f"o{i}", "研究人员", works=(f"桥梁与道路工程{i}",)) for i in range(6)],
]


@pytest.mark.parametrize(
    ("talents", "query"),
    [(ONE_PAPER, "perovskite solar cell passivation"), (ONE_PAPER_ZH, "钙钛矿太阳能电池钝化")],
    ids=["en", "zh"],
)
def test_best_works_share_prefers_one_matching_paper_to_a_long_loose_profile(talents, query) -> None:
    index = SparseIndex.build(talents)
    s = index.score(query, index.rows(["focused", "loose", "o0"]))
    assert s["bm25_share_works_top3"][0] > s["bm25_share_works_top3"][1] > s["bm25_share_works_top3"][2] == 0


def test_bm25_shares_are_bounded_and_do_not_grow_with_the_query() -> None:
    """Raw BM25 rises with every extra query word; the share of the query's IDF mass stays in [0, 1], so one talent
    can compare a short need with a long one."""
    index = SparseIndex.build(ONE_PAPER)
    row = index.rows(["focused"])
    short = index.score("perovskite passivation", row)
    long = index.score("perovskite passivation " + " ".join(f"topic{i} energy survey" for i in range(10)), row)
    assert long["bm25_profile"][0] >= short["bm25_profile"][0] * 0.99  # the extra words add nothing here
    assert long["bm25_share_profile"][0] < short["bm25_share_profile"][0] <= 1.0
    own = index.score("perovskite solar cell passivation lewis bases", row)  # the talent's own title, all words
    assert 0 < own["bm25_share_works_top3"][0] <= 1.0
    # Words no talent uses neither score nor dilute.
    assert index.score("perovskite passivation zzzunseen", row)["bm25_share_profile"][0] == pytest.approx(
        short["bm25_share_profile"][0]
    )


# -- script: lexical evidence only matches within one script ------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "share"),
    [
        ("负责光刻机工件台的控制算法", 1.0),
        ("Lithography stage control", 0.0),
        ("", 0.0),
        ("负责 EUV 光刻胶", 5 / 7),  # 5 characters against one Latin word counted as two
    ],
)
def test_han_share_counts_chinese_script_against_latin_words(text, share):
    assert han_share(text) == pytest.approx(share)


def test_script_overlap_is_the_share_both_texts_could_match():
    np.testing.assert_allclose(script_overlap([1.0, 0.0, 1.0, 0.5, 0.8], [1.0, 0.0, 0.0, 0.5, 0.0]), [1, 1, 0, 1, 0.2])


def test_term_counts_take_two_bytes_and_saturate_instead_of_wrapping_around() -> None:
    """Counts are held twice (rows, and the columns retrieval scans) as uint16. A count past 65,535 must stay the
    largest count, not wrap to 66,000 - 65,536 = 464 and fall below a profile that says the word 5,000 times."""
    flood = " ".join(["ab"] * 66_000)  # within a summary's 200,000 characters
    index = SparseIndex.build([*FIVE, _t("flood", flood), _t("five-k", " ".join(["ab"] * 5_000))])
    index.add(_t("late-flood", flood))
    corpus, term = index.profile, index.vocab.lookup(["ab"])
    assert corpus.tf.data.dtype == corpus._csc.data.dtype == np.uint16
    rows = index.rows(["flood", "five-k", "late-flood"])
    assert corpus.tf.csr()[rows][:, term].toarray().ravel().tolist() == [65_535, 5_000, 65_535]
    every = np.arange(corpus.n_rows)
    q = np.unique(term)
    np.testing.assert_allclose(corpus.score_all(q), corpus.score_rows(q, every), rtol=1e-6)  # columns = rows
    scores = corpus.score_rows(q, rows)
    assert scores[0] == scores[2] > scores[1] > 0
