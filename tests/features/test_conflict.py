"""The conflict rule on a small world with a known answer for every relation kind and each window edge: who is tied
to the enterprise, who is removed on evaluated posts, who is only flagged internal on ordinary ones."""

import pickle
from datetime import date, timedelta

import numpy as np
import pytest

from features import conflict
from features.conflict import INFERRED_SOURCE, SHARED_TITLE_MAX, WORKS_SOURCE, Postings, Ties, key_hash, name_key
from features.eligibility import Rule, check
from features.indices import Indices
from features.records import Enterprise, Need, Relation, Talent, Work

TODAY = date(2026, 12, 3)
WINDOW = 1095
OK = {"tier": "B", "availability": {"mode": "full_time"}, "nationality": "CN"}


def ended(days_ago: int) -> str:
    return (TODAY - timedelta(days=days_ago)).isoformat()


TALENTS = [
    Talent(id="free", name="Free Agent", **OK),
    Talent(id="inferred", name="李明", employer="嘉光新能源有限公司", **OK),  # employer = e1's Chinese name
    Talent(id="inferred_en", name="Jia Guang Staff", employer="JIAGUANG New-Energy Co., Ltd.", **OK),  # English name
    Talent(id="other_employer", name="Acme Person", employer="Acme Chips", **OK),  # e2's staff: no tie to e1
    Talent(id="declared_employee", name="Declared", **OK),
    Talent(id="left_at_edge", name="Edge", **OK),
    Talent(id="left_inside", name="Inside", **OK),
    Talent(id="left_outside", name="Outside", **OK),
    Talent(id="founder", name="Founder", **OK),
    Talent(id="family", name="Family", **OK),
    Talent(id="family_of_person", name="Relative", **OK),
    Talent(id="coauthor_enterprise", name="Coauthor E", **OK),
    Talent(id="coauthor_staff", name="Coauthor S", **OK),
    Talent(id="coauthor_stranger", name="Coauthor X", **OK),
    Talent(id="founder_ended_outside", name="Old founder", **OK),
]
ENTERPRISES = [
    Enterprise(id="e1", name="嘉光新能源", name_en="Jiaguang New Energy"),
    Enterprise(id="e2", name="Acme Chips", name_en="Acme Chips Ltd."),
]


def rel(talent_id, kind, *, enterprise_id="e1", person=None, end=None, source="office import"):
    body = {"talent_id": talent_id, "kind": kind, "source": source, "end": end}
    return Relation(**body, **({"person": person} if person else {"enterprise_id": enterprise_id}))


RELATIONS = [
    rel("declared_employee", "employee", source="enterprise HR list"),
    rel("left_at_edge", "former_employee", end=ended(WINDOW)),
    rel("left_inside", "former_employee", end=ended(WINDOW - 1)),
    rel("left_outside", "former_employee", end=ended(WINDOW + 1)),
    rel("founder", "founder_or_shareholder", source="business register"),
    rel("founder_ended_outside", "founder_or_shareholder", end=ended(WINDOW + 1)),
    rel("family", "family_of_staff", source="self-declared"),
    rel("family_of_person", "family_of_staff", person="李 明", source="self-declared"),  # 李明 works at e1
    rel("coauthor_enterprise", "co_author"),
    rel("coauthor_staff", "co_author", person="Declared"),  # a declared employee of e1
    rel("coauthor_stranger", "co_author", person="Nobody Known"),
]

TIED = {
    "inferred": "employee",
    "inferred_en": "employee",
    "declared_employee": "employee",
    "left_at_edge": "former_employee",
    "left_inside": "former_employee",
    "founder": "founder_or_shareholder",
    "family": "family_of_staff",
    "family_of_person": "family_of_staff",
    "coauthor_enterprise": "co_author",
    "coauthor_staff": "co_author",
}
"""The known answer: every talent tied to e1 today and how; everyone else is free of e1."""
INTERNAL = {"inferred", "inferred_en", "declared_employee"}


@pytest.fixture(scope="module")
def idx():
    records = {"talent": TALENTS, "enterprise": ENTERPRISES, "relation": RELATIONS}
    return Indices.build(records, encoder=None)


