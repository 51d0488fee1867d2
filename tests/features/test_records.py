"""Record validation: sparse records are enough, everything else has a documented default, bad values are named."""

import gc

import pytest
from pydantic import ValidationError

from features.records import (
    RECORD_TYPES,
    Availability,
    AvailabilityMode,
    FeedbackEvent,
    Need,
    NeedKind,
    Talent,
    Tier,
    dump,
    need_text,
    share_internals,
    talent_text,
)


def errors(model, data):
    with pytest.raises(ValidationError) as e:
        model.model_validate(data)
    return {".".join(map(str, err["loc"])): err["msg"] for err in e.value.errors()}


def test_minimal_talent_and_need():
    t = Talent.model_validate({"id": "t1", "summary": "Perovskite solar cells"})
    assert t.consent.matching and not t.consent.sharing and not t.consent.cross_border
    assert t.availability.mode is None and t.availability.months_per_year is None  # not stated, never assumed
    stated = Talent.model_validate({"id": "t2", "summary": "x", "availability": {"mode": "full_time"}})
    assert stated.availability.mode is AvailabilityMode.full_time and stated.availability.months_per_year == 12
    assert t.tier is None and t.skills == [] and t.sites == []
    n = Need.model_validate({"id": "n1", "title": "光伏研发专家"})
    assert n.kind is NeedKind.full_time and n.status == "open" and n.min_tier is None


def test_talent_needs_a_name_or_summary():
    assert "a talent needs a name" in errors(Talent, {"id": "t1"})[""]


@pytest.mark.parametrize(
    ("model", "data", "field"),
    [
        (Talent, {"id": "", "name": "x"}, "id"),
        (Talent, {"id": "a b", "name": "x"}, "id"),
        (Talent, {"id": "t", "name": "x", "tier": "Z"}, "tier"),
        (Talent, {"id": "t", "name": "x", "nationality": "Germany"}, "nationality"),
        (Talent, {"id": "t", "name": "x", "disciplines": ["F0201", "Q99"]}, "disciplines"),
        (Talent, {"id": "t", "name": "x", "h_index": -1}, "h_index"),
        (
            Talent,
            {"id": "t", "name": "x", "availability": {"mode": "short_term", "months_per_year": 13}},
            "availability.months_per_year",
        ),
        (Talent, {"id": "t", "name": "x", "residence": {"country": "CN", "town": "Jiaxing"}}, "residence.town"),
        (Talent, {"id": "t", "name": "x", "works": [{"abstract": "no title"}]}, "works.0.title"),
        (Need, {"id": "n", "title": "x", "kind": "part_time"}, "kind"),
        (Need, {"id": "n", "title": "  "}, "title"),
        (Need, {"id": "n", "title": "x", "colour": "red"}, "colour"),
        (FeedbackEvent, {"need_id": "n", "talent_id": "t", "action": "like"}, "action"),
    ],
)
def test_bad_values_are_named(model, data, field):
    assert field in errors(model, data)


def test_unknown_discipline_message_says_how_to_fix():
    msg = errors(Talent, {"id": "t", "name": "x", "disciplines": ["Q99"]})["disciplines"]
    assert "Q99" in msg and "F0201" in msg


def test_normalisation():
    t = Talent.model_validate(
        {"id": " t1 ", "name": "Anna", "nationality": "de", "languages": ["EN", "de"], "skills": ["光刻", "光刻", ""]}
    )
    assert (t.id, t.nationality, t.languages, t.skills) == ("t1", "DE", ["en", "de"], ["光刻"])


def test_tier_rank_orders_a_above_e():
    assert [t.rank for t in Tier] == [5, 4, 3, 2, 1]


def test_feedback_id_is_derived_from_content():
    a = FeedbackEvent.model_validate({"need_id": "n", "talent_id": "t", "action": "hire"})
    b = FeedbackEvent.model_validate({"need_id": "n", "talent_id": "t", "action": "hire"})
    c = FeedbackEvent.model_validate({"need_id": "n", "talent_id": "t", "action": "reject"})
    assert a.id == b.id != c.id
    assert FeedbackEvent.model_validate({"id": "f1", "need_id": "n", "talent_id": "t", "action": "hire"}).id == "f1"


@pytest.mark.parametrize("kind", list(RECORD_TYPES))
def test_dump_round_trips(kind):
    samples = {
        "platform": {"id": "p1", "name": "嘉兴科技城", "industries": ["software", "semiconductors"]},
        "incubator": {"id": "i1", "name": "慕尼黑海纳孵化器", "country": "DE", "city_synthetic": True},
        "enterprise": {"id": "e1", "name": "嘉兴光伏科技", "platform_id": "p1"},
        "need": {"id": "n1", "title": "特聘研究员", "kind": "special_researcher", "months_per_year": 3},
        "talent": {
            "id": "t1",
            "name": "Li Wei",
            "tier": "C",
            "availability": {"mode": "short_term", "months_per_year": 4},
            "works": [{"title": "GaN HEMT", "year": 2021, "kind": "patent"}],
            "consent": {"sharing": True},
        },
        "feedback": {"need_id": "n1", "talent_id": "t1", "action": "shortlist", "position": 3},
        "relation": {
            "talent_id": "t1",
            "enterprise_id": "e1",
            "kind": "former_employee",
            "source": "hr",
            "start": "2019-03-01",
            "end": "2024-06-30",
        },
    }
    model = RECORD_TYPES[kind]
    record = model.model_validate(samples[kind])
    assert model.model_validate(dump(record)) == record
    assert dump(model.model_validate(dump(record))) == dump(record)


