"""Post-kind indicators: one column per ``NeedKind``, 1 for the need's kind."""

from __future__ import annotations

import numpy as np

from features.pairs import Pairs
from features.records import NeedKind
from features.table import KIND_CODES


class PostKind:
    names = tuple(f"kind_{k.value}" for k in NeedKind)

    def run(self, p: Pairs) -> dict[str, np.ndarray]:
        kind = p.need["kind"]
        return {f"kind_{k.value}": (kind == KIND_CODES[k]).astype(np.float32) for k in NeedKind}
