"""Declared relations in the demo world (``--relations``): every kind the record supports, consistent with the world,
valid and importable, respected by the simulated recruiters and the truth on evaluated posts, and a world without
them unchanged byte for byte."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections import Counter
from datetime import date
from pathlib import Path

import orjson
import pytest
from test_duplicates import BEFORE  # the checksums of seed 3, 300 talents, from before duplicates and relations

from demo.latent import NOW
from demo.relations import EVALUATED
from demo.world import PEOPLE_FILE, generate_world
from features.records import Relation, RelationKind
from matcher.truth import load_truth
from service.store import Store

TALENTS, SHARE = 2000, 0.06
TALENTMATCH = Path(sys.executable).with_name("talentmatch")
LATER = ("shortlist", "contact", "interview", "offer", "hire")


def _rows(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


@pytest.fixture(scope="module")
def worlds(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The same seed without and with relations."""
    plain, rel = tmp_path_factory.mktemp("plain"), tmp_path_factory.mktemp("rel")
    generate_world(plain, talents=TALENTS, seed=5)
    stages: list[tuple[str, int, int]] = []
    generate_world(rel, talents=TALENTS, seed=5, relations=SHARE, progress=lambda *a: stages.append(a))
    assert ("relations", 1, 1) in stages
    return plain, rel


