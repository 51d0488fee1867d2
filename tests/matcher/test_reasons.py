"""Reasons: contributions grouped into bilingual sentences filled with the candidate's own values."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from rank_world import build

from features.matrix import TEXT_COLUMNS, feature_matrix, text_relevance
from features.schema import SCHEMA
from matcher.reasons import GROUPS, Reason, applicable_rules, blend_contributions, reasons

F = len(SCHEMA.names)


@pytest.fixture(scope="module")
def idx():
    return build()


def row(**values: float) -> np.ndarray:
    x = np.zeros(F, dtype=np.float32)
    for name, v in values.items():
        x[SCHEMA.index(name)] = v
    return x


def contrib(**values: float) -> np.ndarray:
    c = np.zeros(F + 1, dtype=np.float32)
    c[-1] = 0.7  # the bias is never a reason
    for name, v in values.items():
        c[SCHEMA.index(name)] = v
    return c


def by_code(rs: list[Reason]) -> dict[str, Reason]:
    return {r.code: r for r in rs}


def test_skill_coverage_counts_from_the_need(idx):
    need = idx.needs["N-litho"]  # five required skills
    rs = reasons(need, row(skill_coverage=0.8), contrib(skill_coverage=0.5), SCHEMA, idx, "T-litho")
    r = by_code(rs)["skills"]
    assert (r.en, r.zh) == ("required skills 4/5 covered", "满足4/5项技能要求")
    assert r.weight == pytest.approx(0.5)


def test_only_positive_groups_sorted_and_capped(idx):
    need = idx.needs["N-litho"]
    x = row(skill_coverage=1.0, bm25_profile=10, in_yrd=1, tier_rank=4, tier_gap=1, log_h_index=math.log1p(20))
    c = contrib(skill_coverage=0.2, bm25_profile=0.3, dense_profile=0.1, in_yrd=0.05, tier_rank=-0.4, log_h_index=0.02)
    rs = [r for r in reasons(need, x, c, SCHEMA, idx, "T-litho", top=3) if not r.code.startswith("rule:")]
    assert [r.code for r in rs] == ["topic", "skills", "yrd"]  # topic = bm25 + dense profile = 0.4
    assert rs[0].weight == pytest.approx(0.4)
    assert (rs[2].en, rs[2].zh) == ("based in the Yangtze River Delta", "常驻长三角")
    assert "tier" not in by_code(reasons(need, x, c, SCHEMA, idx, "T-litho", top=10))  # negative: never a reason


def test_a_group_is_stated_only_when_the_values_support_it(idx):
    need = idx.needs["N-litho"]
    rs = reasons(need, row(in_yrd=0), contrib(in_yrd=0.3), SCHEMA, idx, "T-zh")
    assert "yrd" not in by_code(rs)  # a positive contribution for someone not in the YRD is not "based in the YRD"
    rs = reasons(need, row(salary_ratio=1.4), contrib(salary_ratio=0.3), SCHEMA, idx, "T-zh")
    assert "salary" not in by_code(rs)


def test_incubator_uses_the_incubator_record_names(idx):
    need = idx.needs["N-litho"]
    x = row(graph_incubator_route=1, has_incubator=1)
    r = by_code(reasons(need, x, contrib(graph_incubator_route=0.3), SCHEMA, idx, "T-inc"))["incubator"]
    assert (r.en, r.zh) == ("linked through the Haina Munich Incubator", "经由海纳慕尼黑孵化器")
    r = by_code(reasons(need, row(has_incubator=1), contrib(has_incubator=0.3), SCHEMA, idx, "T-bio"))["incubator"]
    assert (r.en, r.zh) == ("linked to the Haina Sydney Incubator", "关联海纳悉尼孵化器")


def test_values_fill_the_sentences(idx):
    need = idx.needs["N-litho"]  # min tier C, budget 60
    x = row(
        tier_rank=4,
        tier_gap=1,
        log_h_index=math.log1p(20),
        log_publications=math.log1p(60),
        salary_ratio=0.75,
        days_since_update=12.4,
        concept_overlap=0.5,
        discipline_match=0.4,
    )
    c = contrib(tier_rank=0.5, log_h_index=0.4, salary_ratio=0.3, days_since_update=0.2, discipline_match=0.1)
    r = by_code(reasons(need, x, c, SCHEMA, idx, "T-litho", top=10))
    assert (r["tier"].en, r["tier"].zh) == ("tier B talent, above the post's minimum C", "B类人才，高于岗位要求的C类")
    assert r["seniority"].en == "track record: h-index 20, 60 publications"
    assert r["seniority"].zh == "科研积累：h指数20，论文60篇"
    assert r["salary"].en == "salary expectation within budget (45 of 60 10k CNY a year)"
    assert r["salary"].zh == "期望薪酬在预算内（45/60万元/年）"
    assert (r["freshness"].en, r["freshness"].zh) == ("profile updated 12 days ago", "档案12天前更新")
    # F040101 (need) and F040102 (talent) share F0401, named from the taxonomy in both languages
    assert r["disciplines"].en == "shared disciplines: Semiconductor crystal and film materials (F0401)"
    assert r["disciplines"].zh == "共同学科：半导体晶体与薄膜材料（F0401）"


def test_availability_and_permit(idx):
    need = idx.needs["N-litho"]
    r = by_code(reasons(need, row(), contrib(months_surplus=0.2), SCHEMA, idx, "T-local"))["availability"]
    assert (r.en, r.zh) == ("available full time", "可全职工作")
    # an availability never stated is not claimed to be full time
    assert "availability" not in by_code(reasons(need, row(), contrib(mode_unstated=0.2), SCHEMA, idx, "T-litho"))
    x = row(permit_points=100)
    assert by_code(reasons(need, x, contrib(permit_points=0.2), SCHEMA, idx, "T-inc"))["permit"].zh.startswith(
        "预计可获A类工作许可"
    )
    assert "permit" not in by_code(reasons(need, x, contrib(permit_points=0.2), SCHEMA, idx, "T-litho"))  # not foreign


def test_rules_passed_follow_the_contributions(idx):
    need = idx.needs["N-litho"]
    rs = reasons(need, row(), contrib(), SCHEMA, idx, "T-inc")
    assert [r.code for r in rs] == ["rule:consent", "rule:tier", "rule:availability", "rule:site", "rule:work_permit"]
    assert rs[0].zh == "已同意匹配" and all(r.weight == 0 for r in rs)
    assert applicable_rules(idx.needs["N-bio"], idx.talents["T-bio"])[1].value == "availability"  # no tier rule


def test_without_a_model_the_text_blend_weighs_the_groups(idx):
    need = idx.needs["N-litho"]
    X = feature_matrix(idx, need, ["T-litho"])
    c = blend_contributions(X[0], SCHEMA)
    assert c[-1] == 0 and c.shape == (F + 1,)
    text = {SCHEMA.index(n) for n in (*TEXT_COLUMNS, "skill_coverage")}
    assert all(c[i] == 0 for i in range(F) if i not in text)  # only text_relevance's columns take part
    assert c.sum() == pytest.approx(text_relevance(X)[0], rel=1e-5)  # its parts add up to it
    rs = reasons(need, X[0], None, SCHEMA, idx, "T-litho")
    codes = [r.code for r in rs if not r.code.startswith("rule:")]
    assert codes and set(codes) <= {"skills", "topic", "works", "disciplines"}
    assert by_code(rs)["skills"].en == "required skills 5/5 covered"


def test_reasons_are_json_serialisable(idx):
    rs = reasons(idx.needs["N-litho"], row(skill_coverage=0.4), contrib(skill_coverage=1), SCHEMA, idx, "T-zh")
    doc = json.loads(json.dumps([r.to_dict() for r in rs], ensure_ascii=False))
    assert doc[0] == {"code": "skills", "en": "required skills 2/5 covered", "zh": "满足2/5项技能要求", "weight": 1.0}


def test_wrong_widths_are_named(idx):
    need = idx.needs["N-litho"]
    with pytest.raises(ValueError, match=f"expected {F} "):
        reasons(need, np.zeros(F - 1), contrib(), SCHEMA, idx, "T-zh")
    with pytest.raises(ValueError, match="one per feature plus the bias"):
        reasons(need, row(), np.zeros(F), SCHEMA, idx, "T-zh")


def test_every_candidate_feature_has_exactly_one_reason_group():
    grouped = [name for names in GROUPS.values() for name in names]
    candidate_features = [n for n in SCHEMA.names if not n.startswith("kind_")]
    assert sorted(grouped) == sorted(candidate_features)


def test_site_reason_names_the_post_site_and_only_what_the_record_states(idx):
    need = idx.needs["N-litho"]  # worked in Jiaxing
    r = by_code(reasons(need, row(site_listed=1), contrib(site_listed=0.3), SCHEMA, idx, "T-litho"))["site"]
    assert (r.en, r.zh) == ("accepts the post's work site (Jiaxing)", "接受岗位工作地点（嘉兴）")
    assert "site" not in by_code(reasons(need, row(site_listed=-1), contrib(site_listed=0.3), SCHEMA, idx, "T-litho"))
    # living in Shanghai speaks for the enclave only
    assert "site" not in by_code(reasons(need, row(in_shanghai=1), contrib(in_shanghai=0.3), SCHEMA, idx, "T-litho"))


def test_arrangement_reason_only_when_the_record_states_the_post_kind(idx):
    need = idx.needs["N-litho"]  # full time
    r = by_code(reasons(need, row(arrangement=1), contrib(arrangement=0.3), SCHEMA, idx, "T-local"))["arrangement"]
    assert (r.en, r.zh) == ("relocates full time, as the post asks", "可全职来嘉，符合岗位要求")
    assert "arrangement" not in by_code(
        reasons(need, row(arrangement=-1), contrib(arrangement=0.3), SCHEMA, idx, "T-litho")
    )
