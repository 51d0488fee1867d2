"""Array helpers of the growable indices, against numpy's general versions."""

import numpy as np

from features._growable import in_sorted, ranges


def test_in_sorted_is_isin_for_an_ascending_array():
    rng = np.random.default_rng(3)
    for n, m in [(0, 5), (5, 0), (0, 0), (1, 1), (300, 30_000), (50, 3)]:
        ascending = np.unique(rng.integers(0, 2 * max(m, 1), m))
        values = rng.integers(-1, 2 * max(m, 1) + 2, n)  # -1 (an unknown row) and values past the last
        assert np.array_equal(in_sorted(values, ascending), np.isin(values, ascending)), (n, m)


def test_ranges_lists_every_range_in_order():
    assert ranges(np.array([5, 0, 9]), np.array([2, 0, 3])).tolist() == [5, 6, 9, 10, 11]
