"""BM25's two loops over postings, compiled (numba), for corpora of ``features.text.COMPILED_ROWS`` documents and
more: each posting's Lucene score computed and added in one pass, where numpy made ten passes over temporary arrays
(the postings' lengths gathered, the saturation, the weights repeated per posting, a ``bincount`` of float64 copies).

The arithmetic is ``features.text._saturation`` (bm25s's Lucene term component) as numpy evaluates it on float32
arrays — every operand float32, in the same order — then each weight widened to float64 and summed in posting
order, as ``np.bincount`` sums, so the scores are the numpy path's to the bit (``tests/features/test_bm25_loops.py``).
At 1M talents a query's whole-corpus scores (~880k postings) took 16.3 ms that way and take 8.3 ms here.

Compiled on first use and kept in numba's cache beside this file (``cache=True``; a read-only install compiles once
per process, ~0.7 s). ``warm`` compiles them ahead, off the request path (a server with a large index, right after
loading it: ``features.text.warm_loops``)."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def _saturation(tf, length, l_avg, k1, b, one_minus_b):  # pragma: no cover - compiled
    """bm25s's ``_score_tfc_lucene`` on float32 operands: tf / (k1 (1 - b + b l / l_avg) + tf)."""
    return tf / (k1 * (one_minus_b + b * length / l_avg) + tf)


@njit(cache=True, nogil=True)
def add_columns(indptr, indices, counts, terms, idf, length, l_avg, k1, b, out):  # pragma: no cover - compiled
    """Add to ``out`` (float64, a slot per document) each posting's weight of the column-major term counts
    (``indptr``, ``indices``, ``counts``) for every column in ``terms`` (``idf`` aligned with it), term by term."""
    lavg, k, bb, omb = np.float32(l_avg), np.float32(k1), np.float32(b), np.float32(1.0 - b)  # as numpy casts them
    for j in range(len(terms)):
        t = terms[j]
        w = idf[j]
        for p in range(indptr[t], indptr[t + 1]):
            d = indices[p]
            out[d] += w * _saturation(np.float32(counts[p]), length[d], lavg, k, bb, omb)


@njit(cache=True, nogil=True)
def score_rows(indptr, indices, counts, rows, terms, idf, length, l_avg, k1, b, out):  # pragma: no cover - compiled
    """``out[i]``: the score of row ``rows[i]`` of the row-major term counts for the ascending unique ``terms``
    (``idf`` aligned with it), its postings summed in their stored order."""
    lavg, k, bb, omb = np.float32(l_avg), np.float32(k1), np.float32(b), np.float32(1.0 - b)
    n = len(terms)
    for i in range(len(rows)):
        r = rows[i]
        total = 0.0
        for p in range(indptr[r], indptr[r + 1]):
            col = indices[p]
            j = np.searchsorted(terms, col)
            if j < n and terms[j] == col:
                total += idf[j] * _saturation(np.float32(counts[p]), length[r], lavg, k, bb, omb)
        out[i] = total


def warm() -> None:
    """Compile (or load from numba's cache) both loops now, for the array types the indices hand them: CSR row
    pointers int64 (``GrowableCSR``) and CSC ones int32 (scipy's), columns int32, counts uint16, query terms int64,
    IDF and lengths float32, sums float64."""
    f32, u16, i32, i64, f64 = (np.ones(1, t) for t in (np.float32, np.uint16, np.int32, np.int64, np.float64))
    for ptr in (np.zeros(2, np.int32), np.zeros(2, np.int64)):  # numba's dispatchers compile under their own lock
        add_columns(ptr, i32 * 0, u16, i64 * 0, f32, f32, 1.0, 1.5, 0.75, f64 * 0)
        score_rows(ptr, i32 * 0, u16, i64 * 0, i64 * 0, f32, f32, 1.0, 1.5, 0.75, f64 * 0)
