"""Run the benchmarks, print a table and write JSON to ``bench/results/``.

Usage: ``python -m bench [NAME ...]`` where NAME selects ``bench/bench_NAME.py`` (default: all). Benchmarks measure;
they never fail the build. Each row has ``bench`` and ``size`` plus its figures, ``goal`` and ``ok``.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

HERE = Path(__file__).parent


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(mem_gib, 1), "python": platform.python_version()}


def main(argv: list[str]) -> int:
    names = argv or sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))
    console = Console(stderr=True)
    rows: list[dict] = []
    for name in names:
        console.print(f"[bold]bench {name}[/bold] …")
        t0 = time.perf_counter()
        module = importlib.import_module(f"bench.bench_{name}")
        rows += module.run()
        console.print(f"  done in {time.perf_counter() - t0:.1f} s")
    table = Table(title="talentmatch benchmarks")
    keys = ["bench", "size", *sorted({k for r in rows for k in r} - {"bench", "size", "goal", "ok", "note"})]
    for k in [*keys, "goal", "ok"]:
        table.add_column(k)
    for r in rows:
        table.add_row(*[_fmt(r.get(k, "")) for k in [*keys, "goal", "ok"]])
    Console().print(table)
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    doc = {"machine": machine(), "time": time.strftime("%Y-%m-%dT%H:%M:%S"), "results": rows}
    text = json.dumps(doc, indent=2, ensure_ascii=False)
    (out / f"{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(text)
    (out / "latest.json").write_text(text)
    return 0


def _fmt(v: object) -> str:
    if isinstance(v, float):
        return f"{v:,.3g}" if abs(v) < 1000 else f"{v:,.0f}"
    if isinstance(v, bool):
        return "yes" if v else "NO"
    return str(v)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
