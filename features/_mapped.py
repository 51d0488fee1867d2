"""Pages of a memory-mapped index snapshot that a newer structure replaced.

A snapshot's arrays are views of one private file mapping (``features.snapshot``), so an array the indices drop
(the graph's CSR once a write changes the graph) frees nothing: its pages stay in the process's resident set for as
long as the mapping lives (~150 MB at 1M talents). ``release`` hands them back to the page cache.
"""

from __future__ import annotations

import mmap

import numpy as np


def release(*arrays: np.ndarray) -> int:
    """Drop the whole pages of each array that is a view of a file mapping from this process's resident set; returns
    the bytes released. The mapping is private, so a page this process wrote would lose the write: only arrays
    nothing wrote since the load may be given (a reader still holding one reads its pages again from the file)."""
    released = 0
    for a in arrays:
        mapping = _mapping(a)
        if mapping is None:
            continue
        base = np.frombuffer(mapping, np.uint8, count=1).ctypes.data
        start = a.ctypes.data - base
        lo = -(-start // mmap.PAGESIZE) * mmap.PAGESIZE  # whole pages only: a neighbour may share the edge pages
        hi = (start + a.nbytes) // mmap.PAGESIZE * mmap.PAGESIZE
        if hi > lo:
            mapping.madvise(mmap.MADV_DONTNEED, lo, hi - lo)
            released += hi - lo
    return released


def release_rows(a: np.ndarray, keep: np.ndarray) -> int:
    """``release`` of a mapped array's rows but those ``keep`` marks (written since the load: their private copies
    are the only ones), run by run of unmarked rows: only whole pages inside a run go, so a page that a kept row
    touches stays. Returns the bytes released."""
    edges = np.flatnonzero(np.diff(np.r_[True, keep, True].astype(np.int8))).tolist()
    return sum(release(a[start:stop]) for start, stop in zip(edges[::2], edges[1::2], strict=True))


def mapped(a: np.ndarray) -> bool:
    """Whether ``a`` views a file mapping (a loaded snapshot's): its pages are the page cache's, not the heap's."""
    return _mapping(a) is not None


def _mapping(a: np.ndarray) -> mmap.mmap | None:
    """The file mapping ``a`` views (through numpy bases and memoryview slices), or None."""
    obj: object = a
    while isinstance(obj, np.ndarray):
        obj = obj.base
    if isinstance(obj, memoryview):
        obj = obj.obj
    return obj if isinstance(obj, mmap.mmap) else None
