"""Remembered top-k answers (``features._topk``) against a search of every row, through random appends and deaths,
with many ties: the same rows and scores every time, and searches skipped while the memo still holds the answer."""

from __future__ import annotations

import numpy as np
import pytest

from features._topk import MARGIN, TopMemo


def whole(scores: np.ndarray, alive: np.ndarray, kk: int, floor: float) -> tuple[np.ndarray, np.ndarray]:
    """The best ``kk`` live rows above ``floor`` by (score, then lower row): the truth."""
    rows = np.flatnonzero(alive & (scores > floor))
    rows = rows[np.lexsort((rows, -scores[rows]))][:kk]
    return rows, scores[rows]


@pytest.mark.parametrize("floor", [-np.inf, 0.0])
def test_remembered_answers_equal_a_whole_search_through_appends_and_deaths(floor: float) -> None:
    rng = np.random.default_rng(5)
    scores = rng.integers(-3, 40, 3_000).astype(np.float32)  # integers: ties everywhere, zeros and negatives
    alive = np.ones(3_000, dtype=bool)
    n, scans, memo = 1_500, [], TopMemo(entries=8)
    queries = [(b"q", k) for k in (1, 10, 100, 2_000)]

    def ask(key: tuple) -> tuple[np.ndarray, np.ndarray]:
        def scan(kk: int) -> tuple[np.ndarray, np.ndarray]:
            scans.append(kk)
            return whole(scores[:n], alive[:n], kk, floor)

        def tail(start: int) -> tuple[np.ndarray, np.ndarray]:
            return np.arange(start, n), scores[start:n]

        return memo.search(key, key[1], n, alive[:n], scan, tail, floor)

    for step in range(60):
        for key in queries:
            got, want = ask(key), whole(scores[:n], alive[:n], key[1], floor)
            np.testing.assert_array_equal(got[0], want[0])
            np.testing.assert_array_equal(got[1], want[1])
        if step % 3 == 0:
            n += int(rng.integers(1, 25))  # appended rows
        else:  # deaths, mostly among the best rows (what a remembered answer holds)
            best = whole(scores[:n], alive[:n], 50, floor)[0]
            alive[rng.choice(best, size=min(len(best), int(rng.integers(1, 6))), replace=False)] = False
    assert len(scans) < 60 * len(queries) / 3, len(scans)  # most answers came from the memo
    assert set(scans) <= {k + MARGIN for _, k in queries}  # a whole search asks for the margin too


def test_the_least_recently_asked_is_forgotten_first_and_clear_forgets_all() -> None:
    scores, alive = np.arange(100, dtype=np.float32), np.ones(100, dtype=bool)
    memo = TopMemo(entries=2)
    for key in ("a", "b", "a", "c"):
        memo.search((key, 5), 5, 100, alive, lambda kk: whole(scores, alive, kk, -np.inf), None, -np.inf)
    assert list(memo._known) == [("a", 5), ("c", 5)] and len(memo) == 2
    memo.clear()
    assert len(memo) == 0
