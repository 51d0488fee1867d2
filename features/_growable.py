"""Row-appendable storage shared by the text, concept and dense indices.

Indices must take one new talent (or need) without a rebuild. Appending rows to a CSR matrix only ever writes past
its end, so the buffers grow by doubling (amortised O(row)) and readers get zero-copy views. ``RowMap`` is the
bookkeeping of which row holds each live id.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from features._mapped import release

SPARE = 8
"""A new growable array gets ``1 / SPARE`` of its length as spare room (zeros, untouched: no resident memory). An index
snapshot keeps it, so writes after a restart append into spare rows of the mapped file (the pages they touch become
private) instead of doubling the array and copying every mapped row into private memory."""


def ranges(starts: np.ndarray, lens: np.ndarray) -> np.ndarray:
    """The positions ``starts[i] … starts[i] + lens[i] - 1`` of every range, concatenated in order: the entries of
    some CSR rows (or sorted runs) as one index array, without a Python loop."""
    lens = np.asarray(lens)
    return np.arange(int(lens.sum())) + np.repeat(np.asarray(starts) - (np.cumsum(lens) - lens), lens)


def in_sorted(values: np.ndarray, ascending: np.ndarray) -> np.ndarray:
    """``np.isin(values, ascending)`` for an ascending array: a binary search per value, where ``np.isin`` sorts
    both (~1 ms for a ranking's candidates against a need's ~30k incubator links at 1M talents)."""
    if not len(ascending):
        return np.zeros(len(values), dtype=bool)
    return ascending[np.minimum(np.searchsorted(ascending, values), len(ascending) - 1)] == values


def erase_rows(by_column: sp.csc_matrix, rows: np.ndarray) -> None:
    """Remove the entries of ``rows`` from a column-major copy of row-appended data (an erasure): gone, not zeroed,
    since where an entry stood would still say which columns the row had."""
    by_column.data[np.isin(by_column.indices, rows)] = 0
    by_column.eliminate_zeros()


def spare_room(n: int) -> int:
    """Rows of spare room for an array of ``n`` rows."""
    return n // SPARE


class GrowableVector:
    """A 1-D numpy array with amortised O(1) append; ``.view`` is the live prefix (zero copy)."""

    _loaded = 0
    """Values the vector was unpickled with (an index snapshot maps them); appends never write over them."""

    def __init__(self, values: np.ndarray) -> None:
        values = np.asarray(values)
        self._buf = np.zeros(len(values) + spare_room(len(values)), dtype=values.dtype)
        self._buf[: len(values)] = values
        self._n = len(values)

    @property
    def view(self) -> np.ndarray:
        return self._buf[: self._n]

    def __len__(self) -> int:
        return self._n

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state, _loaded=state["_n"])

    def release(self) -> int:
        """Hand back the resident pages of the loaded values where they view a snapshot's mapping (``release``): for
        a vector read whole now and then, not on every query. Returns the bytes released."""
        return release(self._buf[: self._loaded])

    def extend(self, values: np.ndarray) -> None:
        need = self._n + len(values)
        if need > len(self._buf):
            # zeros (calloc: untouched pages cost nothing), so a snapshot of the spare room holds no stale heap bytes
            grown = np.zeros(max(need + spare_room(need), 2 * len(self._buf), 16), dtype=self._buf.dtype)
            grown[: self._n] = self._buf[: self._n]
            self._buf = grown
        self._buf[self._n : need] = values
        self._n = need


class GrowableCSR:
    """A CSR matrix that grows by whole rows; columns may grow too (a vocabulary that learns new terms).

    Values are float32 unless ``dtype`` says otherwise: an unsigned integer type holds counts, saturating at its
    largest value (``features.text.Bm25Corpus`` keeps term counts in two bytes instead of four)."""

    def __init__(self, matrix: sp.csr_matrix, dtype: type[np.number] = np.float32) -> None:
        matrix = sp.csr_matrix(matrix)
        matrix.sum_duplicates()
        self.n_cols = matrix.shape[1]
        self._indptr = GrowableVector(matrix.indptr.astype(np.int64))
        self._indices = GrowableVector(matrix.indices.astype(np.int32))
        self._data = GrowableVector(_values(matrix.data, dtype))

    @classmethod
    def from_rows(cls, cols: list[np.ndarray], vals: list[np.ndarray], n_cols: int) -> GrowableCSR:
        """Build from per-row (column ids, values); repeated columns within a row are summed."""
        lens = np.fromiter((len(c) for c in cols), dtype=np.int64, count=len(cols))
        row = np.repeat(np.arange(len(cols)), lens)
        flat_c = np.concatenate(cols) if cols else np.zeros(0, np.int32)
        flat_v = np.concatenate(vals) if vals else np.zeros(0, np.float32)
        m = sp.csr_matrix((flat_v, (row, flat_c)), shape=(len(cols), n_cols), dtype=np.float32)
        return cls(m)

    @property
    def n_rows(self) -> int:
        return len(self._indptr) - 1

    @property
    def indptr(self) -> np.ndarray:
        return self._indptr.view

    @property
    def indices(self) -> np.ndarray:
        return self._indices.view

    @property
    def data(self) -> np.ndarray:
        return self._data.view

    def append(self, cols: np.ndarray, vals: np.ndarray) -> int:
        """Append one row (repeated columns are summed); returns its row number."""
        cols = np.asarray(cols, dtype=np.int32)
        vals = np.asarray(vals, dtype=np.float32)
        if len(cols):
            uniq, inv = np.unique(cols, return_inverse=True)
            cols, vals = uniq.astype(np.int32), np.bincount(inv, weights=vals).astype(np.float32)
            self.n_cols = max(self.n_cols, int(cols[-1]) + 1)
        self._indices.extend(cols)
        self._data.extend(_values(vals, self.data.dtype.type))
        self._indptr.extend(np.array([self._indptr.view[-1] + len(cols)], dtype=np.int64))
        return self.n_rows - 1

    def scrub(self, rows: np.ndarray) -> None:
        """Overwrite the entries of ``rows`` with column 0, value 0 (erasure: nothing of them stays in memory; the
        rows must already be dead to every reader, as zero entries are no longer canonical CSR)."""
        for row in np.asarray(rows, dtype=np.int64).tolist():
            start, end = self.indptr[row], self.indptr[row + 1]
            self.indices[start:end] = 0
            self.data[start:end] = 0

    def csr(self) -> sp.csr_matrix:
        """A zero-copy scipy view of the current rows."""
        return sp.csr_matrix((self.data, self.indices, self.indptr), shape=(self.n_rows, self.n_cols), copy=False)

    def gather(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The stored entries of ``rows`` as flat arrays (position in ``rows``, column, value), vectorised."""
        indptr = self.indptr
        starts = indptr[rows]
        lens = indptr[rows + 1] - starts
        owner = np.repeat(np.arange(len(rows)), lens)
        offsets = ranges(starts, lens)
        return owner, self.indices[offsets], self.data[offsets]