def judge(idx, kind):
    need = Need(id=f"n-{kind}", title="post", enterprise_id="e1", kind=kind)
    ids = [t.id for t in TALENTS]
    rows = idx.table.rows(ids)
    passes, internal, found = idx.ties.check("e1", need.kind, rows, idx.table, today=TODAY)
    return dict(zip(ids, passes.tolist(), strict=True)), dict(zip(ids, internal.tolist(), strict=True)), found


def test_every_relation_kind_and_window_edge_has_its_known_answer(idx):
    ties = idx.ties.of("e1", TODAY)
    assert {tid: tie.kind for tid, tie in ties.items()} == TIED
    assert ties["inferred"].source == INFERRED_SOURCE and ties["inferred"].relation_id is None
    assert ties["founder"].source == "business register" and ties["founder"].relation_id
    assert ties["left_at_edge"].end == TODAY - timedelta(days=WINDOW)


@pytest.mark.parametrize("kind", ["special_researcher", "incubation_project"])
def test_evaluated_posts_remove_every_tie_and_flag_employees(idx, kind):
    passes, internal, found = judge(idx, kind)
    assert {tid for tid, ok in passes.items() if not ok} == set(TIED)
    assert {tid for tid, flag in internal.items() if flag} == INTERNAL
    assert set(found) == set(TIED)


@pytest.mark.parametrize("kind", ["full_time", "enclave"])
def test_ordinary_posts_only_flag_the_enterprises_own_staff(idx, kind):
    passes, internal, found = judge(idx, kind)
    assert all(passes.values())
    assert {tid for tid, flag in internal.items() if flag} == INTERNAL
    assert set(found) == set(TIED)  # the receipt still names the ties it saw


def test_the_window_is_a_setting_and_moves_the_edges():
    idx = Indices.build({"talent": TALENTS, "enterprise": ENTERPRISES, "relation": RELATIONS}, encoder=None)
    idx.ties.window_days = WINDOW - 1
    idx.ties.forget()
    tied = set(idx.ties.of("e1", TODAY))
    assert "left_inside" in tied and "left_at_edge" not in tied
    idx.ties.window_days = 0
    idx.ties.forget()
    assert "left_inside" not in idx.ties.of("e1", TODAY)


def test_check_charges_removals_to_the_conflict_rule_and_carries_the_flag(idx):
    today = date.today()
    need = Need(id="n", title="special", enterprise_id="e1", kind="special_researcher")
    ids = ["free", "founder", "inferred", "other_employer"]
    e = check(need, idx.table, idx.table.rows(ids), idx.ties)
    assert e.removed_by().tolist() == ["", "conflict", "conflict", ""]
    assert e.removed_counts() == {"conflict": 2}
    assert e.internal.tolist() == [False, False, True, False]
    assert e.ties["founder"].kind == "founder_or_shareholder"
    assert e.take(np.array([2])).internal.tolist() == [True]
    ordinary = check(need.model_copy(update={"kind": "full_time"}), idx.table, idx.table.rows(ids), idx.ties)
    assert ordinary.removed_counts() == {} and ordinary.internal.tolist() == [False, False, True, False]
    assert check(need, idx.table, idx.table.rows(ids)).removed_counts() == {}  # without ties: no conflict rule
    assert Rule.conflict in e.checks and today  # the default clock is today's date


def test_a_need_without_enterprise_has_no_conflicts(idx):
    need = Need(id="n", title="x", kind="special_researcher")
    e = check(need, idx.table, idx.table.rows([t.id for t in TALENTS]), idx.ties)
    assert e.passed.all() and not e.internal.any() and e.ties == {}


