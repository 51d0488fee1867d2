"""Duplicate-person linkage on small hand-made worlds whose right answer is known."""

from __future__ import annotations

import json
import random

import pandas as pd
import pytest

from features.people import Linkage, _employer, _skill, frame, link
from features.records import Education, Residence, Talent, Work
from matcher.people_eval import curve, evaluate

SURNAMES = (
    "张李刘陈杨黄赵周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏"
)
GIVEN = "立新伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰飞鹏辉健波宁晨浩宇轩睿博文斌凯峰"
EMPLOYERS = ["浙江大学", "复旦大学", "嘉兴大学", "Tsinghua University", "衡锐智能有限公司", "澜湃软件有限公司",
             "University of Toronto", "湛拓通信有限公司", "上海交通大学", "南京大学"]  # fmt: skip
TOPICS = ["graph neural networks", "固态电池", "silicon photonics", "federated learning", "钙钛矿太阳能电池",
          "drug discovery", "lidar perception", "氢燃料电池", "chip design", "protein folding"]  # fmt: skip
SKILLS = [("machine learning", "机器学习"), ("computer vision", "计算机视觉"), ("lithium batteries", "锂电池"),
          ("natural language processing", "自然语言处理"), ("fuel cells", "燃料电池"), ("semiconductor", "半导体"),
          ("photovoltaics", "光伏"), ("robotics", "机器人"), ("drug discovery", "药物发现"),
          ("solar cells", "太阳能电池"), ("SLAM", "同步定位与建图"), ("big data", "大数据")]  # fmt: skip
CITIES = ["杭州", "上海", "Boston", "Munich", "Shenzhen", "Toronto"]


def _background(seed: int = 3, persons: int = 300, every: int = 3) -> tuple[list[Talent], list[list[str]]]:
    """``persons`` people, one in ``every`` of them arriving twice (the copy written in pinyin, in either order, or
    with an initial, at times at another employer), each copy sharing its e-mail, phone or a work with the original,
    and half of the copies a work besides; each person has three skills (in either language) and a city, each copy
    two of those skills in the other language and the same city."""
    rng = random.Random(seed)
    talents: list[Talent] = []
    truth: list[list[str]] = []
    used: set[str] = set()
    for i in range(persons):
        while (zh := rng.choice(SURNAMES) + "".join(rng.sample(GIVEN, rng.choice((1, 2))))) in used:
            pass
        used.add(zh)
        works = [Work(title=f"{rng.choice(TOPICS)} study {i}-{k}") for k in range(rng.randint(0, 3))]
        skills, city = rng.sample(SKILLS, 3), rng.choice(CITIES)
        language = rng.randrange(2)
        base = Talent(
            id=f"B{i:04d}", name=zh, name_zh=zh, email=f"p{i}@example.com" if rng.random() < 0.6 else None,
            phone=f"+86 139{i:08d}" if rng.random() < 0.4 else None, employer=rng.choice(EMPLOYERS),
            nationality="CN", works=works, education=[Education(institution=rng.choice(EMPLOYERS))],
            birth_year=rng.randint(1960, 1995), skills=[k[language] for k in skills], residence=Residence(city=city),
        )  # fmt: skip
        talents.append(base)
        if i % every:
            continue
        fields = frame([base]).iloc[0]
        surname, tokens = fields["keys"][0].split()[0], fields["name"].split()
        tokens.remove(surname)
        given = tokens[0]
        g, s = given.title(), surname.title()
        written = rng.choice([f"{g} {s}", f"{s} {g}", f"{surname.upper()} {g}", f"{g[0]}. {s}"])
        shared = rng.choice(["email", "phone", "works"])
        copy = Talent(
            id=f"C{i:04d}", name=written, name_en=written,
            email=f"p{i}@example.com" if shared == "email" else None,
            phone=f"139-{i:08d}" if shared == "phone" else None,
            works=(works or [Work(title=f"{TOPICS[i % 10]} study {i}-x")])[:1] if shared == "works" or i % 2 else [],
            employer=rng.choice(EMPLOYERS), nationality="CN", birth_year=rng.choice((base.birth_year, None)),
            skills=[k[1 - language] for k in skills[:2]], residence=Residence(city=city),
        )  # fmt: skip
        if copy.works and not works:
            base.works.append(copy.works[0])
        if shared == "email" and base.email is None:
            base.email = copy.email
        if shared == "phone" and base.phone is None:
            base.phone = "+86 139" + f"{i:08d}"
        talents.append(copy)
        truth.append([base.id, copy.id])
    return talents, truth


