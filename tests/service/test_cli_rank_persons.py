"""``talentmatch rank`` per person, as a user runs it (the real console script): a person sent by two sources, both
records of whom would rank in the top k, is shown once from a database with stored persons and from a world folder
with ``--link``, and twice otherwise — the folder's ``people.jsonl`` (evaluation labels) is never read."""

import json
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from pypinyin import lazy_pinyin

from features.io import write_records
from features.records import Need, Talent, Work

TALENTMATCH = Path(sys.executable).with_name("talentmatch")
SURNAMES = "张李刘陈杨黄赵周吴徐孙胡朱高林何郭马罗梁"
GIVEN = "立新伟芳娜敏静丽强磊军洋勇艳杰娟涛明超"
TOPIC = "perovskite tandem solar cells"
pytestmark = pytest.mark.slow


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "COLUMNS": "200",
        "TALENTMATCH_ENCODER": "none",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "TALENTMATCH_MODELS_DIR": str(cwd / "models"),
        "TALENTMATCH_VECTOR_CACHE_DIR": str(cwd / "vectors"),
    }
    env.pop("MLFLOW_TRACKING_URI", None)
    return subprocess.run([str(TALENTMATCH), *args], cwd=cwd, env=env, capture_output=True, text=True)


def _world(folder: Path) -> None:
    """200 people, every fifth also written in pinyin with the same e-mail (40 two-record persons); T000 and its
    copy D000 work on the need's topic, and so do three others; a people.jsonl that says T003 and T004 are one."""
    talents = []
    for i in range(200):
        zh = SURNAMES[i % 20] + GIVEN[i // 20] + GIVEN[(i * 7) % len(GIVEN)]
        topic = f"{TOPIC} " if i in (0, 3, 4, 7) else ""
        works = [Work(title=f"{topic}study number {i}")]
        summary = f"Research on {TOPIC}." if i in (0, 3, 4, 7) else f"Research on topic {i}."
        talents.append(Talent(id=f"T{i:03d}", name=zh, name_zh=zh, email=f"p{i}@example.com", works=works,
                              summary=summary))  # fmt: skip
        if i % 5 == 0:
            surname, *given = lazy_pinyin(zh)
            pinyin = f"{''.join(given).title()} {surname.title()}"
            talents.append(Talent(id=f"D{i:03d}", name=pinyin, email=f"P{i}@example.com ", works=works,
                                  summary=summary))  # fmt: skip
    folder.mkdir()
    write_records(folder / "talents.jsonl", talents)
    write_records(folder / "needs.jsonl", [Need(id="N1", title=f"{TOPIC} researcher", description=TOPIC)])
    labels = [{"person": "P000001", "talents": ["T003", "T004"]}]  # a world's answer key: the product must not read it
    (folder / "people.jsonl").write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in labels))


def _rank(*args: str, cwd: Path) -> dict:
    done = run("rank", "N1", "-k", "5", "--no-personalized", "--json", *args, cwd=cwd)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _ids(doc: dict) -> list[str]:
    return [c["talent_id"] for c in doc["candidates"]]


def test_rank_shows_a_person_once_with_persons_and_twice_without(tmp_path):
    _world(tmp_path / "w")
    world = str(tmp_path / "w")

    records = _rank("--world", world, cwd=tmp_path)  # a world folder ranks records by default
    assert {"T000", "D000", "T003", "T004"} <= set(_ids(records)), records
    assert records["persons"] == "records" and "same_person" not in records["removed"]
    assert all(c["person_id"] is None for c in records["candidates"])

    linked = _rank("--world", world, "--link", cwd=tmp_path)
    # the pool holds every record: the other 39 two-record persons fold too
    assert len({"T000", "D000"} & set(_ids(linked))) == 1 and linked["removed"]["same_person"] >= 1
    assert {"T003", "T004"} <= set(_ids(linked))  # people.jsonl said they were one: not read
    shown = next(c for c in linked["candidates"] if c["talent_id"] in ("T000", "D000"))
    assert linked["persons"] == "linked" and shown["person_id"] == "D000"  # the smallest record id names it

    url = f"sqlite:///{tmp_path / 'p.db'}"
    assert run("db", "import", world, "--url", url, cwd=tmp_path).returncode == 0
    unlinked = _rank("--url", url, cwd=tmp_path)  # no person stored yet: every record stands alone
    assert {"T000", "D000"} <= set(_ids(unlinked)) and unlinked["persons"] == "stored"
    assert run("people", "link", "--url", url, "--apply", cwd=tmp_path).returncode == 0
    stored = _rank("--url", url, cwd=tmp_path)
    assert len({"T000", "D000"} & set(_ids(stored))) == 1 and stored["removed"]["same_person"] >= 1
    assert {"T003", "T004"} <= set(_ids(stored))
    assert [c["person_id"] for c in stored["candidates"] if c["talent_id"] in ("T000", "D000")] == ["D000"]
    table = run("rank", "N1", "-k", "5", "--no-personalized", "--url", url, cwd=tmp_path)
    assert table.returncode == 0 and "one card per stored person" in table.stdout and "person D000" in table.stdout

    refused = run("rank", "N1", "--url", url, "--link", cwd=tmp_path)
    assert refused.returncode == 2 and "--link" in refused.stderr
