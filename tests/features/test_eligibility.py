"""Each rule removes exactly the talents it should, and says which rule removed them."""

import numpy as np
import pytest

from features.eligibility import Eligibility, Rule, check, rules, talent_columns
from features.records import Need, Talent
from features.table import NeedTable, TalentTable


def talent(tid, **kw):
    return Talent(id=tid, name=tid, **kw)


# A baseline that passes every rule of every post kind, and one variant per rule that fails only that rule.
OK = {
    "tier": "B",
    "availability": {"mode": "full_time"},
    "sites": ["jiaxing", "shanghai_enclave"],
    "languages": ["zh", "en"],
    "nationality": "CN",
}
WORLD = [
    talent("ok", **OK),
    talent("no_consent", **OK, consent={"matching": False}),
    talent("low_tier", **{**OK, "tier": "E"}),
    talent("no_tier", **{k: v for k, v in OK.items() if k != "tier"}),
    talent("remote", **{**OK, "availability": {"mode": "remote"}}),
    talent("abroad_only", **{**OK, "sites": ["abroad"]}),
    talent("no_english", **{**OK, "languages": ["zh"]}),
    talent("sparse", summary="only a summary, nothing else stated"),
]


@pytest.fixture(scope="module")
def table():
    return TalentTable.build(WORLD)


def removed(need, table, ids=None):
    ids = ids or [t.id for t in WORLD]
    e = check(need, table, table.rows(ids))
    return dict(zip(ids, e.removed_by(), strict=True)), e


def test_each_rule_removes_exactly_its_talents(table):
    need = Need(id="n", title="全职研发", kind="full_time", min_tier="C", languages=["en"])
    by, e = removed(need, table)
    assert by == {
        "ok": "",
        "no_consent": "consent",
        "low_tier": "tier",
        "no_tier": "tier",
        "remote": "availability",
        "abroad_only": "site",
        "no_english": "language",
        "sparse": "tier",  # no tier stated cannot meet a minimum tier
    }
    assert e.removed_counts() == {"consent": 1, "tier": 3, "availability": 1, "site": 1, "language": 1}


def test_unknown_attributes_pass_when_no_minimum(table):
    need = Need(id="n", title="x", kind="full_time", languages=["en"])
    by, _ = removed(need, table, ["sparse"])
    assert by == {"sparse": ""}


def test_special_researcher_needs_enough_months():
    t = TalentTable.build(
        [
            talent("two", availability={"mode": "short_term", "months_per_year": 2}),
            talent("four", availability={"mode": "short_term", "months_per_year": 4}),
            talent("full", availability={"mode": "full_time"}),
            talent("remote", availability={"mode": "remote"}),
        ]
    )
    need = Need(id="n", title="特聘研究员", kind="special_researcher", months_per_year=3)
    e = check(need, t, t.rows(["two", "four", "full", "remote"]))
    assert e.checks[Rule.availability].tolist() == [False, True, True, False]
    assert e.months_surplus.tolist() == [-1, 1, 9, -3]


def test_enclave_requires_the_shanghai_site():
    t = TalentTable.build(
        [talent("sh", sites=["shanghai_enclave"]), talent("jx", sites=["jiaxing"]), talent("unstated")]
    )
    need = Need(id="n", title="飞地研发", kind="enclave", site="jiaxing")
    e = check(need, t, t.rows(["sh", "jx", "unstated"]))
    assert e.checks[Rule.site].tolist() == [True, False, True]


def test_work_permit_class_c_is_removed_from_full_time_posts_only():
    weak = talent("weak", nationality="US", education=[{"degree": "bachelor", "year": 2024}])
    strong = talent(
        "strong",
        nationality="DE",
        languages=["en", "zh"],
        salary_expectation=60,
        honours=["Fellow"],
        education=[{"degree": "phd", "year": 2010}],
    )
    direct = talent("direct", nationality="GB", tier="C")
    local = talent("local", nationality="CN")
    t = TalentTable.build([weak, strong, direct, local])
    rows = t.rows(["weak", "strong", "direct", "local"])
    full = check(Need(id="n", title="x", kind="full_time"), t, rows)
    assert full.checks[Rule.work_permit].tolist() == [False, True, True, True]
    short = check(Need(id="n", title="x", kind="special_researcher"), t, rows)
    assert short.checks[Rule.work_permit].all()


def test_removed_and_unknown_rows_fail_consent():
    t = TalentTable.build([talent("a"), talent("b")])
    t.remove("a")
    assert t.rows(["a", "b", "zz"]).tolist() == [-1, 1, -1]
    e = check(Need(id="n", title="x"), t, t.rows(["a", "b", "zz"]))
    assert e.removed_by().tolist() == ["consent", "", "consent"]


def test_replacing_a_talent_tombstones_its_old_row():
    t = TalentTable.build([talent("a", tier="E")])
    t.add(talent("a", tier="A"))
    assert len(t) == 2 and t.rows(["a"]).tolist() == [1]
    assert t.alive.tolist() == [False, True] and t.tier_rank.tolist() == [1, 5]
    assert np.isnan(t.salary).all()


def test_many_needs_against_one_talent_equal_one_need_at_a_time(table):
    needs = [
        Need(id="ft", title="全职", kind="full_time", min_tier="C", languages=["en"]),
        Need(id="sr", title="特聘", kind="special_researcher", months_per_year=3),
        Need(id="en", title="飞地", kind="enclave", site="jiaxing"),
        Need(id="inc", title="孵化", kind="incubation_project", min_tier="A", languages=["de"]),
    ]
    need_table = NeedTable.build(needs, languages=table.languages)
    for t in WORLD:
        row = table.rows([t.id])
        talent, alive = talent_columns(table, row)
        many = rules(need_table.gather(need_table.rows([n.id for n in needs]), NeedTable.COLUMNS), talent, alive,
                     np.arange(len(needs)))  # fmt: skip
        one = [check(n, table, row) for n in needs]
        assert many.removed_by().tolist() == [e.removed_by()[0] for e in one], t.id
        np.testing.assert_array_equal(many.tier_gap, [e.tier_gap[0] for e in one])
        np.testing.assert_array_equal(many.months_surplus, [e.months_surplus[0] for e in one])


def test_need_table_rows_are_tombstoned_on_replace_and_remove():
    needs = NeedTable.build([Need(id="a", title="x", kind="special_researcher"), Need(id="b", title="y")])
    assert needs.need_months.tolist() == [2, 0]  # the special-researcher default when the post does not say
    needs.add(Need(id="a", title="x", kind="enclave", languages=["en"]))
    assert needs.rows(["a", "b"]).tolist() == [2, 1] and needs.alive.tolist() == [False, True, True]
    assert needs.needs_zh.tolist() == [True, True, False] and needs.needs_en.tolist() == [False, False, True]
    assert needs.remove("b") and not needs.remove("b") and needs.rows(["b"]).tolist() == [-1]


def test_removed_counts_charge_each_candidate_to_the_first_rule_it_fails() -> None:
    """Random checks with most candidates failing several rules: the counts are those of ``removed_by``'s names."""
    rng = np.random.default_rng(0)
    n = 2_000
    e = Eligibility(
        rows=np.arange(n),
        checks={rule: rng.random(n) > 0.3 for rule in Rule},
        tier_gap=np.zeros(n),
        months_surplus=np.zeros(n),
    )
    names, counts = np.unique(e.removed_by(), return_counts=True)
    expected = {str(name): int(c) for name, c in zip(names, counts, strict=True) if name}
    assert e.removed_counts() == expected and list(e.removed_counts()) == sorted(expected)
    assert sum(expected.values()) == int((~e.passed).sum())