WANG_LIXIN = [
    Talent(id="W1", name="王立新", name_zh="王立新", email="lixin.wang@zju.example", employer="浙江大学",
           works=[Work(title="Perovskite solar cells: stability"), Work(title="钙钛矿电池的界面工程")]),
    Talent(id="W2", name="Lixin Wang", name_en="Lixin Wang", email="Lixin.Wang@zju.example", employer="Zhejiang Univ."),
    Talent(id="W3", name="Wang Lixin", works=[Work(title="Perovskite Solar Cells - Stability")], employer="嘉兴大学"),
    Talent(id="W4", name="L. Wang", email="lixin.wang@zju.example", phone="+86 138 0000 1111"),
    Talent(id="W5", name="王伟", name_zh="王伟", email="wei.w@fudan.example", employer="复旦大学",
           works=[Work(title="Lidar perception for autonomous driving")]),
    Talent(id="W6", name="王伟", name_zh="王伟", email="wangwei@toronto.example", employer="University of Toronto",
           works=[Work(title="Protein folding with diffusion models")]),
]  # fmt: skip


@pytest.fixture(scope="module")
def linked() -> tuple[Linkage, list[list[str]]]:
    talents, truth = _background()
    return link([*talents, *WANG_LIXIN]), [*truth, ["W1", "W2", "W3", "W4"]]


def test_names_across_scripts_and_orders_fold_to_one_form():
    written = {"a": "王立新", "b": "Lixin Wang", "c": "WANG Li-Xin", "d": "L. Wang", "e": "Wang, Lixin", "f": "曾杰"}
    rows = frame([Talent(id=i, name=n) for i, n in written.items()])
    by = rows.set_index("unique_id")
    assert {by.loc[i, "name"] for i in "abce"} == {"lixin wang"}
    assert pd.isna(by.loc["d", "name"]) and by.loc["d", "keys"] == ["wang l"]
    assert by.loc["a", "keys"] == ["wang l"] and by.loc["c", "keys"] == ["wang l"]
    assert set(by.loc["b", "keys"]) == {"wang l", "lixin w"}  # either order possible
    assert by.loc["f", "name"] == "jie zeng"  # 曾 as a surname reads zeng, not ceng
    same = frame([Talent(id="i", name="GUO Guo"), Talent(id="j", name="郭国")])  # surname and given name alike
    assert same["name"].tolist() == ["guo guo", "guo guo"] and same["keys"].tolist() == [["guo g"], ["guo g"]]
    alone = frame([Talent(id="g", name="欧阳"), Talent(id="h", name="WANG")]).set_index("unique_id")
    assert alone["name"].isna().all() and alone["keys"].isna().all()


def test_phone_and_email_are_normalised():
    phones = {"a": "+86 138-0000-1111", "b": "0086 13800001111", "c": "12"}
    rows = frame([Talent(id=i, name="x y", phone=p, email=" A@B.cn ") for i, p in phones.items()])
    assert rows["phone"].tolist()[:2] == ["13800001111", "13800001111"] and pd.isna(rows["phone"].iloc[2])
    assert rows["email"].iloc[0] == "a@b.cn"


def test_wang_lixin_written_four_ways_is_one_person_and_two_wang_wei_are_two(linked):
    linkage, _ = linked
    assert len({linkage.persons[i] for i in ("W1", "W2", "W3", "W4")}) == 1
    assert linkage.persons["W5"] != linkage.persons["W6"]
    assert linkage.persons["W1"] == "W1"  # a person is named by its smallest record id
    assert linkage.persons["W5"] not in {linkage.persons["W1"], "W6"}


def test_quality_on_the_hand_made_world(linked):
    linkage, truth = linked
    at = evaluate(linkage, truth)
    assert at["pair_precision"] >= 0.95 and at["cluster_precision"] >= 0.95
    assert at["pair_recall"] >= 0.9 and at["cluster_recall"] >= 0.9
    points = curve(linkage, truth)
    assert [p["threshold"] for p in points] == [0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 0.95, 0.99]
    recalls = [p["pair_recall"] for p in points]
    assert recalls == sorted(recalls, reverse=True)  # a higher threshold never finds more


def test_review_pairs_lie_between_the_thresholds_and_name_what_agreed(linked):
    linkage, _ = linked
    assert all(linkage.review_threshold <= r.probability < linkage.threshold for r in linkage.review)
    assert all(r.agreed and set(r.agreed) <= set(linkage.comparisons) for r in linkage.review)
    probabilities = [r.probability for r in linkage.review]
    assert probabilities == sorted(probabilities, reverse=True)