def test_writes_change_the_ties_at_once():
    idx = Indices.build({"talent": TALENTS, "enterprise": ENTERPRISES, "relation": RELATIONS}, encoder=None)
    assert "free" not in idx.ties.of("e1", TODAY)
    idx.add_talent(TALENTS[0].model_copy(update={"employer": "Jiaguang New Energy"}))
    assert idx.ties.of("e1", TODAY)["free"].kind == "employee"
    idx.ties.put_relation(rel("other_employer", "founder_or_shareholder", source="register", end=None))
    assert "other_employer" in idx.ties.of("e1", TODAY)
    idx.ties.remove_relation(rel("other_employer", "founder_or_shareholder", source="register").id)
    assert "other_employer" not in idx.ties.of("e1", TODAY)
    idx.ties.put_enterprise(Enterprise(id="e1", name="Renamed Ltd"))  # the employer no longer names e1
    assert "free" not in idx.ties.of("e1", TODAY) and "inferred" not in idx.ties.of("e1", TODAY)
    idx.erase_talent("founder")  # erasure takes the talent's relations, as the store's cascade does
    assert "founder" not in idx.ties.of("e1", TODAY)
    assert not any(r.talent_id == "founder" for r in idx.ties.relations.values())


def test_enterprises_of_a_talent_cover_every_route(idx):
    assert idx.ties.enterprises_of("inferred") == {"e1"}
    assert idx.ties.enterprises_of("other_employer") == {"e2"}
    assert idx.ties.enterprises_of("family_of_person") == {"e1"}
    assert idx.ties.enterprises_of("coauthor_staff") == {"e1"}
    assert idx.ties.enterprises_of("free") == set()


def test_a_person_relation_follows_the_named_persons_current_record():
    idx = Indices.build({"talent": TALENTS, "enterprise": ENTERPRISES, "relation": RELATIONS}, encoder=None)
    idx.add_talent(TALENTS[1].model_copy(update={"name": "王芳"}))  # e1's 李明 renamed: nobody of that name there
    assert idx.ties.enterprises_of("family_of_person") == set()
    assert "family_of_person" not in idx.ties.of("e1", TODAY)


def test_name_keys_ignore_case_width_punctuation_and_legal_form():
    assert name_key("Acme Chips Ltd.", organisation=True) == name_key("ACME  chips", organisation=True)
    assert name_key("嘉光新能源有限公司", organisation=True) == name_key("嘉光新能源", organisation=True)
    assert name_key("ＡＣＭＥ", organisation=True) == "acme"
    assert name_key("Ltd", organisation=True) == "ltd"  # a name that is only a legal form stays itself
    assert name_key("Li Wei") == name_key("li-wei") != name_key("Wei Li")


def test_ties_pickle_with_the_indices():
    import pickle

    ties = Ties.build(TALENTS, ENTERPRISES, RELATIONS)
    again = pickle.loads(pickle.dumps(ties))
    assert {t: x.kind for t, x in again.of("e1", TODAY).items()} == TIED


def test_a_talents_ties_are_a_few_numbers_in_arrays_by_table_row():
    """At 1M talents the ties held 456 MB of dicts, tuples and key strings: now a talent costs its employer's number
    and a hash per distinct name and work title (a title listed twice keeps its latest year), in arrays."""
    title = [_work("Perovskite tandem cells", 2025), _work("perovskite TANDEM cells.", 2026)]
    talents = [Talent(id=f"t{i}", name="李明", name_en="Li Ming", employer="嘉光新能源有限公司", **OK, works=title)
               for i in range(3)]  # fmt: skip
    for ties in (
        Ties.build(talents, ENTERPRISES, []),
        pickle.loads(pickle.dumps(Ties.build(talents, ENTERPRISES, []))),
    ):
        assert ties.employer.view.tolist() == [0, 0, 0] and ties.employer_keys == ["嘉光新能源"]
        assert ties.names.hashes.tolist() == [key_hash("李明"), key_hash("liming")] * 3
        assert ties.works.hashes.tolist() == [key_hash("perovskitetandemcells")] * 3
        assert ties.works.years.tolist() == [2026] * 3
        assert set(ties.of("e1", TODAY)) == {t.id for t in talents}


def test_the_ties_of_many_talents_weigh_bytes_not_objects():
    import tracemalloc

    from features.table import TalentTable

    talents = [Talent(id=f"t{i}", name=f"Person {i}", name_zh=f"人{i}", employer=f"Lab {i % 50}", **OK,
                      works=[_work(f"Paper {i} {j}", 2020) for j in range(3)]) for i in range(2000)]  # fmt: skip
    table = TalentTable.build(talents)
    table.settle()
    tracemalloc.start()
    ties = Ties.build(talents, ENTERPRISES, [], table)
    held = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert held / len(talents) < 200, held / len(talents)  # as dicts, tuples and key strings: ~1,000
    assert len(ties.employer_keys) == 50


