"""BM25's compiled loops give the numpy version's scores to the bit: the same float32 saturation, widened and summed
in posting order. The references below are the numpy code they replaced (a gather or a slice per term, bm25s's
``_score_tfc_lucene``, ``np.bincount``)."""

from __future__ import annotations

import numpy as np
import pytest
from bm25s.scoring import _score_tfc_lucene

from features import bm25_loops
from features.records import Talent
from features.text import K1, B, Bm25Corpus, SparseIndex, tokenize


def _reference_all(c: Bm25Corpus, qterms: np.ndarray) -> np.ndarray:
    n_old, n_cols = c._csc.shape
    out = np.zeros(c.n_rows, np.float32)
    old = qterms[qterms < n_cols]
    if len(old):
        spans = [(c._csc.indptr[t], c._csc.indptr[t + 1]) for t in old.tolist()]
        doc = np.concatenate([c._csc.indices[a:b] for a, b in spans])
        tf = np.concatenate([c._csc.data[a:b] for a, b in spans])
        idf = np.repeat(c._idf(old), [b - a for a, b in spans])
        s = idf * _score_tfc_lucene(tf.astype(np.float32), c.length.view[doc], c._l_avg(), K1, B)
        out[:n_old] = np.bincount(doc, weights=s, minlength=n_old)
    if c.n_rows > n_old:
        out[n_old:] = _reference_rows(c, qterms, np.arange(n_old, c.n_rows))
    return out


def _reference_rows(c: Bm25Corpus, qterms: np.ndarray, rows: np.ndarray) -> np.ndarray:
    out = np.zeros(len(rows), np.float32)
    owner, cols, tf = c.tf.gather(rows)
    pos, hit = c.positions(qterms, cols)
    owner, pos, tf = owner[hit], pos[hit], tf[hit]
    s = c._idf(qterms)[pos] * _score_tfc_lucene(tf.astype(np.float32), c.length.view[rows[owner]], c._l_avg(), K1, B)
    out += np.bincount(owner, weights=s, minlength=len(rows)).astype(np.float32)
    return np.where(c.alive.view[rows], out, 0.0).astype(np.float32)


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
def test_whole_corpus_and_row_scores_equal_numpys_to_the_bit(seed):
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
            # once by the rows, as before)
            np.testing.assert_array_equal(corpus.score_all(terms), _reference_all(corpus, terms))
            rows = rng.choice(every, size=50)
            np.testing.assert_array_equal(corpus.score_rows(terms, rows), _reference_rows(corpus, terms, rows))
    t3 = 3  # its row: the fourth indexed, removed above
    assert corpus.score_rows(index.vocab.lookup(tokenize(" ".join(WORDS))), np.array([t3]))[0] == 0


def test_warm_compiles_the_signatures_scoring_uses():
    """``warm`` runs at a server's start so that no request compiles: scoring an index afterwards adds no
    specialisation (a dtype it did not foresee would cost the first ranking ~0.5 s)."""
    bm25_loops.warm()
    loops = (bm25_loops.add_columns, bm25_loops.score_rows)
    before = [list(loop.signatures) for loop in loops]
    index = SparseIndex.build(_talents(np.random.default_rng(0), 50, "t"))
    index.add(_talents(np.random.default_rng(1), 1, "late")[0])  # a row for the row scan
    q = index.vocab.lookup(tokenize("perovskite battery 电池"))
    index.profile.score_all(q)
    index.score(" ".join(WORDS), np.arange(10))
    assert [list(loop.signatures) for loop in loops] == before