def test_the_same_records_give_the_same_people():
    talents, _ = _background(seed=5, persons=120)
    first, second = link(talents), link(list(reversed(talents)))
    assert first.persons == second.persons


def test_evaluation_counts_pairs_and_b_cubed_clusters_exactly():
    linkage = Linkage(
        persons={}, review=[], threshold=0.9, review_threshold=0.5,
        scores=[("a", "b", 0.95), ("b", "c", 0.92), ("d", "e", 0.6)],
    )  # fmt: skip
    linkage.persons = {r: r for r in "abcdef"}
    at = evaluate(linkage, [["a", "b"], ["d", "e"]])
    assert at["pair_precision"] == 0.5 and at["pair_recall"] == 0.5  # a-b right, b-c wrong, d-e missed
    # predicted {a,b,c} {d} {e} {f}; true {a,b} {c} {d,e} {f}
    assert at["cluster_precision"] == pytest.approx((2 / 3 + 2 / 3 + 1 / 3 + 1 + 1 + 1) / 6)
    assert at["cluster_recall"] == pytest.approx((1 + 1 + 1 + 0.5 + 0.5 + 1) / 6)
    assert at["person_pair_precision"] == pytest.approx(1 / 3) and at["person_pair_recall"] == 0.5  # ab of ab ac bc
    low = evaluate(linkage, [["a", "b"], ["d", "e"]], threshold=0.5)
    assert low["pair_recall"] == 1.0
    with pytest.raises(ValueError, match="below the scores kept"):
        evaluate(linkage, [], threshold=0.3)


def test_bad_thresholds_and_duplicate_ids_are_refused():
    with pytest.raises(ValueError, match="review_threshold"):
        link(WANG_LIXIN, threshold=0.5, review_threshold=0.8)
    with pytest.raises(ValueError, match="unique"):
        link([WANG_LIXIN[0], WANG_LIXIN[0]])


def test_one_record_is_one_person():
    assert link(WANG_LIXIN[:1]).persons == {"W1": "W1"}


def test_a_pool_of_namesakes_without_duplicates_stays_apart():
    """Only common names agree (namesakes at the same employers, all else differs): nobody is merged."""
    rng = random.Random(11)
    talents = [
        Talent(id=f"N{i:03d}", name_zh=SURNAMES[i % 6] + GIVEN[i % 5], email=f"n{i}@example.com",
               phone=f"+86 137{i:08d}", employer=EMPLOYERS[rng.randrange(10)], nationality="CN")
        for i in range(300)
    ]  # fmt: skip
    linkage = link(talents)
    assert len(set(linkage.persons.values())) == 300


def test_employers_and_institutions_fold_legal_form_abbreviations_and_script():
    assert _employer("湃翎半导体有限公司") == _employer("湃翎半导体") == "湃翎半导体"
    assert _employer("浙江大学") == _employer("Zhejiang University") == "zhejiang university"
    assert _employer("Univ of New South Wales") == _employer("University of New South Wales")
    assert _employer("Ruipai Semiconductor Ltd.") == "ruipai semiconductor"
    assert frame([Talent(id="a", name="x y", education=[Education(institution="同济大学")])])["institutions"][0] == [
        "tongji university"
    ]


def _with(*extra: Talent) -> Linkage:
    talents, _ = _background(seed=7, persons=400, every=5)  # enough shared e-mails and phones for EM
    return link([*talents, *extra])


def test_namesakes_at_one_university_with_different_birth_years_stay_apart():
    """Same rare name, employer, institutions and nationality: a duplicate — unless the birth years differ."""
    common = dict(name_zh="郗昊峰", employer="浙江大学", nationality="CN",
                  education=[Education(institution="浙江大学"), Education(institution="复旦大学")])  # fmt: skip
    linkage = _with(
        Talent(id="Y1", birth_year=1969, **common), Talent(id="Y2", birth_year=1987, **common),
        Talent(id="Y3", birth_year=1975, **{**common, "name_zh": "单晓岚"}),
        Talent(id="Y4", birth_year=1975, **{**common, "name_zh": "单晓岚"}),
    )  # fmt: skip
    assert linkage.persons["Y1"] != linkage.persons["Y2"]
    assert linkage.persons["Y3"] == linkage.persons["Y4"]


def test_an_office_phone_shared_by_colleagues_does_not_make_them_one_person():
    names = ("欧阳明", "司马静", "诸葛亮", "上官婉")
    colleagues = [Talent(id=f"O{i}", name_zh=zh, phone="+86 571 8795 1234", employer="衡锐智能有限公司",
                         nationality="CN", birth_year=1980 + i) for i, zh in enumerate(names)]  # fmt: skip
    linkage = _with(*colleagues)
    assert len({linkage.persons[t.id] for t in colleagues}) == 4


