"""The (need, talent) pair frame every feature column group reads, and the live need set of the reverse direction.

A :class:`Pairs` is one need against many talents (ranking: ``feature_matrix``) or many needs against one talent
(alerts: ``talent_matrix``). Its need columns (``NeedTable``) and talent columns (``TalentTable``) are arrays of the
pairs' length or of length 1, so a column group written as numpy expressions over them serves both directions by
broadcasting. Where the evidence really is computed differently (BM25 gathers many talents' terms for one query, or
takes one talent's term weights against many queries; PageRank is one solve from the need, or one reverse solve to
the talent), the group calls the owning index's public method for its direction.

:class:`NeedSet` holds the need side of the reverse direction for a live set of needs (add, replace, remove one at a
time; rows are tombstoned, never renumbered): each index's representation of each need, built once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import scipy.sparse as sp

from features._growable import GrowableCSR, GrowableVector
from features.eligibility import Eligibility
from features.graph import NeedLinks
from features.indices import Indices
from features.records import Need, need_text
from features.schema import SCHEMA
from features.table import NeedTable

COLUMN = {name: i for i, name in enumerate(SCHEMA.names)}
"""Feature name → column of the matrix."""


@dataclass
class Pairs:
    """(need, talent) pairs: ``need`` and ``talent`` columns broadcast against each other (one side has length 1).

    ``X`` is the matrix being filled, in schema order: a group may read the columns of groups before it (``col``).
    One need: ``query`` is that need, ``talent_ids`` and ``rows`` the talents (row -1: unknown). Many needs:
    ``needs`` and ``sel`` (its rows) are the needs, ``talent_ids`` and ``rows`` the one talent."""

    idx: Indices
    need: dict[str, np.ndarray]
    rows: np.ndarray
    eligibility: Eligibility
    now_day: float
    X: np.ndarray
    talent_ids: Sequence[str] = ()
    query: Need | None = None
    needs: NeedSet | None = None
    sel: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    @cached_property
    def known(self) -> np.ndarray:
        return self.rows >= 0

    @cached_property
    def _all_known(self) -> bool:
        return bool(self.known.all())

    @cached_property
    def _safe(self) -> np.ndarray:
        return np.where(self.known, self.rows, 0)

    @property
    def row(self) -> int:
        """The one talent's row (many needs)."""
        return int(self.rows[0])

    @cached_property
    def query_text(self) -> str:
        return need_text(self.query)

    def talent(self, name: str, missing: float = 0) -> np.ndarray:
        """A ``TalentTable`` column at the talent rows; ``missing`` where the row is unknown."""
        values = getattr(self.idx.table, name)
        if self._all_known:
            return values[self.rows]
        return np.where(self.known, values[self._safe], missing)

    def col(self, name: str) -> np.ndarray:
        """A column an earlier group wrote (float32, as in the matrix)."""
        return self.X[:, COLUMN[name]]