def test_many_needs_against_one_talent_apply_the_rule_too(idx):
    from features.matrix import talent_matrix
    from features.pairs import NeedSet
    from matcher.retrieve import retrieve_needs

    needs = [
        Need(id="n-eval", title="perovskite researcher", enterprise_id="e1", kind="special_researcher"),
        Need(id="n-plain", title="perovskite engineer", enterprise_id="e1", kind="full_time"),
        Need(id="n-other", title="perovskite chips", enterprise_id="e2", kind="special_researcher"),
    ]
    world = Indices.build({"talent": TALENTS, "enterprise": ENTERPRISES, "relation": RELATIONS, "need": needs},
                          encoder=None)  # fmt: skip
    ids = [n.id for n in needs]
    assert world.ties.allows("founder", world.rows(["founder"]), world.table, ids, world.needs).tolist() == [
        False, True, True]  # fmt: skip
    assert world.ties.allows("free", world.rows(["free"]), world.table, ids, world.needs).all()
    batch = NeedSet(world, needs)
    assert set(talent_matrix(world, batch, "founder").need_ids) <= {"n-plain", "n-other"}
    assert "n-eval" not in talent_matrix(world, batch, "founder").need_ids
    assert "n-eval" in talent_matrix(world, batch, "free").need_ids
    founder = world.talents["founder"].model_copy(update={"summary": "perovskite"})
    world.add_talent(founder)
    assert "n-eval" not in [n for n, _ in retrieve_needs(world, founder, k=5)]


def test_the_ties_survive_an_index_snapshot(tmp_path):
    from features import snapshot

    idx = Indices.build({"talent": TALENTS, "enterprise": ENTERPRISES, "relation": RELATIONS}, encoder=None)
    path = snapshot.save(idx, tmp_path, seq=7)
    again = snapshot.load(path, encoder=None)
    assert {t: x.kind for t, x in again.ties.of("e1", TODAY).items()} == TIED
    again.add_talent(TALENTS[0].model_copy(update={"employer": "Acme Chips Ltd"}))  # still kept in step after load
    assert "free" in again.ties.of("e2", TODAY)


def _work(title, year=None):
    return {"title": title, "year": year}


CO_AUTHORS = [
    Talent(id="staff", name="李明", employer="嘉光新能源有限公司", **OK, works=[  # e1's staff (inferred)
        _work("Perovskite tandem cells", 2025), _work("Old Paper", 2022), _work("Edge Paper", 2023),
        _work("Undated Patent"), _work("Annual report", 2026)]),
    Talent(id="recent", name="Co Recent", **OK, works=[_work("perovskite  TANDEM cells.", 2024)]),  # same title
    Talent(id="edge", name="Co Edge", **OK, works=[_work("Edge Paper", 2023)]),
    Talent(id="old", name="Co Old", **OK, works=[_work("Old Paper", 2022)]),  # ended more than the window ago
    Talent(id="undated", name="Co Undated", **OK, works=[_work("Undated Patent")]),  # no year: counts
    *[Talent(id=f"generic{i}", name=f"G {i}", **OK, works=[_work("Annual report", 2026)])
      for i in range(SHARED_TITLE_MAX)],  # with staff, one more than may list it: names no collaboration
    Talent(id="stranger", name="Co Stranger", **OK, works=[_work("Something else", 2026)]),
]  # fmt: skip


