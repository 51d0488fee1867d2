"""Reading record files: every bad input becomes an issue naming file, line and field; good input is read whole."""

import tracemalloc
from pathlib import Path

import orjson
import pytest

from features.io import ImportIssue, World, kind_of_file, load_world, read_records, write_records
from features.records import Need, Talent, dump


def jsonl(path: Path, *rows: object) -> Path:
    """Write rows (dicts serialised, str/bytes as-is) one per line."""
    out = b""
    for r in rows:
        out += (r if isinstance(r, bytes) else r.encode() if isinstance(r, str) else orjson.dumps(r)) + b"\n"
    path.write_bytes(out)
    return path


def where(result) -> list[str]:
    """Issues as ``file:line: field`` (messages checked separately where they matter)."""
    return [f"{Path(i.file).name}:{i.line}: {i.field}" for i in result.issues]


def test_issue_formats_as_file_line_field_message():
    assert str(ImportIssue("talents.jsonl", 7, "tier", "bad")) == "talents.jsonl:7: tier: bad"


def test_sparse_records_are_enough(tmp_path):
    talents = read_records(
        jsonl(tmp_path / "talents.jsonl", {"id": "t1", "name": "Li"}, {"id": "t2", "summary": "光伏 researcher"}),
        "talent",
    )
    needs = read_records(jsonl(tmp_path / "needs.jsonl", {"id": "n1", "title": "Chemist"}), "need")
    assert talents.issues == [] and needs.issues == []
    assert [t.id for t in talents.records] == ["t1", "t2"] and talents.lines == [1, 2]
    assert needs.records == [Need(id="n1", title="Chemist")]


def test_each_bad_jsonl_line_is_named(tmp_path):
    path = jsonl(
        tmp_path / "talents.jsonl",
        {"id": "t1", "name": "Li"},
        '{"id": "t2", "name": ',  # invalid JSON
        {"id": "t3", "name": "X", "h_index": "lots"},  # wrong type
        {"name": "no id"},  # missing id
        {"id": "t1", "name": "again"},  # duplicate of line 1
        {"id": "t6", "name": "X", "tier": "Z"},  # bad enum
        {"id": "t7", "name": "X", "residence": {"country": "China"}},  # nested field
        [1, 2],  # not an object
        {"id": "t9"},  # neither name nor summary
        {"id": "t10", "name": "X", "colour": "blue"},  # unknown field
    )
    result = read_records(path, "talent")
    assert where(result) == [
        "talents.jsonl:2: -",
        "talents.jsonl:3: h_index",
        "talents.jsonl:4: id",
        "talents.jsonl:5: id",
        "talents.jsonl:6: tier",
        "talents.jsonl:7: residence.country",
        "talents.jsonl:8: -",
        "talents.jsonl:9: -",
        "talents.jsonl:10: colour",
    ]
    msgs = [i.message for i in result.issues]
    assert "invalid JSON" in msgs[0]
    assert "valid integer" in msgs[1] and "'lots'" in msgs[1]
    assert msgs[2] == "required field is missing"
    assert "duplicate id 't1' (also on line 1)" in msgs[3]
    assert "'A', 'B', 'C', 'D' or 'E'" in msgs[4] and "'Z'" in msgs[4]
    assert "expected a JSON object" in msgs[6] and "array" in msgs[6]
    assert "name" in msgs[7] and "summary" in msgs[7]
    assert "unknown field" in msgs[8] and "skills" in msgs[8]
    assert [t.id for t in result.records] == ["t1"]


def test_duplicate_is_caught_even_when_the_first_copy_is_invalid(tmp_path):
    path = jsonl(tmp_path / "t.jsonl", {"id": "t1", "name": "X", "tier": "Z"}, {"id": "t1", "name": "Y"})
    assert where(read_records(path, "talent")) == ["t.jsonl:1: tier", "t.jsonl:2: id"]


def test_feedback_ids_derive_from_content_and_duplicates_are_caught(tmp_path):
    event = {"need_id": "n1", "talent_id": "t1", "action": "view", "time": "2024-01-01T00:00:00Z"}
    path = jsonl(tmp_path / "feedback.jsonl", event, {**event, "action": "hire"}, event)
    result = read_records(path, "feedback")
    assert where(result) == ["feedback.jsonl:3: id"]
    assert len({r.id for r in result.records}) == 2 and all(r.id.startswith("fb-") for r in result.records)


