"""Every index over one set of records, built together and changed together.

The service holds one :class:`Indices`; a new, changed or erased talent or need goes through ``add_*`` /
``remove_*`` here so the columnar table, the text, concept and dense indices and the graph never disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from features.ann import DEFAULT_EXACT_BELOW
from features.concepts import ConceptIndex, mapper
from features.conflict import Ties
from features.dense import DEFAULT_ENCODER, DenseIndex, Encoder, NeedDenseIndex, VectorCache, get_encoder
from features.graph import TalentGraph
from features.records import Need, NeedStatus, Record, Talent, share_internals
from features.table import NeedTable, TalentTable
from features.text import NeedIndex, SparseIndex

Progress = Callable[[str], None]


@dataclass
class Indices:
    """The talent-side indices (table, BM25, concepts, dense, graph) and the need-side ones (the need table over
    every need; BM25 and dense over open needs, for the reciprocal direction)."""

    talents: dict[str, Talent]
    needs: dict[str, Need]
    table: TalentTable
    need_table: NeedTable
    sparse: SparseIndex
    concepts: ConceptIndex
    dense: DenseIndex | None
    graph: TalentGraph
    need_sparse: NeedIndex
    need_dense: NeedDenseIndex | None
    incubators: dict[str, Record] = field(default_factory=dict)
    ties: Ties = field(default_factory=Ties)
    """Talents tied to each enterprise (relations, employers): the conflict rule's data."""
    writes: int = 0
    """Talent, need and incubator changes made here so far (``version``)."""

    @classmethod
    def build(
        cls,
        records: Mapping[str, Sequence[Record]],
        *,
        encoder: str | Encoder | None = DEFAULT_ENCODER,
        cache_dir: str | Path | None = None,
        progress: Progress | None = None,
        processes: int | None = None,
        dense_exact_below: int = DEFAULT_EXACT_BELOW,
    ) -> Indices:
        """Index records by kind (``talent``, ``need``, ``enterprise``, ``platform``, ``incubator``).

        Feedback is never indexed, so a ``feedback`` entry (a whole world, say) is not read: a hire edge links the
        hired talent to its own need's enterprise and would put the label into the graph features. Hire edges exist
        only in the graph ``talentmatch graph export`` builds for itself (``TalentGraph.build(feedback=…)``).
        ``encoder`` is a name (``usem3-int8``) or an encoder object; ``None`` skips dense vectors (their features are
        then 0): quick for tests and for worlds where the encoder is not wanted. Needs are indexed for the
        reciprocal direction only while open. ``dense_exact_below``: dense search is exact below this many
        profiles, HNSW above (``features.ann``). ``processes`` caps the forked tokeniser, concept-matcher and
        encoder workers (default: up to 2 for large batches); pass 1 inside a threaded server, where forking is
        unsafe.
        """
        say = progress or (lambda _: None)
        talents = [share_internals(t) for t in records.get("talent", ())]
        needs = [share_internals(n) for n in records.get("need", ())]
        open_needs = [n for n in needs if n.status is NeedStatus.open]
        say("columns")
        table = TalentTable.build(talents)
        need_table = NeedTable.build(needs, languages=table.languages)
        table.settle()  # now: a row's values wait as Python objects until then, and later stages reuse their memory
        need_table.settle()
        say("BM25")
        sparse = SparseIndex.build(talents, processes)
        need_sparse = NeedIndex.build(open_needs, processes)
        say("concepts")
        concepts = ConceptIndex.build(talents, mapper(), processes)
        dense = need_dense = None
        if encoder is not None:
            say("dense vectors")
            enc = get_encoder(encoder) if isinstance(encoder, str) else encoder
            cache = VectorCache(cache_dir) if cache_dir is not None else None
            dense = DenseIndex.build(talents, enc, cache, dense_exact_below, processes)
            need_dense = NeedDenseIndex.build(open_needs, enc, cache, dense_exact_below, processes)
        say("graph")
        graph = TalentGraph.build(
            talents=talents,
            needs=needs,
            enterprises=records.get("enterprise", ()),
            platforms=records.get("platform", ()),
            incubators=records.get("incubator", ()),
        )
        indices = cls(
            talents={t.id: t for t in talents},
            needs={n.id: n for n in needs},
            table=table,
            need_table=need_table,
            sparse=sparse,
            concepts=concepts,
            dense=dense,
            graph=graph,
            need_sparse=need_sparse,
            need_dense=need_dense,
            incubators={i.id: i for i in records.get("incubator", ())},
            ties=Ties.build(talents, records.get("enterprise", ()), records.get("relation", ()), table),
        )
        for index in (sparse, concepts, dense):  # one map of rows for the indices in lockstep: the table's
            if index is not None:
                index.share_rows(table.row_of)
        indices.settle()
        return indices

    @property
    def version(self) -> tuple[int, int]:
        """Changes every time any record a ranking reads changes (here, or the conflict rule's in ``ties``): what
        was computed from the indices at one version holds until the next (``matcher.pipeline.Inputs``)."""
        return self.writes, self.ties.writes

    # -- changes: every index at once ---------------------------------------------------------------------------

    def add_talent(self, t: Talent) -> None:
        """Add or replace a talent everywhere; it is rankable in the next call.

        The table, BM25, concept and dense indices append rows in lockstep (a replaced talent's old row becomes a
        tombstone in each), so one ``table.rows(ids)`` lookup addresses all of them; none of them is ever compacted
        on its own. They share the table's map of rows (``RowMap.share_rows``), which the table changes: last.
        """
        share_internals(t)
        rows = {}
        if self.dense is not None:
            rows["dense"] = self.dense.add(t)  # first: encoding is the step that can fail, and it changes nothing then
        rows |= {"sparse": self.sparse.add(t), "concepts": self.concepts.add(t)}
        row = self.table.add(t)
        if any(r != row for r in rows.values()):
            raise RuntimeError(f"indices out of step for talent {t.id!r}: table row {row}, others {rows}")
        self.graph.add_talent(t)
        self.ties.put_talent(t)
        self.talents[t.id] = t
        self.writes += 1

    def add_talents(self, talents: Sequence[Talent]) -> None:
        """``add_talent`` for many talents (unique ids), with the same result as one by one in this order, in one
        pass per index where that is the same: one dense encoding batch, one sparse product per concept matrix (a
        start's catch-up of the writes since its snapshot); the graph settles once, with the other indices'."""
        talents = [share_internals(t) for t in talents]
        ids = [t.id for t in talents]
        if len(set(ids)) != len(ids):
            raise ValueError(f"Indices.add_talents: a talent id appears twice in {ids[:10]}; ids are unique")
        if not talents:
            return
        rows = {}
        if self.dense is not None:  # first: encoding can fail, and changes nothing when it does
            rows["dense"] = self.dense.add_many(talents)
        rows |= {"sparse": self.sparse.add_many(talents), "concepts": self.concepts.add_many(talents)}
        rows["table"] = [self.table.add(t) for t in talents]  # last: it changes the rows the others read
        if any(r != rows["table"] for r in rows.values()):
            raise RuntimeError(f"indices out of step for talents {ids[:5]}: rows {rows}")
        for t in talents:  # one by one: the graph's node order (which its snapshot and PPR keep) stays the same
            self.graph.add_talent(t)
            self.ties.put_talent(t)
        self.talents.update(zip(ids, talents, strict=True))
        self.writes += 1

    def remove_talent(self, talent_id: str) -> bool:
        """Erase a talent from every index (PIPL erasure); False if it was not indexed."""
        if self.talents.pop(talent_id, None) is None:
            return False
        self.writes += 1
        self.sparse.remove(talent_id)
        self.concepts.remove(talent_id)
        if self.dense is not None:
            self.dense.remove(talent_id)
        self.table.remove(talent_id)  # last: it forgets the row the others read
        self.graph.remove_talent(talent_id)
        self.ties.remove_talent(talent_id)
        return True

    def erase_talent(self, talent_id: str) -> bool:
        """PIPL erasure: ``remove_talent``, then every row the talent ever had (earlier versions' tombstones too) is
        zeroed in the table, BM25 (with the words only they used), concept and dense indices, and every graph node
        it had blanked, at once: no index keeps their id, name, text or values (rows keep their numbers, so the
        lockstep holds without a compaction). Returns whether the talent was indexed."""
        indexed = self.remove_talent(talent_id)
        self.writes += 1
        self.graph.scrub(talent_id)
        self.ties.scrub(talent_id)  # first: it finds the rows by the ids the table blanks
        self.table.scrub(talent_id)
        self.sparse.scrub(talent_id)
        self.concepts.scrub(talent_id)
        if self.dense is not None:
            self.dense.scrub(talent_id)
        return indexed

    def add_need(self, n: Need) -> None:
        """Add or replace a need; only open needs are searchable from a talent."""
        share_internals(n)
        self.remove_need(n.id)
        self.writes += 1
        if n.status is NeedStatus.open:
            if self.need_dense is not None:
                self.need_dense.add(n)
            self.need_sparse.add(n)
        self.graph.add_need(n)
        self.need_table.add(n)
        self.needs[n.id] = n

    def remove_need(self, need_id: str) -> bool:
        old = self.needs.pop(need_id, None)
        if old is None:
            return False
        self.writes += 1
        if old.status is NeedStatus.open:
            self.need_sparse.remove(need_id)
            if self.need_dense is not None:
                self.need_dense.remove(need_id)
        self.graph.remove_need(need_id)
        self.need_table.remove(need_id)
        return True

    def put_incubator(self, incubator: Record) -> None:
        """Add or replace an incubator's record (its graph node is made at the next start)."""
        self.incubators[incubator.id] = incubator
        self.writes += 1

    def remove_incubator(self, incubator_id: str) -> bool:
        if self.incubators.pop(incubator_id, None) is None:
            return False
        self.writes += 1
        return True

    def settle(self) -> None:
        """Rebuild now what the first read after a change would rebuild lazily (the tables' appended rows, the
        graph's adjacency): a writer calls this before it lets readers in, so concurrent readers only read."""
        self.table.settle()
        self.need_table.settle()
        self.graph.settle()

    # -- row lookups ---------------------------------------------------------------------------------------------

    def rows(self, talent_ids: Sequence[str]) -> np.ndarray:
        """Row of each talent in every talent-side index (they are in lockstep); -1 for unknown or erased ids."""
        return self.table.rows(talent_ids)