def test_an_initial_only_record_joins_the_full_name_it_shares_a_work_with():
    works = [Work(title="Quantum error correction with cat qubits")]
    linkage = _with(
        Talent(id="Q1", name_zh="解启凯", nationality="CN", birth_year=1983, works=works, email="qk@x.example"),
        Talent(id="Q2", name="Q. Xie", name_en="Q. Xie", nationality="CN", works=works),
        Talent(id="Q3", name="Q. Xu", name_en="Q. Xu", nationality="CN", works=works),
    )  # fmt: skip
    assert linkage.persons["Q1"] == linkage.persons["Q2"] != linkage.persons["Q3"]


def test_skills_fold_across_languages_and_disciplines_give_their_fields():
    assert _skill("machine learning") == _skill("机器学习") and _skill("Lithium-ion batteries") == _skill("锂电池")
    assert _skill("运动规划") == "运动规划" and _skill("Motion  Planning!") == "motion planning"  # unknown: folded text
    row = frame(
        [
            Talent(
                id="a",
                name="x y",
                skills=["SLAM", "同步定位与建图", "ROS"],
                disciplines=["F030601", "F030602"],
                residence=Residence(country="CN", city="Hang Zhou"),
            )
        ]
    )
    row = row.iloc[0]
    assert row["skills"] == ["ros", _skill("SLAM")]
    assert row["disciplines"] == ["F030601", "F030602"] and row["fields"] == ["F0306"]
    assert row["residence"] == "CN:hang zhou"


def test_expertise_joins_a_reworded_copy_and_keeps_a_namesake_apart():
    """Three records of 韦嘉懿 alike in name, nationality and city, no e-mail or phone in common: the copy that
    shares her skills (written in English) and discipline joins her though its summary is reworded and its employer
    differs; the namesake in another field stays apart."""
    common = dict(nationality="CN", residence=Residence(country="CN", city="杭州"))
    linkage = _with(
        Talent(id="E1", name_zh="韦嘉懿", skills=["锂电池", "燃料电池", "光伏"], disciplines=["E0207"],
               summary="衡锐智能首席科学家，研究固态锂电池与氢燃料电池。", employer="衡锐智能有限公司", **common),
        Talent(id="E2", name="Jiayi Wei", name_en="Jiayi Wei", skills=["lithium batteries", "fuel cells"],
               disciplines=["E0207"], summary="Works on solid-state batteries and hydrogen fuel cells.",
               employer="Zhejiang University", **common),
        Talent(id="E3", name="WEI Jiayi", name_en="WEI Jiayi", skills=["natural language processing", "机器学习"],
               disciplines=["F0206"], summary="Builds language models.", employer="澜湃软件有限公司", **common),
    )  # fmt: skip
    assert linkage.persons["E1"] == linkage.persons["E2"]
    assert linkage.persons["E3"] not in {linkage.persons["E1"], "E1", "E2"}


def test_new_records_are_scored_as_a_full_predict_with_the_same_model_would_score_them():
    """``score_new`` against the pool scores exactly the pairs with a new record that a full ``predict`` of the whole
    pool with the same model (its prior scaled to the pool) scores, with the same probabilities, and no other."""
    import copy

    from features.people import Model, predict, score_new, train

    talents, truth = _background(seed=11, persons=300, every=3)
    df = frame(talents)
    later = {pair[1] for pair in truth[::3]} | {"B0001", "B0002"}  # a third of the copies, two originals
    old, new = df[~df["unique_id"].isin(later)], df[df["unique_id"].isin(later)]
    model = train(old.reset_index(drop=True))
    json.dumps(model.splink)  # plain JSON, as a store keeps it
    got = score_new(old, new, model, review_threshold=0.05)
    assert got.scores and all(later & {a, b} for a, b, _ in got.scores)

    scaled = copy.deepcopy(model.splink)
    scaled["probability_two_random_records_match"] *= (len(old) - 1) / (len(df) - 1)
    full, _, _ = predict(df, Model(scaled, len(df)), review_threshold=0.05)
    expected = {(a, b): p for a, b, p in full if later & {a, b}}
    assert {(a, b): pytest.approx(p) for a, b, p in got.scores} == expected
    assert got.compared >= len(expected) and got.compared < len(df) * len(later) / 10  # blocked, not all pairs
