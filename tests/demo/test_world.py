"""The demo world generator: valid, deterministic, domain-shaped records with a hidden truth that is learnable
from the records but not trivially so."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import orjson
import pytest

from demo.world import PARAMS_FILE, generate_world
from features.records import (
    RECORD_TYPES,
    REFERENCES,
    WORLD_FILES,
    AvailabilityMode,
    FeedbackEvent,
    Need,
    NeedKind,
    Talent,
    Tier,
)
from matcher.truth import TRUTH_FILE, load_truth

DEMO_FILES = {kind: name for kind, name in WORLD_FILES.items() if kind != "relation"}
"""The record files a demo world writes: every kind but relations (written only with ``relations``, see
test_world_relations.py)."""
ALL_FILES = [*DEMO_FILES.values(), TRUTH_FILE, PARAMS_FILE]


def _rows(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("world")
    generate_world(out, talents=1000, seed=7)
    return out


@pytest.fixture(scope="module")
def records(world: Path) -> dict[str, list]:
    """Every record re-read through its pydantic model: proves the files validate."""
    return {
        kind: [RECORD_TYPES[kind].model_validate(r) for r in _rows(world / name)] for kind, name in DEMO_FILES.items()
    }


def test_counts_scale_with_talents_and_match_the_files(tmp_path: Path) -> None:
    counts = generate_world(tmp_path, talents=300, seed=1)
    assert counts["talents.jsonl"] == 300
    assert counts["needs.jsonl"] == 40  # the minimum
    assert counts["enterprises.jsonl"] == 20
    assert counts["platforms.jsonl"] == 7 and counts["incubators.jsonl"] == 8
    for name, n in counts.items():
        assert len((tmp_path / name).read_bytes().splitlines()) == n
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(ALL_FILES)  # no temporary files left behind
    assert generate_world(tmp_path / "more", talents=300, needs=55, seed=1)["needs.jsonl"] == 55


def test_same_seed_same_bytes_other_seed_other_world(tmp_path: Path) -> None:
    a, b, c = (generate_world(tmp_path / d, talents=400, seed=s) for d, s in (("a", 3), ("b", 3), ("c", 4)))
    assert a == b
    for name in ALL_FILES:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert (tmp_path / "a" / "talents.jsonl").read_bytes() != (tmp_path / "c" / "talents.jsonl").read_bytes()
    assert c != a or (tmp_path / "a" / TRUTH_FILE).read_bytes() != (tmp_path / "c" / TRUTH_FILE).read_bytes()


def test_references_resolve(records: dict[str, list]) -> None:
    ids = {kind: {r.id for r in rows} for kind, rows in records.items()}
    for kind, refs in ((k, r) for k, r in REFERENCES.items() if k in DEMO_FILES):
        for field, target in refs.items():
            dangling = [getattr(r, field) for r in records[kind] if getattr(r, field) not in (None, *ids[target])]
            assert dangling == [], f"{kind}.{field} → {target}"
    for kind, rows in records.items():
        assert len(ids[kind]) == len(rows), f"duplicate {kind} ids"
    assert any(t.incubator_id for t in records["talent"])


def test_platforms_and_incubators_are_the_citys(records: dict[str, list]) -> None:
    names = {p.name_en for p in records["platform"]}
    assert "Haining Juanhu International Science City" in names and "China Guigu Jiashan Science Park" in names
    assert all(p.industries for p in records["platform"])
    incubators = records["incubator"]
    assert len(incubators) == 8
    assert {"US", "GB", "DE", "AU"} <= {i.country for i in incubators}
    assert all(i.city_synthetic and "synthetic" in i.city for i in incubators)
    assert all(i.focus_industries and i.focus_disciplines for i in incubators)


def test_needs_cover_every_kind_with_kind_specific_fields(records: dict[str, list]) -> None:
    needs: list[Need] = records["need"]
    by_kind = Counter(n.kind for n in needs)
    assert set(by_kind) == set(NeedKind)
    for n in needs:
        if n.kind is NeedKind.special_researcher:
            assert 2 <= n.months_per_year <= 6
        if n.kind is NeedKind.enclave:
            assert n.site.value == "shanghai_enclave"
    assert any(n.min_tier for n in needs) and any(n.min_tier is None for n in needs)


def test_needs_and_talents_are_bilingual(records: dict[str, list]) -> None:
    cjk = re.compile(r"[\u4e00-\u9fff]")
    titles = [n.title for n in records["need"]]
    zh = sum(bool(cjk.search(t)) for t in titles)
    assert 0.5 * len(titles) < zh < len(titles)  # mostly Chinese, a share in English
    skills = [s for t in records["talent"] for s in t.skills]
    assert any(cjk.search(s) for s in skills) and any(re.fullmatch(r"[A-Za-z0-9 ,\-]+", s) for s in skills)


def test_talents_are_realistic(records: dict[str, list]) -> None:
    talents: list[Talent] = records["talent"]
    n = len(talents)
    tiers = Counter(t.tier for t in talents)
    assert tiers[None] > tiers[Tier.E] > tiers[Tier.D] > tiers[Tier.C] > tiers[Tier.B] >= tiers[Tier.A]
    assert tiers[Tier.A] < 0.02 * n
    assert 0.02 * n < sum(not t.consent.matching for t in talents) < 0.15 * n
    assert 0.4 * n < sum(t.consent.sharing for t in talents) < 0.75 * n
    returnees = [
        t for t in talents if t.nationality == "CN" and any(e.country not in (None, "CN") for e in t.education)
    ]
    foreign = [t for t in talents if t.nationality not in (None, "CN")]
    assert len(returnees) > 0.05 * n and len(foreign) > 0.05 * n
    assert sum(bool(t.residence.in_yrd) for t in talents) > 0.2 * n
    modes = {m.availability.mode for m in talents}  # None: not stated (the world writes relocators so)
    assert {None, AvailabilityMode.short_term, AvailabilityMode.remote} <= modes
    assert any(t.name_zh for t in talents) and any(t.name_en and not t.name_zh for t in talents)
    assert any(t.disciplines for t in talents) and any(t.works for t in talents)
    sparse = [t for t in talents if not t.summary and not t.works]
    assert 0.05 * n < len(sparse) < 0.5 * n  # some profiles are thin


def test_truth_grades_every_need(world: Path, records: dict[str, list]) -> None:
    truth = load_truth(world)
    assert load_truth(world / TRUTH_FILE) == truth
    need_ids = {n.id for n in records["need"]}
    talent_ids = {t.id for t in records["talent"]}
    assert set(truth) == need_ids
    grades = Counter(g for row in truth.values() for g in row.values())
    assert set(grades) <= {1, 2, 3, 4} and grades[1] > grades[4] > 0
    assert all(row and set(row) <= talent_ids for row in truth.values())
    assert sum(len(row) for row in truth.values()) < 0.1 * len(need_ids) * len(talent_ids)  # most pairs irrelevant


def test_feedback_follows_truth_with_position_bias(world: Path, records: dict[str, list]) -> None:
    truth = load_truth(world)
    events: list[FeedbackEvent] = records["feedback"]
    actions = Counter(e.action.value for e in events)
    assert {"impression", "view", "shortlist", "contact", "reject"} <= set(actions)
    assert actions["hire"] < actions["interview"] < actions["contact"] < actions["shortlist"] < actions["impression"]
    assert all(e.model_version == "legacy" and e.actor.startswith("recruiter-") for e in events)

    def mean_grade(action: str) -> float:
        gs = [truth[e.need_id].get(e.talent_id, 0) for e in events if e.action.value == action]
        return sum(gs) / len(gs)

    assert mean_grade("shortlist") > mean_grade("impression") + 0.5
    assert all(truth[e.need_id].get(e.talent_id, 0) >= 2 for e in events if e.action.value == "hire")
    views = Counter(e.position for e in events if e.action.value == "view")
    assert views[0] > 2 * views[20]
    no_consent = {t.id for t in records["talent"] if not t.consent.matching}
    assert not any(e.talent_id in no_consent for e in events)  # the legacy system respected consent


def test_truth_is_learnable_but_not_trivial(world: Path, records: dict[str, list]) -> None:
    """Relevant talents share more written skills with the need than others do, yet many highly relevant ones
    share none verbatim (other language, synonyms, omissions): reading the records well matters."""
    truth = load_truth(world)
    talents = {t.id: {s.lower() for s in t.skills} for t in records["talent"]}
    overlaps = {True: [], False: []}
    strong_without_overlap = strong = 0
    for need in records["need"]:
        want = {s.lower() for s in need.required_skills}
        if not want:
            continue
        graded = truth[need.id]
        for tid, skills in talents.items():
            hit = bool(want & skills)
            overlaps[tid in graded].append(hit)
            if graded.get(tid, 0) >= 3:
                strong += 1
                strong_without_overlap += not hit
    rate = {k: sum(v) / len(v) for k, v in overlaps.items()}
    assert rate[True] > 5 * rate[False]
    assert 0.1 < strong_without_overlap / strong < 0.9


def test_bad_arguments_are_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="--talents must be an integer >= 1"):
        generate_world(tmp_path, talents=0)
    with pytest.raises(ValueError, match="--seed"):
        generate_world(tmp_path, talents=10, seed=-1)
    with pytest.raises(ValueError, match="--needs"):
        generate_world(tmp_path, talents=10, needs=0)
    afile = tmp_path / "file"
    afile.write_text("x")
    with pytest.raises(ValueError, match="not a directory"):
        generate_world(afile, talents=10)


def test_read_truth_errors_name_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no truth file"):
        load_truth(tmp_path)
    bad = tmp_path / TRUTH_FILE
    bad.write_text('{"need_id": "N1", "talent_id": "T1", "grade": 2}\n{"need_id": "N1", "grade": 9}\n')
    with pytest.raises(ValueError, match=r"truth\.jsonl:2"):
        load_truth(bad)


def test_progress_is_reported(tmp_path: Path) -> None:
    seen: list[tuple[str, int, int]] = []
    generate_world(tmp_path, talents=200, seed=2, progress=lambda s, done, total: seen.append((s, done, total)))
    stages = {s for s, _, _ in seen}
    assert {"latent", "truth", "talents"} <= stages
    for stage in stages:
        done = [(d, t) for s, d, t in seen if s == stage]
        assert done == sorted(done) and done[-1][0] == done[-1][1], stage  # rises to completion


def test_parallel_rendering_writes_the_same_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Talent chunks rendered in forked workers or in-process give identical files (each chunk has its own seed)."""
    import demo.world as world_module

    monkeypatch.setattr(world_module, "_TALENT_CHUNK", 100)
    generate_world(tmp_path / "parallel", talents=350, seed=5)
    monkeypatch.setattr(world_module.multiprocessing, "get_all_start_methods", lambda: ["spawn"])
    generate_world(tmp_path / "serial", talents=350, seed=5)
    for name in ALL_FILES:
        assert (tmp_path / "parallel" / name).read_bytes() == (tmp_path / "serial" / name).read_bytes(), name