def test_non_utf8_byte_names_line_and_offset(tmp_path):
    path = jsonl(tmp_path / "talents.jsonl", {"id": "t1", "name": "Li"}, b'{"id": "t2", "name": "\xff"}')
    result = read_records(path, "talent")
    assert where(result) == ["talents.jsonl:2: -"]
    assert "0xff" in result.issues[0].message and "byte offset 22" in result.issues[0].message
    assert [t.id for t in result.records] == ["t1"]


@pytest.mark.parametrize("content", [b"", b"\n\n  \n"])
def test_empty_file_is_an_error(tmp_path, content):
    (tmp_path / "talents.jsonl").write_bytes(content)
    result = read_records(tmp_path / "talents.jsonl", "talent")
    assert where(result) == ["talents.jsonl:1: -"] and "empty file" in result.issues[0].message


def test_blank_lines_crlf_and_bom_are_fine_and_line_numbers_stay_physical(tmp_path):
    path = tmp_path / "talents.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"id": "t1", "name": "Li"}\r\n\r\n\n{"id": "t2", "tier": "Q", "name": "W"}\r\n')
    result = read_records(path, "talent")
    assert where(result) == ["talents.jsonl:4: tier"] and [t.id for t in result.records] == ["t1"]


def test_ten_megabyte_line_is_one_clear_error_without_a_memory_spike(tmp_path):
    path = tmp_path / "talents.jsonl"
    with path.open("wb") as f:
        f.write(b'{"id": "t1", "name": "Li"}\n')
        big = b'{"id": "t2", "summary": "' + b"x" * 10_000_000 + b'"}'
        f.write(big + b"\r\n")
        f.write(b'{"id": "t3", "name": "Wang"}\n')
    tracemalloc.start()
    result = read_records(path, "talent", max_line_bytes=1_048_576)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert where(result) == ["talents.jsonl:2: -"]
    assert (
        "TALENTMATCH_MAX_LINE_BYTES" in result.issues[0].message and f"{len(big):,} bytes" in result.issues[0].message
    )
    assert [t.id for t in result.records] == ["t1", "t3"]
    assert peak < 4 * 1_048_576, f"peak {peak:,} bytes while skipping an overlong line"


def test_line_of_exactly_the_limit_is_accepted(tmp_path):
    line = orjson.dumps({"id": "t1", "summary": "y" * 2000})
    path = jsonl(tmp_path / "talents.jsonl", line)
    assert read_records(path, "talent", max_line_bytes=len(line)).issues == []
    assert where(read_records(path, "talent", max_line_bytes=len(line) - 1)) == ["talents.jsonl:1: -"]


def test_unsupported_extension(tmp_path):
    (tmp_path / "talents.json").write_text("[]")
    result = read_records(tmp_path / "talents.json", "talent")
    assert where(result) == ["talents.json:1: -"] and ".jsonl or .csv" in result.issues[0].message


# --- CSV -----------------------------------------------------------------------------------------------------------


def test_csv_lists_dotted_headers_json_cells_and_empty_cells(tmp_path):
    path = tmp_path / "talents.csv"
    path.write_text(
        "id,name,skills,residence.city,residence.in_yrd,consent.sharing,availability.mode,"
        "availability.months_per_year,works,tier\n"
        't1,李伟,perovskite; 钙钛矿 ;,上海,true,yes,short_term,3,"[{""title"": ""Stable cells"", ""year"": 2021}]",B\n'
        "t2,Anna,,,,,,,,\n",
        encoding="utf-8",
    )
    result = read_records(path, "talent")
    assert result.issues == []
    t1, t2 = result.records
    assert t1.skills == ["perovskite", "钙钛矿"] and t1.residence.city == "上海" and t1.residence.in_yrd is True
    assert t1.consent.sharing is True and t1.availability.months_per_year == 3 and t1.works[0].year == 2021
    assert t2 == Talent(id="t2", name="Anna")


