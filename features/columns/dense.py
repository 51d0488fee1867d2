"""Dense columns: cosine of the need's multilingual embedding with the profile and the best works (0 without an
encoder, or for unknown talents)."""

from __future__ import annotations

import numpy as np

from features.pairs import Pairs


class DenseSimilarity:
    names = ("dense_profile", "dense_works_max", "dense_works_top3")

    def run(self, p: Pairs) -> dict[str, np.ndarray]:
        dense, n = p.idx.dense, len(p.X)
        out = {name: np.zeros(n, np.float32) for name in self.names}
        if dense is None:
            return out
        if p.needs is not None:
            return dense.score_queries(p.needs.dense(p.sel), p.row)
        known = p.known
        if known.any():
            for name, values in dense.score(p.query_text, p.rows[known]).items():
                out[name][known] = values
        return out
