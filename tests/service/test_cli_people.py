"""``talentmatch people link`` as a user runs it: real console script on a hand-made world folder."""

import json
import os
import subprocess
import sys
from pathlib import Path

from pypinyin import lazy_pinyin

from features.io import write_records
from features.records import Talent, Work

TALENTMATCH = Path(sys.executable).with_name("talentmatch")
SURNAMES = "张李刘陈杨黄赵周吴徐孙胡朱高林何郭马罗梁"
GIVEN = "立新伟芳娜敏静丽强磊军洋勇艳杰娟涛明超"


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([str(TALENTMATCH), *args], cwd=cwd, env=env, capture_output=True, text=True)


def _world(folder: Path) -> None:
    """200 people (distinct names), every fifth also written in pinyin with the same e-mail: 40 two-record persons."""
    talents = []
    for i in range(200):
        zh = SURNAMES[i % 20] + GIVEN[i // 20] + GIVEN[(i * 7) % len(GIVEN)]
        works = [Work(title=f"study number {i}")]
        talents.append(Talent(id=f"T{i:03d}", name=zh, name_zh=zh, email=f"p{i}@example.com", works=works))
        if i % 5 == 0:
            surname, *given = lazy_pinyin(zh)
            pinyin = f"{''.join(given).title()} {surname.title()}"
            talents.append(Talent(id=f"D{i:03d}", name=pinyin, email=f"P{i}@example.com ", works=works))
    folder.mkdir()
    write_records(folder / "talents.jsonl", talents)


def test_people_link_counts_records_persons_and_review(tmp_path):
    _world(tmp_path / "w")
    done = run("people", "link", "--world", str(tmp_path / "w"), "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["records"] == 240 and doc["persons"] == 200 and doc["multi_record_persons"] == 40
    assert doc["threshold"] == 0.5 and doc["review_pairs"] >= 0 and doc["seconds"] > 0

    done = run("people", "link", "--world", str(tmp_path / "w"), "--threshold", "1.5", cwd=tmp_path)
    assert done.returncode == 2 and "--threshold" in done.stderr


def test_people_apply_review_confirm_reject_undo_through_the_store(tmp_path):
    """The office's round trip on a SQLite file: apply, the queue, a confirm and a reject, an undo, a re-run."""
    _world(tmp_path / "w")
    url = f"sqlite:///{tmp_path / 'p.db'}"
    assert run("db", "import", str(tmp_path / "w"), "--url", url, cwd=tmp_path).returncode == 0
    refused = run("people", "link", "--world", str(tmp_path / "w"), "--apply", cwd=tmp_path)
    assert refused.returncode == 1 and "--url" in refused.stderr

    done = run("people", "link", "--url", url, "--apply", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert (doc["records"], doc["persons"], doc["new_records"], doc["applied"]) == (240, 200, 240, True)
    queue = json.loads(run("people", "review", "--url", url, "--json", cwd=tmp_path).stdout)
    assert all(0.3 <= p["probability"] < 0.9 for p in queue)

    merged = run("people", "confirm", "T001", "T002", "--url", url, "--json", cwd=tmp_path)
    assert merged.returncode == 0 and json.loads(merged.stdout)["persons"] == {"T001": "T001", "T002": "T001"}
    assert run("people", "reject", "T003", "T004", "--url", url, cwd=tmp_path).returncode == 0
    undone = run("people", "undo", "D000", "--url", url, cwd=tmp_path)
    assert undone.returncode == 0 and "D000, T000" in undone.stdout
    again = run("people", "link", "--url", url, "--apply", "--json", cwd=tmp_path)
    assert json.loads(again.stdout)["new_records"] == 0 and json.loads(again.stdout)["persons"] == 200
    # undone (D000, T000 apart: +1), confirmed (T001 with T002: -1) and both kept by the re-run
    wrong = run("people", "reject", "T000", "ghost", "--url", url, cwd=tmp_path)
    assert wrong.returncode == 1 and "'ghost' does not exist" in wrong.stderr
    one = run("people", "reject", "D005", "T005", "--url", url, cwd=tmp_path)
    assert one.returncode == 1 and "undo it first" in one.stderr


def test_db_import_links_new_talents_with_the_saved_model(tmp_path):
    """After a full link, `db import` links the imported talents into the existing people (printed); --no-link leaves
    them for `people link --new`; before any full link an import says it did not link."""
    _world(tmp_path / "w")
    talents = (tmp_path / "w" / "talents.jsonl").read_text().splitlines()
    later = [line for line in talents if '"id":"D01' in line or '"id":"D02' in line]  # D010 D015 D020 D025
    assert len(later) == 4
    (tmp_path / "w" / "talents.jsonl").write_text("".join(f"{line}\n" for line in talents if line not in later))
    (tmp_path / "later.jsonl").write_text(f"{later[0]}\n{later[1]}\n")
    (tmp_path / "last.jsonl").write_text(f"{later[2]}\n{later[3]}\n")
    url = f"sqlite:///{tmp_path / 'p.db'}"
    first = run("db", "import", str(tmp_path / "w"), "--url", url, cwd=tmp_path)
    assert first.returncode == 0 and "new talents not linked (no saved linkage model" in first.stdout
    assert run("people", "link", "--url", url, "--new", cwd=tmp_path).returncode == 1  # nothing to link with yet
    assert run("people", "link", "--url", url, "--apply", cwd=tmp_path).returncode == 0

    done = run("db", "import", str(tmp_path / "later.jsonl"), "--kind", "talent", "--url", url, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "people: 2 new talent(s) linked" in done.stdout and "2 joined an existing person" in done.stdout
    skipped = run(
        "db",
        "import",
        str(tmp_path / "last.jsonl"),
        "--kind",
        "talent",
        "--url",
        url,
        "--no-link",
        "--json",
        cwd=tmp_path,
    )
    assert skipped.returncode == 0 and "people" not in json.loads(skipped.stdout)
    linked = run("people", "link", "--url", url, "--new", "--json", cwd=tmp_path)
    assert linked.returncode == 0, linked.stderr
    doc = json.loads(linked.stdout)
    assert (doc["linked"], doc["new_records"], doc["joined"], doc["existing_records"]) == (True, 2, 2, 238)
    wrong = run("people", "link", "--url", url, "--new", "--threshold", "0.3", cwd=tmp_path)
    assert wrong.returncode == 1 and "--new" in wrong.stderr

    # linking fails (here: a broken saved model): the import stands, the people stay, the message says what to run
    import sqlite3

    with sqlite3.connect(tmp_path / "p.db") as conn:
        conn.execute("UPDATE person_models SET model = '{}'")
    (tmp_path / "one.jsonl").write_text('{"id": "Z001", "name": "Zed Zee"}\n')
    broken = run("db", "import", str(tmp_path / "one.jsonl"), "--kind", "talent", "--url", url, cwd=tmp_path)
    assert broken.returncode == 1 and "imported, but linking the new talents failed" in broken.stderr
    assert "people link --new" in broken.stderr
    with sqlite3.connect(tmp_path / "p.db") as conn:
        assert conn.execute("SELECT count(*) FROM talents WHERE id = 'Z001'").fetchone() == (1,)
        assert conn.execute("SELECT count(*) FROM person_members WHERE talent_id = 'Z001'").fetchone() == (0,)