class NeedSet:
    """The needs one talent is matched against, prepared once per need for ``talent_matrix`` (the need side of
    every index: query terms, concept and discipline vectors, required skills, dense query vector, graph links).

    Needs must be indexed first (``Indices.add_need``); their rule and fit columns are read from
    ``Indices.need_table``. The concept vectors are weighted with the concept index's IDF at the time they were
    added, so the set refuses to score once ``ConceptIndex.compact`` recomputed it."""

    def __init__(self, idx: Indices, needs: Sequence[Need] = ()) -> None:
        self.idx = idx
        self.ids: list[str] = []
        self.row_of: dict[str, int] = {}
        self.alive = GrowableVector(np.zeros(0, bool))
        self.idf = idx.concepts.idf
        n_concepts = idx.concepts.n_cols
        self._table_rows = GrowableVector(np.zeros(0, np.int64))
        self._columns: dict[str, np.ndarray] | None = None
        self._terms = GrowableCSR(sp.csr_matrix((0, 0), dtype=np.float32))
        self._concepts = GrowableCSR(sp.csr_matrix((0, n_concepts), dtype=np.float32))
        self._disciplines = GrowableCSR(sp.csr_matrix((0, n_concepts), dtype=np.float32))
        self._skill_terms = GrowableCSR(sp.csr_matrix((0, 0), dtype=np.float32))
        self._skill_concepts = GrowableCSR(sp.csr_matrix((0, n_concepts), dtype=np.float32))
        self._skill_owner = GrowableVector(np.zeros(0, np.int64))
        self._dense: list[np.ndarray] = []
        self._dense_stack: np.ndarray | None = None
        self.links = NeedLinks(idx.graph)
        for need in needs:
            self.add(need)

    def __len__(self) -> int:
        return len(self.row_of)

    def __contains__(self, need_id: str) -> bool:
        return need_id in self.row_of

    def add(self, need: Need) -> None:
        """Add or replace a need (it must be indexed, as ``Indices.add_need`` leaves it)."""
        idx = self.idx
        table_row = int(idx.need_table.rows([need.id])[0])
        if table_row < 0:
            raise LookupError(f"need {need.id!r} is not indexed; add it with Indices.add_need before matching")
        if need.id in self.row_of:
            self.remove(need.id)
        row = len(self.ids)
        self._table_rows.extend(np.array([table_row]))
        self._columns = None
        terms = idx.sparse.query_terms(need)
        self._terms.append(terms, np.ones(len(terms), np.float32))
        for m, vec in ((self._concepts, idx.concepts.query_vector(need)),
                       (self._disciplines, idx.concepts.discipline_vector(need))):  # fmt: skip
            nz = np.flatnonzero(vec)
            m.append(nz, vec[nz])
        for skill in need.required_skills:
            terms = idx.sparse.required_terms(skill)
            self._skill_terms.append(terms, np.ones(len(terms), np.float32))
            named = np.unique(idx.concepts.mapper.match(skill)[0])
            self._skill_concepts.append(named, np.ones(len(named), np.float32))
            self._skill_owner.extend(np.array([row]))
        if idx.dense is not None:
            self._dense.append(idx.dense.query_vector(need_text(need)))
            self._dense_stack = None
        self.links.add(need)
        self.ids.append(need.id)
        self.row_of[need.id] = row
        self.alive.extend(np.ones(1, bool))

    def remove(self, need_id: str) -> bool:
        """Drop a need (closed, erased, unsubscribed); False if it was not in the set."""
        row = self.row_of.pop(need_id, None)
        if row is None:
            return False
        self.alive.view[row] = False
        return True

    # -- the need side of rows ``sel``, for the column groups

    def columns(self, sel: np.ndarray | slice = slice(None)) -> dict[str, np.ndarray]:
        """``NeedTable`` columns of the set's rows ``sel`` (gathered once per change of the set: the table's rows
        never change, a replaced need gets a new one)."""
        if self._columns is None:
            self._columns = self.idx.need_table.gather(self._table_rows.view, NeedTable.COLUMNS)
        return {name: values[sel] for name, values in self._columns.items()}

    def terms(self, sel: np.ndarray) -> sp.csr_matrix:
        return self._terms.csr()[sel]

    def concepts(self, sel: np.ndarray) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        """(concept, discipline) vectors of rows ``sel``."""
        return self._concepts.csr()[sel], self._disciplines.csr()[sel]

    def skills(self, sel: np.ndarray) -> tuple[np.ndarray, sp.csr_matrix, sp.csr_matrix]:
        """The required skills of rows ``sel``: (owner position in ``sel``, term rows, named-concept rows)."""
        position = np.full(len(self.ids), -1, np.int64)
        position[sel] = np.arange(len(sel))
        owner = position[self._skill_owner.view]
        pairs = np.flatnonzero(owner >= 0)
        return owner[pairs], self._skill_terms.csr()[pairs], self._skill_concepts.csr()[pairs]

    def dense(self, sel: np.ndarray) -> np.ndarray:
        if self._dense_stack is None:
            self._dense_stack = np.stack(self._dense) if self._dense else np.zeros((0, 0), np.float32)
        return self._dense_stack[sel]