def test_text_helpers_join_all_free_text():
    t = Talent(id="t", summary="Solar", skills=["光伏"], works=[{"title": "Perovskite", "abstract": "tandem cells"}])
    assert talent_text(t) == "Solar 光伏 Perovskite tandem cells"
    n = Need(id="n", title="光伏专家", description="钙钛矿", required_skills=["叠层电池"])
    assert need_text(n) == "光伏专家 钙钛矿 叠层电池"


def test_text_helpers_make_every_run_of_white_space_one_space():
    """Every code point ``re``'s ``\\s`` calls white space (tabs, line breaks, no-break and ideographic spaces, the
    information separators) is one, and only those: the text indices tokenise what the regex version gave them."""
    import re
    import sys

    space = "".join(c for c in map(chr, range(sys.maxunicode + 1)) if re.fullmatch(r"\s", c))
    assert {"\t", "\n", "\xa0", "\u3000", "\x1c"} <= set(space) and "\u200b" not in space
    t = Talent(id="t", summary=f"{space}Solar{space}\u200b光伏 ", skills=["a\u3000b"], works=[{"title": "x\n\ny"}])
    assert talent_text(t) == "Solar \u200b光伏 a b x y"
    assert need_text(Need(id="n", title=f"\t光伏{space}专家\n")) == "光伏 专家"


def test_availability_short_term_keeps_months():
    assert Availability(mode="short_term", months_per_year=3).months_per_year == 3


@pytest.mark.parametrize(
    ("record", "field"),
    [
        ({"id": "t", "name": "a\x00b"}, "name"),
        ({"id": "t", "summary": "ok", "skills": ["x", "\ud800"]}, "skills.1"),
        ({"id": "t", "name": "x", "works": [{"title": "\udfff"}]}, "works.0.title"),
        ({"id": "t\x00", "name": "x"}, "id"),
        ({"id": "t", "name": "x", "salary_expectation": float("inf")}, "salary_expectation"),
        ({"id": "t", "name": "x", "salary_expectation": float("nan")}, "salary_expectation"),
        ({"id": "t", "name": "x", "h_index": 10**20}, "h_index"),
        ({"id": "t", "name": "x", "updated_at": "0001-01-01T00:00:00+08:00"}, "updated_at"),
        ({"id": "t", "name": "x", "nationality": "\ufb00"}, "nationality"),  # "ﬀ".upper() == "FF": not a code
    ],
)
def test_text_no_database_stores_and_numbers_out_of_range_are_refused_by_field(record, field):
    """NUL and lone surrogates (PostgreSQL stores neither), NaN and infinity, counts past any integer column, dates
    whose UTC conversion overflows: a clear error naming the field, for the API and imports alike."""
    with pytest.raises(ValidationError) as e:
        Talent.model_validate(record)
    assert ".".join(str(p) for p in e.value.errors()[0]["loc"]) == field, e.value.errors()


def _talent(i: int) -> Talent:
    return Talent.model_validate({
        "id": f"t{i}", "name": f"Person {i}", "skills": ["deep learning", f"skill {i % 2}"],
        "residence": {"country": "CN", "city": "上海"}, "availability": {"mode": "remote"},
        "education": [{"degree": "phd", "institution": "Zhejiang University", "year": 2000 + i}],
        "works": [{"title": f"Work {i}", "abstract": "Perovskite cells"}], "consent": {"sharing": i % 2 == 0},
    })  # fmt: skip


def test_shared_internals_change_no_value_and_share_what_repeats():
    talents, originals = [_talent(i) for i in range(4)], [_talent(i) for i in range(4)]
    for t in talents:
        assert share_internals(t) is t
    for t, o in zip(talents, originals, strict=True):
        assert t == o and dump(t) == dump(o) and t.model_dump_json() == o.model_dump_json()
        assert talent_text(t) == talent_text(o)
    a, b = talents[0], talents[2]
    assert a.residence is b.residence and a.availability is b.availability  # equal nested models: one instance
    assert a.skills[0] is b.skills[0] and a.education[0].institution is b.education[0].institution  # interned
    assert a.__pydantic_fields_set__ is b.__pydantic_fields_set__  # one set per model class
    assert a.model_copy(update={"name": "X"}).name == "X" and a.name == "Person 0"  # copies stay independent


def test_a_shared_residence_goes_with_the_last_record_using_it():
    from features import records

    t = share_internals(Talent.model_validate({"id": "t1", "name": "A", "residence": {"city": "Erased-city-77"}}))
    assert any(k[2] == "Erased-city-77" for k in records._SHARED if len(k) > 2)
    del t
    gc.collect()
    assert not any("Erased-city-77" in map(str, k) for k in records._SHARED)