def test_csv_missing_required_columns_is_one_header_error(tmp_path):
    path = tmp_path / "needs.csv"
    path.write_text("description,kind\nx,enclave\ny,enclave\n")
    result = read_records(path, "need")
    assert where(result) == ["needs.csv:1: header"]
    msg = result.issues[0].message
    assert "missing required column(s) id, title" in msg and "columns found: description, kind" in msg


def test_csv_talent_needs_a_name_or_summary_column_and_no_unknown_columns(tmp_path):
    path = tmp_path / "talents.csv"
    path.write_text("id,tier,colour,residence.planet\nt1,A,blue,Mars\n")
    (issue,) = read_records(path, "talent").issues
    assert (issue.line, issue.field) == (1, "header")
    assert "one of name, name_zh, name_en, summary" in issue.message
    assert "unknown column(s) colour, residence.planet" in issue.message


def test_csv_bad_rows_are_named_by_their_first_line(tmp_path):
    path = tmp_path / "talents.csv"
    path.write_text(
        "id,name,summary,works,tier\n"
        't1,Li,"a summary\nover two lines",,B\n'  # lines 2-3
        "t2,Wang,,,Z\n"  # line 4: bad enum
        't3,Zhao,,"[{""title"": ",C\n'  # line 5: bad JSON cell
        "t4,Sun\n"  # line 6: too few cells
        "t1,Dup,,,\n"  # line 7: duplicate
    )
    result = read_records(path, "talent")
    assert where(result) == ["talents.csv:4: tier", "talents.csv:5: works", "talents.csv:6: -", "talents.csv:7: id"]
    assert "JSON" in result.issues[1].message and "2 cells but the header has 5" in result.issues[2].message
    assert result.records[0].summary == "a summary\nover two lines"


def test_csv_header_only_and_empty(tmp_path):
    (tmp_path / "a.csv").write_text("id,name\n")
    (tmp_path / "b.csv").write_text("")
    assert "no records" in read_records(tmp_path / "a.csv", "talent").issues[0].message
    assert "empty file" in read_records(tmp_path / "b.csv", "talent").issues[0].message


def test_csv_non_utf8(tmp_path):
    path = tmp_path / "talents.csv"
    path.write_bytes(b"id,name\nt1,Li\nt2,\xe6\x9d\x8e\xc3\n")
    result = read_records(path, "talent")
    assert where(result) == ["talents.csv:3: -"] and "byte offset 6" in result.issues[0].message


# --- worlds and writing --------------------------------------------------------------------------------------------


def test_load_world_reads_any_subset_jsonl_or_csv_and_never_the_hidden_file(tmp_path):
    jsonl(tmp_path / "talents.jsonl", {"id": "t1", "name": "Li"})
    (tmp_path / "needs.csv").write_text("id,title\nn1,Chemist\n")
    (tmp_path / "truth.jsonl").write_text("not json at all\n")
    (tmp_path / "notes.txt").write_text("ignored")
    world = load_world(tmp_path)
    assert isinstance(world, World) and world.issues == []
    assert list(world) == ["need", "talent"] and [n.id for n in world["need"]] == ["n1"]


def test_load_world_problems(tmp_path):
    jsonl(tmp_path / "talents.jsonl", {"id": "t1", "name": "Li"})
    (tmp_path / "talents.csv").write_text("id,name\nt1,Li\n")
    assert "keep only one" in load_world(tmp_path).issues[0].message
    (tmp_path / "empty").mkdir()
    assert "no record files" in load_world(tmp_path / "empty").issues[0].message
    assert "not a directory" in load_world(tmp_path / "missing").issues[0].message


def test_kind_of_file():
    assert kind_of_file("x/talents.csv") == "talent" and kind_of_file("feedback.jsonl") == "feedback"
    assert kind_of_file("people.jsonl") is None


def test_write_records_is_sorted_canonical_and_reads_back(tmp_path):
    records = [Talent(id="t2", summary="b"), Talent(id="t1", name="李", tier="A", skills=["x"])]
    path = tmp_path / "talents.jsonl"
    assert write_records(path, records) == 2
    data = path.read_bytes()
    assert data.endswith(b"\n") and data.decode("utf-8").count("\n") == 2
    assert data.splitlines() == [orjson.dumps(dump(r)) for r in sorted(records, key=lambda r: r.id)]
    assert read_records(path, "talent").records == sorted(records, key=lambda r: r.id)
