"""BM25's compiled loops (``features.bm25_loops``, for corpora of ``COMPILED_ROWS`` documents and more) give the
numpy path's scores to the bit: the same float32 saturation, widened and summed in posting order."""

from __future__ import annotations

import numpy as np
import pytest

from features import bm25_loops, text
from features.records import Talent
from features.text import SparseIndex, tokenize


def _both(monkeypatch, call):
    """``call()`` on the numpy path, then on the compiled one."""
    monkeypatch.setattr(text, "COMPILED_ROWS", 10**12)
    numpy_path = call()
    monkeypatch.setattr(text, "COMPILED_ROWS", 0)
    return numpy_path, call()


WORDS = ["perovskite", "solar", "cell", "battery", "lithium", "cathode", "robot", "control", "vision", "learning",
         "model", "chip", "wafer", "lithography", "钙钛矿", "电池", "正极", "机器人", "视觉", "学习", "芯片",
         "光刻", "材料", "工艺"]  # fmt: skip


def _talents(rng: np.random.Generator, n: int, prefix: str) -> list[Talent]:
    def text() -> str:
        return " ".join(rng.choice(WORDS, size=int(rng.integers(1, 40)), p=_ZIPF))

    return [Talent(id=f"{prefix}{i}", summary=text()) for i in range(n)]


_ZIPF = 1 / np.arange(1, len(WORDS) + 1)
_ZIPF /= _ZIPF.sum()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_whole_corpus_and_row_scores_equal_numpys_to_the_bit(seed, monkeypatch):
    rng = np.random.default_rng(seed)
    index = SparseIndex.build(_talents(rng, 400, "t"))
    for t in _talents(rng, 30, "late"):  # appended since the column copy was built: the row scan's part
        index.add(t)
    for tid in ("t3", "t40", "late2"):  # dead rows
        index.remove(tid)
    index.scrub("t40")  # erased: its entries zeroed in place, no longer canonical CSR
    corpus = index.profile
    every = np.arange(corpus.n_rows)
    queries = [rng.choice(WORDS, size=int(rng.integers(1, 8)), replace=False) for _ in range(20)]
    for words in queries:
        q = index.vocab.lookup(tokenize(" ".join(words)))
        for terms in (q, np.concatenate([q, q[:1]])):  # as asked; a term repeated (counted twice by the columns,
            # once by the rows, on either path)
            slow, fast = _both(monkeypatch, lambda: corpus.score_all(terms))  # noqa: B023
            np.testing.assert_array_equal(fast, slow)
            rows = rng.choice(every, size=50)
            slow, fast = _both(monkeypatch, lambda: corpus.score_rows(terms, rows))  # noqa: B023
            np.testing.assert_array_equal(fast, slow)
    slow, fast = _both(monkeypatch, lambda: index.score(" ".join(WORDS), every))  # the five columns
    assert slow.keys() == fast.keys() and all(np.array_equal(slow[k], fast[k]) for k in slow)
    t3 = 3  # its row: the fourth indexed, removed above
    assert fast["bm25_profile"][t3] == 0 and slow["bm25_profile"][t3] == 0


def test_only_a_large_corpus_is_compiled(monkeypatch):
    index = SparseIndex.build(_talents(np.random.default_rng(0), 20, "t"))
    assert not index.profile.compiled and not index.works.compiled  # below ``COMPILED_ROWS``: numpy, no numba
    monkeypatch.setattr(text, "COMPILED_ROWS", 20)
    assert index.profile.compiled


def test_warm_compiles_the_signatures_scoring_uses(monkeypatch):
    """A server warms the loops after loading a large index (``text.warm_loops``) so that no request compiles:
    scoring afterwards adds no specialisation (a dtype it did not foresee would cost a ranking ~0.5 s)."""
    monkeypatch.setattr(text, "COMPILED_ROWS", 0)
    index = SparseIndex.build(_talents(np.random.default_rng(0), 50, "t"))
    text.warm_loops(index)
    loops = (bm25_loops.add_columns, bm25_loops.score_rows)
    before = [list(loop.signatures) for loop in loops]
    assert all(before)
    index.add(_talents(np.random.default_rng(1), 1, "late")[0])  # a row for the row scan
    index.profile.score_all(index.vocab.lookup(tokenize("perovskite battery 电池")))
    index.score(" ".join(WORDS), np.arange(10))
    assert [list(loop.signatures) for loop in loops] == before
