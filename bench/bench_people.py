"""Duplicate-person linkage (``features.people.link``): time for a pool of talents, and quality where it is known.

The world is ``BENCH_PEOPLE_WORLD`` (a world folder) when set, else a demo world of ``BENCH_PEOPLE_TALENTS``
talents (default 100k, seed 7) generated into a temporary folder — with ``BENCH_PEOPLE_DUPLICATES`` (default 0.1)
duplicated persons when the generator offers ``duplicates``. When the folder holds ``people.jsonl`` (the true
persons, one line per person with 2+ records) pair and cluster precision/recall are reported at the linkage's
threshold, and the curve over thresholds. Goal: 100k talents linked in <= 120 s on 2 cores; precision and recall
of the pairs both >= 0.95.

Incremental (``people.incremental``, ``BENCH_PEOPLE_NEW`` records, default 1,000; 0 skips it): in a SQLite file, the
world's talents but ``BENCH_PEOPLE_NEW`` of them (drawn at random, seed 7) are linked in full (``service.people
.apply``), then the rest are imported and linked with the saved model (``service.people.link_new``), then the whole
pool is linked again in full — the time an import would cost without incremental linking. With ``people.jsonl``, the
pairs with a new record are scored against the truth for both (precision and recall of the pairs in one person).
"""

from __future__ import annotations

import inspect
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import features.people as features_people
from features.io import read_records
from features.people import link
from matcher.people_eval import curve, evaluate

SIZE = int(os.environ.get("BENCH_PEOPLE_TALENTS", "100000"))
NEW = int(os.environ.get("BENCH_PEOPLE_NEW", "1000"))
DUPLICATES = float(os.environ.get("BENCH_PEOPLE_DUPLICATES", "0.1"))
GOAL_SECONDS = 120.0
GOAL_QUALITY = 0.95


def measure(world: Path) -> list[dict]:
    """Link the world's talents; rows for time and, with ``people.jsonl``, quality and its curve."""
    read = read_records(world / "talents.jsonl", "talent")
    if read.issues:
        raise SystemExit(f"{read.file}: {read.issues[0]}")
    talents = read.records
    t0 = time.perf_counter()
    linkage = link(talents)
    seconds = time.perf_counter() - t0
    people = linkage.people()
    row = {
        "bench": "people.link", "size": len(talents), "seconds": round(seconds, 1),
        "persons": len(people), "multi_record_persons": sum(len(r) > 1 for r in people.values()),
        "review_pairs": len(linkage.review), "load": os.getloadavg()[0],
        "goal": f"<= {GOAL_SECONDS:.0f} s", "ok": seconds <= GOAL_SECONDS,
    }  # fmt: skip
    rows = [row]
    truth = _truth(world)
    if truth is not None:
        at = evaluate(linkage, truth)
        ok = at["pair_precision"] >= GOAL_QUALITY and at["pair_recall"] >= GOAL_QUALITY
        rows.append({"bench": "people.quality", "size": len(talents), **_rounded(at),
                     "goal": f"pair P and R >= {GOAL_QUALITY}", "ok": ok})  # fmt: skip
        rows += [{"bench": "people.curve", "size": len(talents), **_rounded(c)} for c in curve(linkage, truth)]
    return rows


def _truth(world: Path) -> list[list[str]] | None:
    truth_file = world / "people.jsonl"
    if not truth_file.is_file():
        return None
    return [json.loads(line)["talents"] for line in truth_file.read_text().splitlines() if line.strip()]


