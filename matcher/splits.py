"""The side of every split of a LightGBM model that a feature row takes: all of the row that TreeSHAP reads.

Path-dependent TreeSHAP (LightGBM's ``pred_contrib``) walks every tree; at each split it follows the row's side and
weights the other side by the training cover the model stores. The row's values enter only through those sides, so
two rows that take the same side of every split get the same contributions, bit for bit. ``Splits.sides`` is that
key: a server memoises contributions by it (``service.ranking``), so after a write, which moves every candidate's
PageRank and BM25 features a little, only the rows that crossed a threshold are explained again.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

ZERO = np.float32(1e-35)
"""LightGBM's ``kZeroThreshold``: a value this close to 0 is 0 to it (a zero-as-missing split sends it the default
way, and a row's sparse form drops it)."""


@dataclass(frozen=True)
class Splits:
    """The numerical splits of a model, tree after tree: the feature each reads and its threshold."""

    feature: np.ndarray
    threshold: np.ndarray

    @classmethod
    def parse(cls, model: str) -> Splits | None:
        """The splits of a LightGBM text model (``model_to_string``); None when one is categorical (its side is a
        set lookup, not a threshold)."""
        features, thresholds = [], []
        for line in model.splitlines():
            key, _, value = line.partition("=")
            if key == "split_feature":
                features.append(np.array(value.split(), dtype=np.int64))
            elif key == "threshold":
                thresholds.append(np.array(value.split(), dtype=np.float64))
            elif key == "decision_type" and any(int(d) & 1 for d in value.split()):
                return None
        if [len(f) for f in features] != [len(t) for t in thresholds]:
            raise ValueError("a LightGBM model whose split_feature and threshold lines do not pair up")
        empty = np.zeros(0, dtype=np.int64)
        return cls(np.concatenate([empty, *features]), np.concatenate([empty.astype(np.float64), *thresholds]))

    @cached_property
    def _at_most(self) -> np.ndarray:
        """The largest float32 at or below each threshold: a float32 value is ≤ the threshold (LightGBM compares in
        float64) exactly when it is ≤ this, so rows are compared in float32, without a float64 copy."""
        near = self.threshold.astype(np.float32)
        return np.where(near.astype(np.float64) <= self.threshold, near, np.nextafter(near, np.float32(-np.inf)))

    @cached_property
    def _used(self) -> np.ndarray:
        return np.unique(self.feature)

    def sides(self, X: np.ndarray) -> list[bytes]:
        """One key a row: the side of each split (value ≤ threshold), and for every feature a split reads whether it
        is NaN and whether it is 0 to LightGBM. Finer than LightGBM's own decisions (which send NaN one way by a
        split's missing type), so rows with one key get one explanation."""
        X = np.asarray(X, dtype=np.float32)
        n, used = len(self.feature), self._used
        bits = np.zeros((len(X), -(-(n + 2 * len(used)) // 8) * 8), dtype=bool)  # whole bytes a row: one packbits
        np.less_equal(X[:, self.feature], self._at_most, out=bits[:, :n])
        np.isnan(X[:, used], out=bits[:, n : n + len(used)])
        np.less_equal(np.abs(X[:, used]), ZERO, out=bits[:, n + len(used) : n + 2 * len(used)])
        return [row.tobytes() for row in np.packbits(bits.ravel()).reshape(len(X), -1)]