def test_co_authors_of_staff_are_inferred_from_a_shared_work_title_within_the_window():
    idx = Indices.build({"talent": CO_AUTHORS, "enterprise": ENTERPRISES}, encoder=None)
    ties = idx.ties.of("e1", TODAY)
    assert {t: x.kind for t, x in ties.items()} == {
        "staff": "employee", "recent": "co_author", "edge": "co_author", "undated": "co_author"}  # fmt: skip
    assert ties["recent"].source == WORKS_SOURCE and ties["recent"].relation_id is None
    ids = [t.id for t in CO_AUTHORS]
    evaluated = Need(id="n", title="post", enterprise_id="e1", kind="special_researcher").kind
    passes, _, found = idx.ties.check("e1", evaluated, idx.table.rows(ids), idx.table, TODAY)
    removed = {i for i, ok in zip(ids, passes.tolist(), strict=True) if not ok}
    assert removed == {"staff", "recent", "edge", "undated"} and found["recent"].source == WORKS_SOURCE
    assert idx.ties.enterprises_of("recent") == {"e1"} and idx.ties.enterprises_of("stranger") == set()


def test_a_shared_work_counts_from_the_end_of_its_year_for_the_window():
    ties = Ties.build(CO_AUTHORS, ENTERPRISES, [])
    ties.window_days = (TODAY - date(2023, 12, 31)).days  # "Edge Paper" (2023) ended exactly the window ago
    ties.forget()
    assert "edge" in ties.of("e1", TODAY)
    ties.window_days -= 1
    ties.forget()
    assert "edge" not in ties.of("e1", TODAY) and "recent" in ties.of("e1", TODAY)


@pytest.mark.parametrize("slack", [4096, -(10**9)], ids=["scanned", "sorted-again"])
def test_co_author_ties_follow_writes_and_erasure(monkeypatch, slack):
    """A title written after the index was sorted is found by the scan of the entries since, or (no slack) by
    sorting again at once: the same answers either way."""
    monkeypatch.setattr(conflict, "TITLE_INDEX_SLACK", slack)
    idx = Indices.build({"talent": CO_AUTHORS, "enterprise": ENTERPRISES}, encoder=None)
    idx.add_talent(CO_AUTHORS[1].model_copy(update={"works": []}))  # its row listing the title is a tombstone now
    assert "recent" not in idx.ties.of("e1", TODAY)
    idx.remove_talent("generic0")  # 20 live talents list "Annual report", staff among them: a collaboration
    assert idx.ties.of("e1", TODAY)["generic1"].kind == "co_author"
    idx.add_talent(CO_AUTHORS[-1].model_copy(update={"works": [Work(title="Perovskite tandem cells", year=2026)]}))
    assert idx.ties.of("e1", TODAY)["stranger"].kind == "co_author"  # a new work shared with staff
    idx.add_talent(CO_AUTHORS[0].model_copy(update={"employer": "Elsewhere Ltd"}))  # staff no longer at e1
    assert not idx.ties.of("e1", TODAY)
    rows = np.array([i for i, rid in enumerate(idx.table.ids) if rid == "staff"])
    idx.erase_talent("staff")  # every row staff ever had: nothing of its names, titles or employer stays
    assert len(rows) == 2 and (idx.ties.employer.view[rows] == -1).all()
    for lists in (idx.ties.names, idx.ties.works):
        assert not lists.hashes[lists.gather(rows)[1]].any()
    assert "recent" not in idx.ties.of("e1", TODAY)


def test_postings_hold_a_lone_id_as_itself_and_read_the_same_either_way():
    """A name or work title of one talent costs its id, not a 216-byte set; ``get`` reads ids, never characters."""
    p = Postings()
    p.add("k", "t-1")
    p.add("k", "t-1")
    assert dict.get(p, "k") == "t-1" and list(p.get("k")) == ["t-1"] and list(p.get("none")) == []
    p.add("k", "t-2")
    assert set(p.get("k")) == {"t-1", "t-2"}
    p.discard("k", "t-1")
    assert dict.get(p, "k") == "t-2"  # back to the lone id
    p.discard("k", "nope")
    p.discard("missing", "t-2")
    p.discard("k", "t-2")
    assert "k" not in p and not p
    p.add("a", "t-1")
    p.add("b", "t-1")
    p.add("b", "t-2")
    back = pickle.loads(pickle.dumps(p))
    assert type(back) is Postings and {k: set(back.get(k)) for k in back} == {"a": {"t-1"}, "b": {"t-1", "t-2"}}