@pytest.fixture(scope="module")
def dense(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same seed with many relations (a share of 0.3): enough tied talents that recruiters would have taken."""
    out = tmp_path_factory.mktemp("dense")
    generate_world(out, talents=TALENTS, seed=5, relations=0.3)
    return out


@pytest.fixture(scope="module")
def relations(worlds: tuple[Path, Path]) -> list[dict]:
    return _rows(worlds[1] / "relations.jsonl")


def current_ties(world: Path) -> dict[str, set[str]]:
    """Enterprise id → the talents tied to it at the world's present by a declared relation without an end: an
    employee, a founder or shareholder, and the family and co-authors of a current employee (by name)."""
    talents = {t["id"]: t for t in _rows(world / "talents.jsonl")}
    rows = _rows(world / "relations.jsonl")
    staff_of: dict[str, set[str]] = {}  # a person's name → enterprises they are a current employee of
    out: dict[str, set[str]] = {}
    for r in rows:
        if r.get("enterprise_id") and "end" not in r and r["kind"] in ("employee", "founder_or_shareholder"):
            out.setdefault(r["enterprise_id"], set()).add(r["talent_id"])
            if r["kind"] == "employee":
                staff_of.setdefault(talents[r["talent_id"]]["name"], set()).add(r["enterprise_id"])
    for r in rows:
        for e in staff_of.get(r.get("person", ""), ()):
            out.setdefault(e, set()).add(r["talent_id"])
    return out


def test_share_zero_gives_the_same_bytes_as_before(tmp_path: Path) -> None:
    counts = generate_world(tmp_path, talents=300, seed=3, relations=0)
    assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in tmp_path.iterdir()} == BEFORE
    assert "relations.jsonl" not in counts


def test_same_seed_same_bytes_other_seed_other_relations(tmp_path: Path, worlds: tuple[Path, Path]) -> None:
    again = tmp_path / "again"
    counts = generate_world(again, talents=TALENTS, seed=5, relations=SHARE)
    for p in worlds[1].iterdir():
        assert (again / p.name).read_bytes() == p.read_bytes(), p.name
    assert counts["relations.jsonl"] == len(_rows(again / "relations.jsonl"))
    other = tmp_path / "other"
    generate_world(other, talents=TALENTS, seed=6, relations=SHARE)
    assert (other / "relations.jsonl").read_bytes() != (again / "relations.jsonl").read_bytes()


def test_every_kind_with_named_sources_and_dates_in_the_past(relations: list[dict]) -> None:
    kinds = Counter(r["kind"] for r in relations)
    assert set(kinds) == set(RelationKind), kinds
    assert all(n >= 0.05 * len(relations) for n in kinds.values()), kinds  # every kind at a moderate share
    talents = {r["talent_id"] for r in relations}
    assert TALENTS * SHARE * 0.95 <= len(talents) <= TALENTS * SHARE * 1.05
    assert 1.05 < len(relations) / len(talents) < 1.3  # some declare a second relation
    sources = Counter((r["kind"], r["source"]) for r in relations)
    assert len({s for _, s in sources}) >= 4 and all(s.strip() for _, s in sources)
    today = NOW.date()
    for r in relations:
        start, end = (date.fromisoformat(r[k]) if k in r else None for k in ("start", "end"))
        assert start is None or start < today, r
        if r["kind"] == "former_employee":
            assert end is not None and end < today, r  # a former employee left in the past
        assert end is None or r["kind"] in ("former_employee", "founder_or_shareholder"), r
        assert end is None or start is None or start <= end, r
    ends = sorted((today - date.fromisoformat(r["end"])).days for r in relations if r["kind"] == "former_employee")
    assert ends[0] < 365 and ends[-1] > 4 * 365  # recent and long-ago leavers: inside and past any window


def test_records_validate_and_reference_the_world(worlds: tuple[Path, Path], relations: list[dict]) -> None:
    world = worlds[1]
    talents = {t["id"] for t in _rows(world / "talents.jsonl")}
    enterprises = {e["id"] for e in _rows(world / "enterprises.jsonl")}
    ids = [Relation.model_validate(r).id for r in relations]
    assert ids == [f"R{k:06d}" for k in range(1, len(relations) + 1)]
    for r in relations:
        assert r["talent_id"] in talents
        assert ("enterprise_id" in r) != ("person" in r)
        assert r.get("enterprise_id", next(iter(enterprises))) in enterprises


def test_consistent_with_the_world(worlds: tuple[Path, Path], relations: list[dict]) -> None:
    plain, world = worlds
    before = {t["id"]: t for t in _rows(plain / "talents.jsonl")}
    talents = {t["id"]: t for t in _rows(world / "talents.jsonl")}
    enterprises = {e["id"]: e for e in _rows(world / "enterprises.jsonl")}
    employees = [r for r in relations if r["kind"] == "employee"]
    # Nobody living abroad is a current employee of a Jiaxing enterprise.
    assert all(talents[r["talent_id"]].get("residence", {}).get("country") in (None, "CN") for r in employees)
    # Some employees' profiles name their enterprise (its Chinese or English name, maybe without the legal form),
    # the others still an older employer; nobody else's profile changed.
    shown = {
        r["talent_id"]
        for r in employees
        if _names(talents[r["talent_id"]].get("employer"), enterprises[r["enterprise_id"]])
    }
    assert 0.3 * len(employees) <= len(shown) <= 0.7 * len(employees)
    changed = {t for t in talents if talents[t] != before[t]}
    assert changed == shown
    assert all(set(talents[t]) - {"employer"} == set(before[t]) - {"employer"} for t in changed)
    # A family member or co-author names a current employee of some enterprise, by the name their profile shows.
    staff = {talents[r["talent_id"]]["name"] for r in employees}
    persons = [r for r in relations if "person" in r]
    assert persons and all(r["person"] in staff for r in persons)
    assert all(talents[r["talent_id"]]["name"] != r["person"] for r in persons)
    for name in ("needs.jsonl", "enterprises.jsonl", "platforms.jsonl", "incubators.jsonl", "relevance.json"):
        assert (plain / name).read_bytes() == (world / name).read_bytes(), name


def _names(employer: str | None, enterprise: dict) -> bool:
    return bool(employer) and any(
        n and (n == employer or n.startswith(employer)) for n in (enterprise["name"], enterprise.get("name_en"))
    )


def test_recruiters_and_truth_respect_current_ties_on_evaluated_posts(worlds: tuple[Path, Path], dense: Path) -> None:
    plain, world = worlds[0], dense
    ties = current_ties(world)
    needs = {n["id"]: n for n in _rows(world / "needs.jsonl")}
    evaluated = {k.value for k in EVALUATED}
    blocked = {
        (nid, t) for nid, n in needs.items() if n.get("kind", "full_time") in evaluated
        for t in ties.get(n.get("enterprise_id", ""), ())
    }  # fmt: skip
    assert len(blocked) >= 200
    feedback = _rows(world / "feedback.jsonl")
    assert not [e for e in feedback if (e["need_id"], e["talent_id"]) in blocked and e["action"] in LATER]
    truth, before = load_truth(world), load_truth(plain)
    assert not [p for p in blocked if p[1] in truth.get(p[0], {})]
    dropped = [p for p in blocked if p[1] in before.get(p[0], {})]
    assert dropped  # tied talents that were relevant: the truth no longer grades them on those posts
    kept = {(n, t) for n, grades in before.items() for t in grades} - blocked
    assert kept == {(n, t) for n, grades in truth.items() for t in grades}
    # Every other pair's feedback is as in the world without relations; a blocked pair keeps its impression and
    # view, and a viewed one is rejected once.
    old = _rows(plain / "feedback.jsonl")
    assert [e for e in feedback if (e["need_id"], e["talent_id"]) not in blocked] == [
        e for e in old if (e["need_id"], e["talent_id"]) not in blocked
    ]
    mine, theirs = (
        Counter((e["need_id"], e["talent_id"], e["action"]) for e in rows if (e["need_id"], e["talent_id"]) in blocked)
        for rows in (feedback, old)
    )
    assert any(a in LATER for _, _, a in theirs)  # the recruiters would have taken some of them further
    for (nid, tid, action), n in mine.items():
        assert action in ("impression", "view", "reject") and n == 1
        assert action != "reject" or (nid, tid, "view") in mine


def test_with_duplicates_too(tmp_path: Path) -> None:
    counts = generate_world(tmp_path, talents=600, seed=2, duplicates=0.05, relations=0.1)
    assert counts["relations.jsonl"] > 50 and counts[PEOPLE_FILE] == 30
    talents = {t["id"] for t in _rows(tmp_path / "talents.jsonl")}
    related = {r["talent_id"] for r in _rows(tmp_path / "relations.jsonl")}
    assert related <= talents and max(int(t[1:]) for t in related) <= 600  # originals declare, copies do not


def test_world_imports_into_a_store(tmp_path: Path, worlds: tuple[Path, Path], relations: list[dict]) -> None:
    with Store(f"sqlite:///{tmp_path / 'w.db'}") as store:
        report = store.import_path(worlds[1])
        assert report.ok, report
        assert store.count("relation") == len(relations)
        assert store.import_path(worlds[1]).ok  # idempotent
        assert store.count("relation") == len(relations)


def test_bad_share_is_named(tmp_path: Path) -> None:
    for bad in (-0.1, 1.5, "0.1", True):
        with pytest.raises(ValueError, match="--relations"):
            generate_world(tmp_path / "w", talents=50, relations=bad)  # type: ignore[arg-type]
    assert not (tmp_path / "w").exists()


def test_cli_option(tmp_path: Path) -> None:
    env = {**os.environ, "COLUMNS": "200"}
    cmd = [str(TALENTMATCH), "world", "generate", str(tmp_path / "w"), "--talents", "300", "--seed", "2"]
    done = subprocess.run([*cmd, "--relations", "0.1", "--json"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    files = json.loads(done.stdout)["files"]
    assert files["relations.jsonl"] == len(_rows(tmp_path / "w" / "relations.jsonl")) >= 30
    done = subprocess.run([*cmd, "--relations", "2"], env=env, capture_output=True, text=True)
    assert done.returncode == 2 and "--relations" in done.stderr