def incremental(world: Path, new: int = NEW) -> list[dict]:
    """Full link of the pool but ``new`` records, then those linked incrementally, then the whole pool in full again
    (see the module docstring)."""
    import random

    from features.io import load_world
    from service import people
    from service.store import Store

    loaded = load_world(world)
    talents = sorted(loaded["talent"], key=lambda t: t.id)
    fresh = set(random.Random(7).sample([t.id for t in talents], min(new, len(talents) // 2)))
    old = [t for t in talents if t.id not in fresh]
    with tempfile.TemporaryDirectory(prefix="bench-people-inc-") as tmp, Store(f"sqlite:///{tmp}/people.db") as store:
        store.upgrade()
        store.upsert([*loaded.get("platform", []), *loaded.get("incubator", []), *old])
        t0 = time.perf_counter()
        first = people.apply(store, old)
        first_s = time.perf_counter() - t0
        store.upsert([t for t in talents if t.id in fresh])
        load = os.getloadavg()[0]
        report = people.link_new(store)
        inc = _placed(store)
        full = _capturing_link()
        t0 = time.perf_counter()
        people.apply(store, list(store.iter_records("talent")))  # places nothing more: the time of a full re-link
        full_s = time.perf_counter() - t0
        features_people.link = full.real
        row = {
            "bench": "people.incremental", "size": len(talents), "new": len(fresh), "seconds": report.seconds,
            "load_seconds": report.load_seconds, "score_seconds": report.score_seconds, "compared": report.compared,
            "joined": report.joined, "new_persons": report.new_persons, "review_pairs": report.review_pairs,
            "full_seconds": round(full_s, 1),
            "first_full_seconds": round(first_s, 1), "first_multi_record_persons": first.multi_record_persons,
            "speedup": round(full_s / report.seconds, 1) if report.seconds else None, "load": load,
            "goal": "faster than a full re-link", "ok": report.seconds < full_s,
        }  # fmt: skip
    rows = [row]
    truth = _truth(world)
    if truth is not None:
        for how, persons in (("incremental", inc), ("full link", full.linkages[-1].persons)):
            rows.append({"bench": "people.incremental.quality", "size": len(talents), "new": len(fresh), "how": how,
                         **_rounded(_new_pairs(persons, truth, fresh))})  # fmt: skip
    return rows


def _capturing_link() -> Any:
    """``features.people.link`` replaced by one that keeps each linkage (``.linkages``; ``.real`` the original)."""
    real = features_people.link

    def link(*args: Any, **kwargs: Any) -> Any:
        link.linkages.append(real(*args, **kwargs))  # type: ignore[attr-defined]
        return link.linkages[-1]  # type: ignore[attr-defined]

    link.linkages, link.real = [], real  # type: ignore[attr-defined]
    features_people.link = link
    return link


def _placed(store: Any) -> dict[str, str]:
    import sqlalchemy as sa

    from service import db

    m = db.PersonMemberRow.__table__
    with store.engine.connect() as conn:
        return dict(conn.execute(sa.select(m.c.talent_id, m.c.person_id)).all())


def _new_pairs(persons: dict[str, str], truth: list[list[str]], fresh: set[str]) -> dict:
    """Precision and recall of the pairs with a new record that ended in one person, against the true persons."""
    true = {tuple(sorted((a, b))) for group in truth for a in group for b in group if a < b and fresh & {a, b}}
    members: dict[str, list[str]] = {}
    for t, p in persons.items():
        members.setdefault(p, []).append(t)
    found = {tuple(sorted((a, b))) for group in members.values() for a in group for b in group
             if a < b and fresh & {a, b}}  # fmt: skip
    hit = len(true & found)
    return {"pair_precision": hit / len(found) if found else 1.0, "pair_recall": hit / len(true) if true else 1.0,
            "true_pairs": len(true), "found_pairs": len(found)}  # fmt: skip


def _rounded(d: dict) -> dict:
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in d.items()}


def run() -> list[dict]:
    if folder := os.environ.get("BENCH_PEOPLE_WORLD"):
        return _both(Path(folder))
    from demo.world import generate_world

    extra = {"duplicates": DUPLICATES} if "duplicates" in inspect.signature(generate_world).parameters else {}
    with tempfile.TemporaryDirectory(prefix="bench-people-") as tmp:
        generate_world(Path(tmp), talents=SIZE, seed=7, **extra)
        return _both(Path(tmp))


def _both(world: Path) -> list[dict]:
    return measure(world) + (incremental(world) if NEW > 0 else [])


if __name__ == "__main__":
    for r in run():
        print(r)