def _values(values: np.ndarray, dtype: type[np.number]) -> np.ndarray:
    """``values`` as ``dtype``; into an integer type rounded and clipped to its range (never wrapped around)."""
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        values = np.clip(np.rint(values), info.min, info.max)
    return np.asarray(values).astype(dtype, copy=False)


class RowMap:
    """The row of each live id, for an index that appends a row per record and tombstones the old one: its own map,
    or one it shares (``share_rows``) with other indices kept in lockstep, whose owner alone changes it (the talent
    table's, in ``features.indices.Indices``: one map instead of one an index, ~59 MB each at 1M talents)."""

    _row: dict[str, int]
    _owns_rows = True

    def share_rows(self, rows: dict[str, int]) -> None:
        """Read the rows of ids from ``rows`` from now on. It must hold what this index's own map holds; this index
        then never changes it, and its owner changes it after this index (a new row: after this index appended
        its own; a removal: after this index tombstoned its row)."""
        if rows != self._row:
            raise ValueError(f"{type(self).__name__}.share_rows: the map given does not hold this index's rows")
        self._row, self._owns_rows = rows, False

    def _set_row(self, rid: str, row: int) -> None:
        if self._owns_rows:
            self._row[rid] = row

    def _drop_row(self, rid: str) -> int | None:
        """The id's live row (None when it has none), forgotten here if this index owns its map."""
        return self._row.pop(rid, None) if self._owns_rows else self._row.get(rid)

    def _check_owns_rows(self, doing: str) -> None:
        if not self._owns_rows:
            raise RuntimeError(f"{type(self).__name__} shares its rows with indices kept in lockstep: cannot {doing}")
