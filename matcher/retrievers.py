"""The first-stage retrievers: one component each, every one with one ``run(idx, need, k)`` returning the talent
table rows it would bring, best first (``None`` where its index is absent: dense vectors off, a need not in the
graph). Rows, not ids: the talent-side indices share row numbers, so the text and dense retrievers hand theirs on
without an id → row lookup per candidate (~1,700 a ranking).

``RETRIEVERS`` lists them in the order ``matcher.retrieve`` fuses them; each one's ``name`` is a field of
``matcher.retrieve.Quotas`` (checked there on import), so a new retriever is one class here plus its quota.
"""

from __future__ import annotations

from operator import itemgetter
from typing import Protocol

import numpy as np

from features.indices import Indices
from features.records import Need, need_text


class Retriever(Protocol):
    name: str
    lexical: bool
    """Finds talents by words or taxonomy names, so only those writing in the need's script (fusion allows it)."""

    def run(self, idx: Indices, need: Need, k: int) -> np.ndarray | None: ...


class Bm25:
    """BM25 over the talents' profiles and works, Chinese and English tokens alike."""

    name = "sparse"
    lexical = True

    def run(self, idx: Indices, need: Need, k: int) -> np.ndarray | None:
        return idx.sparse.search_rows(need, k)[0]


class Dense:
    """Exact inner-product search over the profiles' multilingual vectors."""

    name = "dense"
    lexical = False

    def run(self, idx: Indices, need: Need, k: int) -> np.ndarray | None:
        if idx.dense is None or not len(idx.dense):
            return None
        return idx.dense.search_rows(need_text(need), k)[0]


class Concepts:
    """Taxonomy concepts (disciplines, industries, skills) the need and the talent share, across languages."""

    name = "concepts"
    lexical = True

    def run(self, idx: Indices, need: Need, k: int) -> np.ndarray | None:
        return idx.concepts.search_rows(need, k)[0]


class GraphProximity:
    """Personalized PageRank from the need's node: talents close through enterprises, places, concepts."""

    name = "graph"
    lexical = False

    def run(self, idx: Indices, need: Need, k: int) -> np.ndarray | None:
        if f"need:{need.id}" not in idx.graph:
            return None
        return idx.table.rows(idx.graph.ppr_top(need.id, k)[0])


class IncubatorRoute:
    """Talents linked to an overseas incubator whose focus fits the need (``TalentGraph.matching_incubators``), the
    ``k`` with most concept overlap first (ties to the lower row, as the concept search): a route no text retriever
    may surface. The pool is read from the table's incubator column (``TalentTable.incubator_rows``), a few hundred
    talents per incubator at 100k."""

    name = "incubator"
    lexical = False

    def run(self, idx: Indices, need: Need, k: int) -> np.ndarray | None:
        if f"need:{need.id}" not in idx.graph:
            return None
        rows = idx.table.incubator_rows(node.partition(":")[2] for node in idx.graph.matching_incubators(need))
        return rows[np.argsort(-idx.concepts.concept_overlap(need, rows), kind="stable")[:k]]


RETRIEVERS: tuple[Retriever, ...] = (Bm25(), Dense(), Concepts(), GraphProximity(), IncubatorRoute())


def take(items: list[str], positions: np.ndarray) -> list[str]:
    """``[items[i] for i in positions]`` at C speed (the id lists here run to a few thousand)."""
    if len(positions) == 0:
        return []
    got = itemgetter(*positions.tolist())(items)
    return list(got) if len(positions) > 1 else [got]
