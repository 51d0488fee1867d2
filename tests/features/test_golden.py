"""The golden record: newest non-empty value per field, lists unioned without duplicates, provenance per field."""

from datetime import UTC, datetime

import pytest

from features.golden import golden, normalise_title
from features.records import Education, Talent, Work


def _at(day: int) -> datetime:
    return datetime(2025, 1, day, tzinfo=UTC)


def test_newest_non_empty_value_wins_and_lists_union_with_provenance():
    old = Talent(id="a", name="王立新", email="old@x.cn", employer="Old Co", skills=["PV", "perovskite"],
                 languages=["zh"], works=[Work(title="Perovskite  Cells."), Work(title="Tandem modules")],
                 education=[Education(institution="Zhejiang University", year=2010)], h_index=12,
                 updated_at=_at(1))  # fmt: skip
    new = Talent(id="b", name="Lixin Wang", employer="New Co", skills=["pv", "HJT"], languages=["en", "zh"],
                 works=[Work(title="perovskite cells")], updated_at=_at(9))  # fmt: skip
    undated = Talent(id="0", name="L. Wang", email="undated@x.cn", phone="+86 138 0000 0000")
    card = golden("0", [old, undated, new])

    assert card.records == ["0", "a", "b"]
    f, p = card.fields, card.provenance
    assert (f["name"], p["name"]) == ("Lixin Wang", "b")  # the newest record has one
    assert (f["employer"], p["employer"]) == ("New Co", "b")
    assert (f["email"], p["email"]) == ("old@x.cn", "a")  # the newest has none: the next newest's
    assert (f["phone"], p["phone"]) == ("+86 138 0000 0000", "0")  # only the undated (oldest) record has one
    assert (f["h_index"], p["h_index"]) == (12, "a")
    assert f["skills"] == ["pv", "HJT", "perovskite"] and p["skills"] == ["b", "b", "a"]  # "PV" is "pv"
    assert f["languages"] == ["en", "zh"] and p["languages"] == ["b", "b"]
    assert [w["title"] for w in f["works"]] == ["perovskite cells", "Tandem modules"] and p["works"] == ["b", "a"]
    assert f["education"][0]["institution"] == "Zhejiang University" and p["education"] == ["a"]
    assert f["updated_at"] == _at(9).isoformat()
    assert "id" not in f and "tier" not in f  # empty everywhere: left out, not made up


def test_ties_go_to_the_smaller_id_and_no_records_is_an_error():
    same = [Talent(id="y", name="Y", updated_at=_at(3)), Talent(id="x", name="X", updated_at=_at(3))]
    assert golden("x", same).fields["name"] == "X"
    with pytest.raises(ValueError, match="no records"):
        golden("x", [])


def test_titles_normalise_case_width_and_punctuation():
    assert normalise_title("Ｐerovskite, Cells!") == normalise_title("perovskite cells") == "perovskite cells"
