"""A generated demo world with declared relations (``world generate --relations``), imported into a real SQLite file
and served on loopback: on the posts the office evaluates, a talent tied to the post's enterprise is never ranked —
removed under ``conflict``, the declared relation and its source in the receipt —; on ordinary posts an
enterprise's current employees stay, flagged internal."""

from __future__ import annotations

from pathlib import Path

import httpx
import orjson
import pytest
from api_helpers import auth, run_server, settings_for

from demo.world import generate_world
from service.api.app import create_app
from service.keys import create_key
from service.store import Store

pytestmark = pytest.mark.slow
EVALUATED = ("special_researcher", "incubation_project")  # TALENTMATCH_CONFLICT_EVALUATED_KINDS' default


def _rows(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def _current_ties(world: Path) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Enterprise id → talents tied to it by a declared relation without an end (employees, founders, and the family
    and co-authors of an employee, by name); and enterprise id → its declared current employees."""
    name = {t["id"]: t["name"] for t in _rows(world / "talents.jsonl")}
    rows = _rows(world / "relations.jsonl")
    tied: dict[str, set[str]] = {}
    staff: dict[str, set[str]] = {}
    for r in rows:
        if r.get("enterprise_id") and "end" not in r and r["kind"] in ("employee", "founder_or_shareholder"):
            tied.setdefault(r["enterprise_id"], set()).add(r["talent_id"])
            if r["kind"] == "employee":
                staff.setdefault(r["enterprise_id"], set()).add(r["talent_id"])
    employer_of: dict[str, set[str]] = {}
    for e, ids in staff.items():
        for t in ids:
            employer_of.setdefault(name[t], set()).add(e)
    for r in rows:
        for e in employer_of.get(r.get("person", ""), ()):
            tied.setdefault(e, set()).add(r["talent_id"])
    return tied, staff


def test_a_generated_world_with_relations_is_served_with_its_conflicts(tmp_path: Path) -> None:
    world = tmp_path / "world"
    generate_world(world, talents=1500, seed=5, relations=0.06)
    url = f"sqlite:///{tmp_path / 'world.db'}"
    with Store(url) as store:
        report = store.import_path(world)
        assert report.ok, report
        h = auth(create_key(store, "recruiter"))
    relations = {r["id"]: r for r in _rows(world / "relations.jsonl")}
    tied, staff = _current_ties(world)
    needs = [n for n in _rows(world / "needs.jsonl") if n.get("enterprise_id")]
    removed = flagged = 0
    with (
        run_server(create_app(settings_for(url, tmp_path))) as base,
        httpx.Client(base_url=base, timeout=60) as client,
    ):
        for need in needs:
            body = client.get(f"/needs/{need['id']}/candidates", params={"k": 100}, headers=h).json()
            shown = {c["talent_id"]: c for c in body["candidates"]}
            mine = tied.get(need["enterprise_id"], set())
            if need.get("kind", "full_time") in EVALUATED:
                assert not mine & set(shown), need["id"]  # a tied talent is never ranked on an evaluated post
                if not body["removed"].get("conflict"):
                    continue
                removed += body["removed"]["conflict"]
                receipt = client.get(f"/rankings/{body['ranking_id']}", headers=h).json()
                conflicts = receipt["summary"]["conflicts"]
                assert conflicts and all(c["enterprise_id"] == need["enterprise_id"] for c in conflicts)
                for tie in conflicts:  # the declared relation behind it, by id, with the source that declared it
                    if "relation_id" not in tie:  # or the profile's employer, which names the enterprise
                        assert (tie["kind"], tie["source"]) == ("employee", "profile employer"), tie
                        continue
                    declared = relations[tie["relation_id"]]
                    assert tie["source"] == declared["source"]
                    assert declared.get("enterprise_id", need["enterprise_id"]) == need["enterprise_id"]
            else:
                for t in staff.get(need["enterprise_id"], set()) & set(shown):
                    assert shown[t]["reasons"][0]["code"] == "flag:internal", (need["id"], t)
                    flagged += 1
    assert removed >= 3 and flagged >= 1, (removed, flagged)
