"""Benchmark: generating the demo world at 100k talents must stay under a minute on the 2-core reference machine."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from demo.world import generate_world

SIZE = int(os.environ.get("BENCH_WORLD_TALENTS", "100000"))
GOAL_SECONDS = 60.0


def run() -> list[dict]:
    """Generate a 100k-talent world into a temporary directory and report the wall time."""
    with tempfile.TemporaryDirectory(prefix="bench-world-") as tmp:
        start = time.perf_counter()
        counts = generate_world(Path(tmp), talents=SIZE, seed=0)
        seconds = time.perf_counter() - start
    return [
        {
            "bench": "world.generate",
            "size": SIZE,
            "seconds": round(seconds, 2),
            "goal": f"<= {GOAL_SECONDS:.0f} s",
            "ok": seconds <= GOAL_SECONDS,
            "needs": counts["needs.jsonl"],
            "feedback_events": counts["feedback.jsonl"],
            "truth_pairs": counts["truth.jsonl"],
        }
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
