"""Sparse text and concept indices: build time for 100k talents, scoring 500 candidates, top-300 search.

Talents come from the demo world generator (mixed Chinese/English summaries and skills) and each gets three
synthetic works (title and ~25-word abstract drawn from its own skills and from NSFC names in both languages), so a
profile is ~80 words plus 3 works, as the goal assumes. Goals: all three indices built in ≤ 60 s at 100k; the text
part of the 500-candidate feature matrix a small share of its 5 ms (here: ≤ 2 ms); search not goal-bound.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import orjson

from demo.world import generate_world
from features.concepts import ConceptIndex, mapper
from features.records import Need, Talent, Work, talent_text
from features.taxonomy import disciplines
from features.text import NeedIndex, SparseIndex, _jieba

N_TALENTS = int(os.environ.get("BENCH_TEXT_TALENTS", "100000"))
WORKS_PER_TALENT = 3
N_CANDIDATES = 500
K = 300
N_QUERIES = 50


def _works(t: Talent, rng: np.random.Generator, names: list[tuple[str, str]]) -> list[Work]:
    words = [*t.skills, *(w for s in (t.summary or "").split("，") for w in s.split(" ")[:4])] or ["research"]
    out = []
    for _ in range(WORKS_PER_TALENT):
        zh, en = names[int(rng.integers(len(names)))]
        picks = [words[int(i)] for i in rng.integers(0, len(words), 6)]
        if rng.random() < 0.5:
            title, abstract = (
                f"基于{picks[0]}的{zh}研究",
                f"本文研究{zh}中的{picks[1]}与{picks[2]}问题，提出{picks[3]}方法。",
            )
        else:
            title, abstract = f"{picks[0]} for {en}", f"We study {picks[1]} and {picks[2]} in {en} using {picks[3]}."
        out.append(Work(title=title, abstract=f"{abstract} {' '.join(picks[4:])} {en} {zh}"))
    return out


def _world(n: int) -> tuple[list[Talent], list[Talent], list[Need]]:
    """The demo world's talents as generated, the same talents with three synthetic works each, and the needs."""
    names = [(d.name_zh, d.name_en) for d in disciplines().values() if d.is_leaf]
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        generate_world(Path(tmp), talents=n, seed=11)
        talents = [Talent.model_validate(orjson.loads(line)) for line in (Path(tmp) / "talents.jsonl").open("rb")]
        needs = [Need.model_validate(orjson.loads(line)) for line in (Path(tmp) / "needs.jsonl").open("rb")]
    heavy = [t.model_copy(update={"works": _works(t, rng, names)}) for t in talents]
    return talents, heavy, needs


def _build(talents: list[Talent], needs: list[Need], label: str) -> tuple[dict, SparseIndex, ConceptIndex, NeedIndex]:
    chars = float(np.mean([len(talent_text(t)) for t in talents[:2000]]))
    t0 = time.perf_counter()
    sparse = SparseIndex.build(talents)
    t_sparse = time.perf_counter() - t0
    t0 = time.perf_counter()
    concepts = ConceptIndex.build(talents)
    t_concepts = time.perf_counter() - t0
    t0 = time.perf_counter()
    need_index = NeedIndex.build(needs)
    t_needs = time.perf_counter() - t0
    total = t_sparse + t_concepts + t_needs
    row = {
        "bench": f"text.build ({label})",
        "size": f"{len(talents):,} talents, {sum(len(t.works) for t in talents):,} works, {len(needs):,} needs",
        "text_chars": round(chars),
        "bm25_s": round(t_sparse, 2),
        "concepts_s": round(t_concepts, 2),
        "needs_s": round(t_needs, 2),
        "total_s": round(total, 2),
        "vocab": len(sparse.vocab),
        "goal": "≤ 60 s",
        "ok": total <= 60,
    }
    return row, sparse, concepts, need_index


def _ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def run() -> list[dict]:
    world, heavy, needs = _world(N_TALENTS)
    t0 = time.perf_counter()
    _jieba(), mapper()
    rows: list[dict] = [
        {
            "bench": "text.warm",
            "size": "jieba dictionary + concept automaton",
            "total_s": round(time.perf_counter() - t0, 2),
            "goal": "-",
            "ok": True,
        }
    ]
    rows.append(_build(world, needs, "demo world")[0])
    row, sparse, concepts, need_index = _build(heavy, needs, "+3 works each")
    rows.append(row)
    talents = heavy

    rng = np.random.default_rng(1)
    queries = [needs[int(i)] for i in rng.integers(0, len(needs), N_QUERIES)]
    cands = [sparse.rows(list(sparse.ids[rng.choice(len(talents), N_CANDIDATES, replace=False)])) for _ in queries]
    crow = [concepts.rows(list(sparse.ids[c])) for c in cands]
    it = iter(range(10**9))

    def one(fn):
        return lambda: fn(next(it) % N_QUERIES)

    parts = {
        "bm25_ms": one(lambda i: sparse.score(queries[i], cands[i])),
        "concepts_ms": one(lambda i: concepts.score(queries[i], crow[i])),
        "coverage_ms": one(lambda i: sparse.skill_coverage(queries[i], cands[i], concepts)),
    }
    figures = {k: round(_ms(fn, 200), 3) for k, fn in parts.items()}
    total_ms = sum(figures.values())
    rows.append(
        {
            "bench": "text.score",
            "size": f"{N_CANDIDATES} candidates of {len(talents):,}",
            **figures,
            "total_ms": round(total_ms, 3),
            "goal": "≤ 2 ms (of the 5 ms matrix)",
            "ok": total_ms <= 2.0,
        }
    )
    search = {
        "bm25_ms": one(lambda i: sparse.search(queries[i], K)),
        "concepts_ms": one(lambda i: concepts.search(queries[i], K)),
        "needs_ms": one(lambda i: need_index.search(talents[i], K)),
    }
    figures = {k: round(_ms(fn, 50), 3) for k, fn in search.items()}
    rows.append({"bench": "text.search", "size": f"top-{K} of {len(talents):,}", **figures, "goal": "-", "ok": True})
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
