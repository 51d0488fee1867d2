"""Import throughput into a fresh SQLite file: parse + validate + reference check + write, end to end.

The talents come from the demo world generator (realistic profiles with works, skills and education); generating
them is not timed. ``cpu_seconds`` is this process's CPU time, the figure to read on a busy machine.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from demo.world import generate_world
from service.store import Store

N = 20_000
GOAL = 5_000


def _timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def run(n: int = N) -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        world = Path(tmp) / "world"
        generate_world(world, talents=n, seed=7)
        with Store(f"sqlite:///{Path(tmp) / 'bench.db'}") as store:
            store.upgrade()
            store.import_path(world / "incubators.jsonl")
            report, seconds, cpu = _timed(lambda: store.import_path(world / "talents.jsonl"))
            assert report.ok and report.inserted == {"talent": n}, report.issues[:5]
            rows = [_row("db.import.talents", n, seconds, cpu, f">= {GOAL}/s", n / seconds >= GOAL)]

            report, seconds, cpu = _timed(lambda: store.import_path(world))
            assert report.ok, report.issues[:5]
            rows.append(_row("db.import.world (rest of the world)", report.records, seconds, cpu))

            report, seconds, cpu = _timed(lambda: store.import_path(world))
            assert report.ok and sum(report.unchanged.values()) == report.records
            rows.append(_row("db.reimport.world (all unchanged)", report.records, seconds, cpu))

            written, seconds, cpu = _timed(lambda: store.export(Path(tmp) / "export"))
            rows.append(_row("db.export.world", sum(c for _, c in written.values()), seconds, cpu))
    return rows


def _row(name: str, size: int, seconds: float, cpu: float, goal: str = "", ok: bool = True) -> dict:
    return {
        "bench": name,
        "size": size,
        "seconds": round(seconds, 3),
        "cpu_seconds": round(cpu, 3),
        "per_second": round(size / seconds),
        "goal": goal,
        "ok": ok,
    }


if __name__ == "__main__":
    for row in run():
        print(row)
