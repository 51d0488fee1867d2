"""Duplicate-person linkage (``features.people.link``): time for a pool of talents, and quality where it is known.

The world is ``BENCH_PEOPLE_WORLD`` (a world folder) when set, else a demo world of ``BENCH_PEOPLE_TALENTS``
talents (default 100k, seed 7) generated into a temporary folder — with ``BENCH_PEOPLE_DUPLICATES`` (default 0.1)
duplicated persons when the generator offers ``duplicates``. When the folder holds ``people.jsonl`` (the true
persons, one line per person with 2+ records) pair and cluster precision/recall are reported at the linkage's
threshold, and the curve over thresholds. Goal: 100k talents linked in <= 120 s on 2 cores; precision and recall
of the pairs both >= 0.95.
"""

from __future__ import annotations

import inspect
import json
import os
import tempfile
import time
from pathlib import Path

from features.io import read_records
from features.people import link
from matcher.people_eval import curve, evaluate

SIZE = int(os.environ.get("BENCH_PEOPLE_TALENTS", "100000"))
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
    truth_file = world / "people.jsonl"
    if truth_file.is_file():
        truth = [json.loads(line)["talents"] for line in truth_file.read_text().splitlines() if line.strip()]
        at = evaluate(linkage, truth)
        ok = at["pair_precision"] >= GOAL_QUALITY and at["pair_recall"] >= GOAL_QUALITY
        rows.append({"bench": "people.quality", "size": len(talents), **_rounded(at),
                     "goal": f"pair P and R >= {GOAL_QUALITY}", "ok": ok})  # fmt: skip
        rows += [{"bench": "people.curve", "size": len(talents), **_rounded(c)} for c in curve(linkage, truth)]
    return rows


def _rounded(d: dict) -> dict:
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in d.items()}


def run() -> list[dict]:
    if folder := os.environ.get("BENCH_PEOPLE_WORLD"):
        return measure(Path(folder))
    from demo.world import generate_world

    extra = {"duplicates": DUPLICATES} if "duplicates" in inspect.signature(generate_world).parameters else {}
    with tempfile.TemporaryDirectory(prefix="bench-people-") as tmp:
        generate_world(Path(tmp), talents=SIZE, seed=7, **extra)
        return measure(Path(tmp))


if __name__ == "__main__":
    for r in run():
        print(r)
