"""Remembered top-k answers over rows that are only appended or marked dead (the dense profiles, the concept rows):
a query asked again is answered from what its last search found, brought up to date with the rows appended since.

Rows of these indices never change in place: a replaced record gets a new row and its old one dies, and nothing
renumbers rows but a rebuild (which forgets). So a search of the best ``k + margin`` rows also bounds every row it
did not return: none scores above its last (the floor). Later, the known rows minus the dead plus the appended rows
above the floor hold the answer a new search would give (up to exact ties at the k-th score) while ``k`` of them
still score above the floor; otherwise the query is searched again. Needs are ranked again and again, after writes.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

ENTRIES = 2048
"""Queries remembered per index (~6 KB each with a 512-d dense query as the key and ``k + MARGIN`` rows)."""
MARGIN = 64
"""Rows kept beyond ``k``: a remembered answer survives this many erasures or replacements among its rows."""


class Known(NamedTuple):
    """What a search of the first ``upto`` rows found: ``rows`` best first (ties to the lower row) and their
    ``scores``; ``complete`` when every row above ``floor`` was returned (fewer than asked), else ``floor`` is the
    last one's score and no other row below ``upto`` scores above it."""

    upto: int
    floor: float
    complete: bool
    rows: np.ndarray
    scores: np.ndarray


def best_first(rows: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.lexsort((rows, -scores))
    return rows[order], scores[order]


class TopMemo:
    """``ENTRIES`` queries' ``Known`` answers by key (the query's bytes and ``k``), least recently used out.

    ``search`` takes the index's size and live mask now and two callbacks: ``scan(kk)``, the best ``kk`` live rows
    of a whole search, best first, as ``(rows, scores)``, with ``floor``, the score that rows it leaves out stay at
    or below when it returns fewer than asked (``-inf`` for any score, 0 for positive scores only); and
    ``tail(start)``, every row from ``start`` on with its score, computed as the whole search computes it (the
    same kernel, so the same float bits)."""

    def __init__(self, entries: int = ENTRIES, margin: int = MARGIN) -> None:
        self.entries, self.margin = entries, margin
        self._known: OrderedDict[tuple, Known] = OrderedDict()
        self._lock = threading.Lock()

    def __getstate__(self) -> dict:
        """Pickled with its answers: an index snapshot keeps those its save prepared (``service.snapshots.
        prepare``), which hold for the rows saved with them."""
        with self._lock:
            return {"entries": self.entries, "margin": self.margin, "_known": OrderedDict(self._known)}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._known)

    def clear(self) -> None:
        with self._lock:
            self._known.clear()

    def search(
        self,
        key: tuple,
        k: int,
        n_rows: int,
        alive: np.ndarray,
        scan: Callable[[int], tuple[np.ndarray, np.ndarray]],
        tail: Callable[[int], tuple[np.ndarray, np.ndarray]],
        floor: float,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The best ``k`` live rows for ``key`` (fewer when fewer score above ``floor``): ``(rows, scores)``."""
        with self._lock:
            known = self._known.get(key)
            if known is not None:
                self._known.move_to_end(key)
        if known is not None:
            known = self._refreshed(known, k, n_rows, alive, tail)
        if known is None:
            rows, scores = scan(k + self.margin)
            rows, scores = best_first(rows, scores)
            complete = len(rows) < k + self.margin
            known = Known(n_rows, floor if complete else float(scores[-1]), complete, rows, scores)
        with self._lock:
            self._known[key] = known
            while len(self._known) > self.entries:
                self._known.popitem(last=False)
        return known.rows[:k], known.scores[:k]

    @staticmethod
    def _refreshed(known: Known, k: int, n_rows: int, alive: np.ndarray, tail) -> Known | None:
        """``known`` with the dead rows out and the rows appended since merged in, or None when it no longer holds
        ``k`` rows above its floor, or a quarter of the rows is new (a whole search costs little more then)."""
        appended = n_rows - known.upto
        if appended == 0 and alive[known.rows].all():
            return known
        if appended > n_rows // 4:
            return None
        keep = alive[known.rows]
        rows, scores = known.rows[keep], known.scores[keep]
        if appended:
            new_rows, new_scores = tail(known.upto)
            take = alive[new_rows] & (new_scores > known.floor)
            rows, scores = best_first(
                np.concatenate([rows, new_rows[take]]), np.concatenate([scores, new_scores[take]])
            )
        if not known.complete and np.count_nonzero(scores > known.floor) < k:
            return None
        return Known(n_rows, known.floor, known.complete, rows, scores)
