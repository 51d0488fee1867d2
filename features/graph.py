"""The typed talent graph over all records, held as flat node and edge arrays and read as a CSR adjacency.

Talents and needs meet through shared vocabulary (skills, NSFC disciplines with their parents, institutions,
places, industries) and through the city's structures (enterprises on platforms, overseas incubators with focus
industries). Nodes and edges live in flat arrays (a node number per typed id, an edge's two ends, its type and
attributes as a shared shape), not in a networkx graph: at 100k talents networkx's dicts held ~100 MB of a serving
process, and a snapshot took 2 s to rebuild them. The numbers (personalized PageRank, common neighbours, Adamic–Adar,
routes, incubator routes) run as scipy.sparse products on a CSR matrix re-assembled in milliseconds after a change;
a change's own questions (a node's neighbours, is there an edge) go to an index of edges by node that absorbs
appended edges (``_EdgeIndex``). ``TalentGraph.to_networkx`` gives the readable networkx form (export, notebooks).

Node ids are typed strings (``talent:t1``, ``discipline:F0201``, ``skill:深度学习``, ``city:CN/shanghai``,
``country:DE``, ``industry:semiconductors``); free-text vocabulary (skills, institutions, cities) is normalised by
collapsing whitespace and case-folding, so "Deep  Learning" and "deep learning" are one node.

Lifecycle: talents and needs are added, replaced and removed one at a time. Vocabulary nodes, and stub nodes for an
enterprise, platform or incubator that is referenced but was not given as a record, exist exactly as long as
something links to them: removing the last talent that used a skill removes the skill node (and a discipline whose
only remaining link is its parent, recursively), while vocabulary shared with others stays. Hence an incremental
add or remove leaves the same graph as a rebuild from the same records.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
from array import array
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum
from itertools import repeat
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import scipy.sparse as sp

from features._growable import GrowableCSR, GrowableVector, in_sorted, ranges
from features._mapped import mapped, release
from features.records import (
    Enterprise,
    FeedbackAction,
    FeedbackEvent,
    Incubator,
    Need,
    Platform,
    Talent,
)
from features.taxonomy import INDUSTRY_NAMES, Industry, disciplines


class NodeType(StrEnum):
    """Node types. Every node has ``type`` (this value) and ``label`` (display text); further attributes:

    - ``talent``: ``tier`` (A–E) when known.
    - ``need``: ``kind`` (post kind), ``status``.
    - ``enterprise`` / ``platform`` / ``incubator``: from their records (``district`` for platforms; ``country``,
      ``city``, ``city_synthetic`` for incubators); a referenced id without a record is a stub with ``stub=True``.
    - ``discipline``: ``code``, ``name_zh``, ``name_en``, ``level`` (1–3 for 3-, 5- and 7-character NSFC codes).
    - ``skill`` / ``institution``: ``label`` is the normalised text.
    - ``city``: ``country`` (ISO code, ``?`` when unknown); ``country``: ``label`` is the ISO code.
    - ``industry``: ``name_zh``, ``name_en``.
    """

    talent = "talent"
    need = "need"
    enterprise = "enterprise"
    platform = "platform"
    incubator = "incubator"
    discipline = "discipline"
    skill = "skill"
    institution = "institution"
    city = "city"
    country = "country"
    industry = "industry"


class EdgeType(StrEnum):
    """Edge types (undirected; stored as ``type``). Only ``talent_institution`` has a further attribute, ``role``:
    ``education``, ``employer`` or ``education+employer``.

    ``talent_city`` and ``incubator_city`` end at the city node, or at the country node when the city is unknown;
    a city of a known country links to it by ``city_country``. ``hire`` joins a talent to the enterprise of a need
    for which feedback recorded a hire.
    """

    talent_discipline = "talent_discipline"
    talent_skill = "talent_skill"
    talent_institution = "talent_institution"
    talent_city = "talent_city"
    talent_incubator = "talent_incubator"
    need_discipline = "need_discipline"
    need_skill = "need_skill"
    need_enterprise = "need_enterprise"
    need_industry = "need_industry"
    enterprise_platform = "enterprise_platform"
    enterprise_industry = "enterprise_industry"
    platform_industry = "platform_industry"
    incubator_city = "incubator_city"
    incubator_industry = "incubator_industry"
    incubator_discipline = "incubator_discipline"
    discipline_parent = "discipline_parent"
    city_country = "city_country"
    hire = "hire"


_NODE_TYPES = list(NodeType)
_EDGE_TYPES = list(EdgeType)
_ARRAYS = {
    "_kind": np.int8,
    "_nshape": np.int32,  # a node's attributes beyond type and label: a shape number
    "_eu": np.int32,  # an edge's two ends (``_csr`` reads them whole, then hands their pages back)
    "_ev": np.int32,
    "_etype": np.int8,
    "_eshape": np.int32,  # an edge's attributes beyond type (``role``): a shape number
}
"""The graph's node and edge columns (numpy ``GrowableVector``s, so a snapshot maps them) and their types."""
_NCODE = {t: i for i, t in enumerate(_NODE_TYPES)}
_ECODE = {t.value: i for i, t in enumerate(_EDGE_TYPES)}
_VOCABULARY = frozenset(
    {NodeType.discipline, NodeType.skill, NodeType.institution, NodeType.city, NodeType.country, NodeType.industry}
)
# The PPR solve eliminates these (``solve_ppr``): no edge joins two of them.
_RECORD_SIDE = np.array([t in (NodeType.talent, NodeType.need, NodeType.platform) for t in _NODE_TYPES])
_CONCEPT = np.array([t in (NodeType.skill, NodeType.discipline) for t in _NODE_TYPES])
_OWNER = np.array([t in (NodeType.talent, NodeType.need, NodeType.incubator) for t in _NODE_TYPES])
"""Node kinds whose concept sets count for Adamic–Adar weights."""

ROUTE_CAP = 6
"""Routes longer than this many hops, unreachable targets and unknown talents get ``ROUTE_CAP + 1``."""
PPR_ALPHA, PPR_STEPS, PPR_RTOL = 0.15, 20, 3e-5
"""Restart probability, step budget (one sparse product over the graph each) and relative residual tolerance of
every personalized PageRank solve here (``solve_ppr``)."""
MEMO_BYTES = 64 << 20
"""Bytes of per-need results kept between graph changes, least recently used dropped first: PPR and routes on the
concept side only (float32 and int8, a value per skill, discipline, enterprise, place…: the record side follows from
its neighbours there, see ``_ConceptSide``), the talents linked to matching incubators, the PPR's top talents and the
need's concepts — sized by the vocabulary, not the pool (~0.1 MB a need at 100k and at 1M talents, where whole
vectors were 0.8 and 6–8 MB) — and, across a change, each need's last PPR with its rows' node numbers (the next
solve's start). Bounded by bytes, not entries: a count bound of 640 entries held ~130 MB at 100k. The whole-graph
results (``TalentGraph._per_version``) are kept apart, outside the bound. A server sets it from
``TALENTMATCH_GRAPH_MEMO_BYTES`` (``bound_memo``)."""


def bound_memo(max_bytes: int) -> None:
    """Set ``MEMO_BYTES`` for every graph of this process (the service's ``graph_memo_bytes`` setting)."""
    global MEMO_BYTES
    MEMO_BYTES = max_bytes


_WINDOWS = (32, 512, sys.maxsize)
"""How many of a checked row's record neighbours ``TalentGraph._hold_at`` reads, round by round."""
TOUCHED_LIMIT = 4096
"""Node numbers a version may touch (``_touch``) and still check a need's kept routes at them instead of searching
anew; a bulk change touches more, and the next ranking of each enterprise searches from scratch."""
PREPARE_THREADS = min(4, os.cpu_count() or 1)
"""Threads ``TalentGraph.prepare_needs`` runs on: one a core (a snapshot save has the machine to itself)."""
ATTACH_CHUNK = 2048
"""Talents linked per bulk step: each step's temporary link lists are freed before the next allocates, so 100k
talents leave no ~100 MB of holes among the graph's own objects (the heap never gives such holes back)."""


def normalise(text: str) -> str:
    """Vocabulary key of free text: whitespace collapsed, case-folded (a no-op for Chinese)."""
    return " ".join(text.split()).casefold()


def _type_of(node: str) -> NodeType:
    return NodeType(node.partition(":")[0])


def _place(country: str | None, city: str | None) -> str | None:
    """The node of a place: its city when known (``city:CN/shanghai``, ``city:?/x`` without a country), else its
    country."""
    key = normalise(city) if city else ""
    if key:
        return f"city:{country or '?'}/{key}"
    return f"country:{country}" if country else None


def _vocabulary_attrs(node: str) -> dict:
    kind, _, key = node.partition(":")
    match NodeType(kind):
        case NodeType.discipline:
            d = disciplines()[key]
            return {"label": d.name_en or d.name_zh, "code": key, "name_zh": d.name_zh, "name_en": d.name_en,
                    "level": (len(key) - 1) // 2}  # fmt: skip
        case NodeType.city:
            country, _, name = key.partition("/")
            return {"label": name, "country": country}
        case NodeType.industry:
            zh, en = INDUSTRY_NAMES[Industry(key)]
            return {"label": en, "name_zh": zh, "name_en": en}
        case _:
            return {"label": key}


def _up(node: str) -> str | None:
    """The vocabulary node a vocabulary node hangs from (discipline parent, city's country), if any."""
    kind, _, key = node.partition(":")
    if kind == NodeType.discipline:
        parent = disciplines()[key].parent
        return f"discipline:{parent}" if parent else None
    if kind == NodeType.city:
        country = key.partition("/")[0]
        return f"country:{country}" if country != "?" else None
    return None


Link = tuple[str, str, dict]
"""(target node, edge type value, edge attributes) of one record's edge."""


def _talent_links(t: Talent) -> list[Link]:
    links: dict[str, Link] = {}
    for code in t.disciplines:
        links[f"discipline:{code}"] = (f"discipline:{code}", EdgeType.talent_discipline.value, {})
    for s in t.skills:
        if key := normalise(s):
            links[f"skill:{key}"] = (f"skill:{key}", EdgeType.talent_skill.value, {})
    roles: dict[str, set[str]] = {}
    for name, role in [*((e.institution, "education") for e in t.education), (t.employer, "employer")]:
        if name and (key := normalise(name)):
            roles.setdefault(f"institution:{key}", set()).add(role)
    for node, rs in roles.items():
        links[node] = (node, EdgeType.talent_institution.value, {"role": "+".join(sorted(rs))})
    if place := _place(t.residence.country, t.residence.city):
        links[place] = (place, EdgeType.talent_city.value, {})
    if t.incubator_id:
        links[f"incubator:{t.incubator_id}"] = (f"incubator:{t.incubator_id}", EdgeType.talent_incubator.value, {})
    return list(links.values())


def _need_links(n: Need) -> list[Link]:
    links: dict[str, Link] = {}
    for code in n.disciplines:
        links[f"discipline:{code}"] = (f"discipline:{code}", EdgeType.need_discipline.value, {})
    for s in n.required_skills:
        if key := normalise(s):
            links[f"skill:{key}"] = (f"skill:{key}", EdgeType.need_skill.value, {})
    if n.enterprise_id:
        node = f"enterprise:{n.enterprise_id}"
        links[node] = (node, EdgeType.need_enterprise.value, {})
    if n.industry:
        node = f"industry:{n.industry.value}"
        links[node] = (node, EdgeType.need_industry.value, {})
    return list(links.values())


def _check_unique(records: Iterable, where: str) -> list:
    records = list(records)
    if dup := sorted(i for i, c in Counter(r.id for r in records).items() if c > 1):
        kind = type(records[0]).__name__.lower()
        raise ValueError(f"{kind} id(s) {', '.join(dup)} appear more than once in the input to {where}; "
                         "de-duplicate the records first")  # fmt: skip
    return records


def _ancestors(code: str) -> set[str]:
    """The code and all its NSFC ancestors."""
    out, tax = set(), disciplines()
    cur: str | None = code
    while cur:
        out.add(cur)
        cur = tax[cur].parent
    return out


@dataclass(frozen=True, slots=True)
class _EdgeIndex:
    """The live edge slots at each node number, for the edges ``[0, size)`` of a numbering (``epoch``): neighbours
    and ``has_edge`` during a change, when the CSR is stale. Edges appended later are scanned, until there are enough
    of them to index again (``INDEX_SLACK``); nodes and edges removed since are filtered out on reading."""

    size: int
    epoch: int
    indptr: np.ndarray  # node number -> start in ``slots`` (numbers beyond it have no indexed edge)
    slots: np.ndarray  # edge slot of each (node, edge) pair, by node then slot


INDEX_SLACK = 4096
"""Edges appended since the index was built that a lookup scans before the index is built again (plus an eighth of
the indexed edges: a bulk change re-indexes a few times, not once per edge)."""


@dataclass(frozen=True, slots=True)
class _Csr:
    """The adjacency of one graph version in CSR row order (record side first), with what the numbers need."""

    version: int
    adj: sp.csr_array  # the adjacency's pattern (symmetric) holding the walk W = A D⁻¹: 1 / degree of the column
    pos: np.ndarray  # node number -> CSR row (-1 for removed nodes)
    kinds: np.ndarray  # CSR row -> NodeType code
    split: int  # rows [0, split) are the record side
    order: np.ndarray  # CSR row -> node number
    talent_rows: np.ndarray  # CSR rows of all talents

    def walks(self) -> tuple[sp.csr_array, sp.csr_array]:
        """W's rows ``[0, split)`` and ``[split, n)``, views of ``adj``'s arrays: kept as their own arrays they were
        a second copy of the graph's edges in memory and, pickled apart from ``adj``, in every snapshot."""
        adj, split, n = self.adj, self.split, self.adj.shape[0]
        cut = adj.indptr[split]
        return (_csr_view(adj.data[:cut], adj.indices[:cut], adj.indptr[: split + 1], (split, n)),
                _csr_view(adj.data[cut:], adj.indices[cut:], adj.indptr[split:] - cut, (n - split, n)))  # fmt: skip


def _csr_view(data: np.ndarray, indices: np.ndarray, indptr: np.ndarray, shape: tuple[int, int]) -> sp.csr_array:
    """A CSR matrix over these arrays as they are: scipy's constructor copies a view of less than half its base
    (``_prune_array``), which would copy half the graph's edges at every solve."""
    m = sp.csr_array(shape, dtype=data.dtype)
    m.data, m.indices, m.indptr = data, indices, indptr
    return m


class TalentGraph:
    """The typed graph of talents, needs, enterprises, platforms, incubators and their vocabulary.

    Build it with ``TalentGraph.build(...)``; keep it current with ``add_talent``/``remove_talent``/``add_need``/
    ``remove_need``/``add_feedback``. Graph numbers take a need id and a sequence of talent ids and return float32
    arrays aligned with them.
    """

    talent_labels = False
    """Whether a talent's node is labelled with the talent's name. Only the export graph (``build(...,
    talent_labels=True)``: ``graph export``, the notebooks) shows names; no graph number reads them, so the ranking
    graph keeps none (~70 MB of strings at 1M talents, and personal data it has no use for)."""

    def __init__(self) -> None:
        self._needs: dict[str, Need] = {}
        self._incubators: dict[str, Incubator] = {}
        self._hires_by_talent: dict[str, set[str]] = {}
        self._hires_by_need: dict[str, set[str]] = {}
        # Nodes and edges: node numbers in insertion order (never reused; compacted when many are dead).
        self._number: dict[str, int] = {}
        self._names: list[str] = []
        self._label: list[str] = []
        for name, dtype in _ARRAYS.items():  # _kind, _nshape, _eu, _ev, _etype, _eshape
            setattr(self, name, GrowableVector(np.zeros(0, dtype=dtype)))
        self._alive = bytearray()
        self._elive = bytearray()
        self._shapes: list[dict] = [{}]  # distinct attribute dicts, shared by the nodes and edges that have them
        self._shape_no: dict[tuple, int] = {(): 0}
        self._index: _EdgeIndex | None = None
        self._version = 0
        self.epoch = 0
        """Bumped when node numbers are compacted (``node_numbers`` results from before are then stale)."""
        self._csr_cache: _Csr | None = None
        self._csr_lock = threading.Lock()
        self._touched: list[np.ndarray] | None = []  # node numbers whose edges changed since the CSR (``_touch``)
        self._touches = 0
        self._memo: OrderedDict[tuple, object] = OrderedDict()  # per-version, per-need results (PPR, routes), LRU
        self._memo_lock = threading.Lock()
        self._building: dict[tuple, threading.Event] = {}  # memo keys being built now (``_memoised``)
        self._whole: dict[str, object] = {}  # per-version whole-graph results (``_per_version``)

    _memo_bytes = 0
    """What the memo's values hold (``_nbytes``); a class default, so snapshots pickled before it load."""

    def __getstate__(self) -> dict:
        """Pickled (index snapshots) with the per-need memo, which belongs to the pickled version: what
        ``prepare_needs`` built before a save is then there for a restart's first ranking of those needs (its arrays
        mapped with the rest), and after a catch-up the warm starts. The whole-graph results are rebuilt on use."""
        with self._memo_lock:
            memo = OrderedDict(self._memo)
        return {**self.__dict__, "_memo": memo, "_whole": {}, "_building": {}}

    def __setstate__(self, state: dict) -> None:
        fresh = {"_whole": {}, "_building": {}, "_touched": [], "_touches": 0, "_csr_lock": threading.Lock()}
        self.__dict__.update({**fresh, **state})  # older snapshots load too
        self._memo_bytes = sum(map(_nbytes, self._memo.values()))  # a snapshot's memo arrays are mapped now
        for name, dtype in _ARRAYS.items():
            if isinstance(held := state[name], array):  # snapshots before stop 32 pickled them as ``array``
                setattr(self, name, GrowableVector(np.frombuffer(held, dtype=dtype)))

    # ---------------------------------------------------------------- building and incremental changes

    @classmethod
    def build(
        cls,
        *,
        talents: Iterable[Talent] = (),
        needs: Iterable[Need] = (),
        enterprises: Iterable[Enterprise] = (),
        platforms: Iterable[Platform] = (),
        incubators: Iterable[Incubator] = (),
        feedback: Iterable[FeedbackEvent] = (),
        talent_labels: bool = False,
    ) -> TalentGraph:
        """The graph of these records. Ids must be unique per kind; references to records not given become stub
        nodes; hires whose need or talent is missing wait until both are added. ``talent_labels``: see the class
        attribute."""
        talents, needs, enterprises, platforms, incubators = map(
            list, (talents, needs, enterprises, platforms, incubators)
        )
        for records in (enterprises, platforms, incubators):
            _check_unique(records, "TalentGraph.build")
        g = cls()
        g.talent_labels = talent_labels
        for p in platforms:
            g._new_node(f"platform:{p.id}", {"label": p.name, **({"district": p.district} if p.district else {})})
            for ind in p.industries:
                g._link(f"platform:{p.id}", f"industry:{ind.value}", EdgeType.platform_industry)
        for e in enterprises:
            g._new_node(f"enterprise:{e.id}", {"label": e.name})
            if e.platform_id:
                g._link(f"enterprise:{e.id}", f"platform:{e.platform_id}", EdgeType.enterprise_platform)
            for ind in e.industries:
                g._link(f"enterprise:{e.id}", f"industry:{ind.value}", EdgeType.enterprise_industry)
        for i in incubators:
            g._add_incubator(i)
        g.add_feedback(feedback)
        g.add_needs(needs)
        g.add_talents(talents)
        return g

    def add_talent(self, t: Talent) -> None:
        """Add a talent, or replace the one with the same id (its links are rebuilt from the new record)."""
        self.add_talents([t])

    def add_talents(self, talents: Iterable[Talent]) -> None:
        """Add or replace many talents at once: the same result as one by one, with less per-edge overhead."""
        talents = _check_unique(talents, "TalentGraph.add_talents")
        for t in talents:
            if f"talent:{t.id}" in self:
                self.remove_talent(t.id)
        for start in range(0, len(talents), ATTACH_CHUNK):
            self._attach(
                NodeType.talent,
                [(f"talent:{t.id}", {"label": t.display_name if self.talent_labels else "",
                                     **({"tier": t.tier.value} if t.tier else {})},
                  _talent_links(t)) for t in talents[start : start + ATTACH_CHUNK]],
            )  # fmt: skip
        for t in talents:
            for need_id in self._hires_by_talent.get(t.id, ()):
                self._link_hire(t.id, need_id)

    def remove_talent(self, talent_id: str) -> None:
        """Remove a talent and the vocabulary only it used. Its recorded hires are kept (feedback belongs to the
        store) and come back if the talent is added again."""
        node = f"talent:{talent_id}"
        if node not in self:
            raise LookupError(f"talent {talent_id!r} is not in the graph; nothing to remove")
        neighbours = self.neighbours(node)
        self._remove_node(node)
        self._prune(neighbours)

    def scrub(self, talent_id: str) -> int:
        """PIPL erasure, after ``remove_talent``: blank the id and the name every node the talent ever had still
        carries (a removed node keeps both until ``compact``) and forget its hires. Returns the nodes blanked."""
        node = f"talent:{talent_id}"
        if node in self:
            raise ValueError(f"talent {talent_id!r} is in the graph; remove it before scrubbing its nodes")
        nums = [num for num, name in enumerate(self._names) if name == node]
        for num in nums:
            self._names[num] = self._label[num] = ""
        for need_id in self._hires_by_talent.pop(talent_id, ()):
            self._hires_by_need[need_id].discard(talent_id)
        return len(nums)

    def add_need(self, n: Need) -> None:
        """Add a need, or replace the one with the same id."""
        self.add_needs([n])

    def add_needs(self, needs: Iterable[Need]) -> None:
        """Add or replace many needs at once."""
        needs = _check_unique(needs, "TalentGraph.add_needs")
        for n in needs:
            if f"need:{n.id}" in self:
                self.remove_need(n.id)
            self._needs[n.id] = n
        self._attach(
            NodeType.need,
            [(f"need:{n.id}", {"label": n.title, "kind": n.kind.value, "status": n.status.value}, _need_links(n))
             for n in needs],
        )  # fmt: skip
        for n in needs:
            for talent_id in self._hires_by_need.get(n.id, ()):
                self._link_hire(talent_id, n.id)

    def remove_need(self, need_id: str) -> None:
        """Remove a need, the hire edges only it supported, and the vocabulary only it used."""
        node = f"need:{need_id}"
        if node not in self:
            raise LookupError(f"need {need_id!r} is not in the graph; nothing to remove")
        need = self._needs.pop(need_id)
        if need.enterprise_id:
            enterprise = f"enterprise:{need.enterprise_id}"
            for talent_id in self._hires_by_need.get(need_id, ()):
                if self.has_edge(f"talent:{talent_id}", enterprise) and not any(
                    (other := self._needs.get(m)) is not None and other.enterprise_id == need.enterprise_id
                    for m in self._hires_by_talent[talent_id]
                ):
                    self._remove_edge(f"talent:{talent_id}", enterprise)
        neighbours = self.neighbours(node)
        self._remove_node(node)
        self._prune(neighbours)

    def add_feedback(self, events: Iterable[FeedbackEvent]) -> None:
        """Record hires (other actions are ignored) and link each hired talent to the need's enterprise."""
        for ev in events:
            if ev.action is FeedbackAction.hire:
                self._hires_by_talent.setdefault(ev.talent_id, set()).add(ev.need_id)
                self._hires_by_need.setdefault(ev.need_id, set()).add(ev.talent_id)
                self._link_hire(ev.talent_id, ev.need_id)

    def _add_incubator(self, i: Incubator) -> None:
        node = f"incubator:{i.id}"
        self._incubators[i.id] = i
        place = {"country": i.country} if i.country else {}
        city = {"city": i.city, "city_synthetic": i.city_synthetic} if i.city else {}
        self._new_node(node, {"label": i.name, **place, **city})
        if target := _place(i.country, i.city):
            self._link(node, target, EdgeType.incubator_city)
        for ind in i.focus_industries:
            self._link(node, f"industry:{ind.value}", EdgeType.incubator_industry)
        for code in i.focus_disciplines:
            self._link(node, f"discipline:{code}", EdgeType.incubator_discipline)

    def _link_hire(self, talent_id: str, need_id: str) -> None:
        need = self._needs.get(need_id)
        talent = f"talent:{talent_id}"
        if need is not None and need.enterprise_id and talent in self:
            self._link(talent, f"enterprise:{need.enterprise_id}", EdgeType.hire)

    # ---------------------------------------------------------------- low-level mutation

    def _shape(self, attrs: dict) -> int:
        """The shape number of an attribute dict (one stored dict per distinct content, shared)."""
        key = tuple(sorted(attrs.items()))
        if (no := self._shape_no.get(key)) is None:
            no = self._shape_no[key] = len(self._shapes)
            self._shapes.append(dict(key))
        return no

    def _node_shape(self, attrs: dict) -> int:
        """The shape number of a node's attributes beyond its label (kept apart, in ``_label``)."""
        return self._shape({k: v for k, v in attrs.items() if k != "label"})

    def _attach(self, kind: NodeType, items: list[tuple[str, dict, list[Link]]]) -> None:
        """Add new record nodes (none may exist yet) with their links, in bulk."""
        nodes = [node for node, _, _ in items]
        start = len(self._names)
        self._names.extend(nodes)
        self._label.extend(attrs["label"] for _, attrs, _ in items)
        self._nshape.extend([self._node_shape(attrs) for _, attrs, _ in items])
        self._number.update(zip(nodes, range(start, start + len(nodes)), strict=True))
        self._kind.extend(np.full(len(nodes), _NCODE[kind], dtype=np.int8))
        self._alive.extend(b"\x01" * len(nodes))
        for target in dict.fromkeys(target for _, _, links in items for target, _, _ in links):
            self._ensure(target)
        number = self._number
        edges = [(node, *link) for node, _, links in items for link in links]
        first = len(self._eu)
        self._eu.extend([number[u] for u, _, _, _ in edges])
        self._ev.extend([number[v] for _, v, _, _ in edges])
        self._touch(self._eu.view[first:], self._ev.view[first:])
        self._etype.extend([_ECODE[etype] for _, _, etype, _ in edges])
        self._eshape.extend([self._shape(attrs) if attrs else 0 for _, _, _, attrs in edges])
        self._elive.extend(b"\x01" * len(edges))
        self._version += 1

    def _new_node(self, node: str, attrs: dict) -> None:
        self._number[node] = len(self._names)
        self._names.append(node)
        self._label.append(attrs["label"])
        self._nshape.extend([self._node_shape(attrs)])
        self._kind.extend([_NCODE[_type_of(node)]])
        self._alive.append(1)
        self._touch(np.array([self._number[node]]))
        self._version += 1

    def _ensure(self, node: str) -> None:
        """Create a vocabulary node (with its parent chain) or a stub for a referenced record, if missing."""
        if node in self:
            return
        kind = _type_of(node)
        if kind in _VOCABULARY:
            self._new_node(node, _vocabulary_attrs(node))
            if up := _up(node):
                etype = EdgeType.discipline_parent if kind is NodeType.discipline else EdgeType.city_country
                self._link(node, up, etype)
        else:
            self._new_node(node, {"label": node.partition(":")[2], "stub": True})

    def _link(self, u: str, v: str, etype: EdgeType, attrs: dict | None = None) -> None:
        self._ensure(v)
        if self.has_edge(u, v):
            return
        self._eu.extend([self._number[u]])
        self._ev.extend([self._number[v]])
        self._touch(np.array([self._number[u], self._number[v]]))
        self._etype.extend([_ECODE[etype.value]])
        self._eshape.extend([self._shape(attrs) if attrs else 0])
        self._elive.append(1)
        self._version += 1

    def _remove_edge(self, u: str, v: str) -> None:
        a, b = self._number[u], self._number[v]
        slots = self._slots(a)
        for slot in slots[self._others(a, slots) == b]:
            self._elive[slot] = 0
        self._touch(np.array([a, b]))
        self._version += 1

    def _remove_node(self, node: str) -> None:
        """Drop a node; its edges die with it (edges count only between live nodes)."""
        num = self._number.pop(node)
        if self._touched is not None:  # its neighbours lose an edge
            self._touch(np.array([num]), self._adjacent(num))
        self._alive[num] = 0
        self._version += 1

    def _touch(self, *numbers: np.ndarray) -> None:
        """Note nodes whose edges changed (or that came or went) in this version, up to ``TOUCHED_LIMIT``: a
        need's routes from before are checked at them (``_warm_routes``)."""
        if self._touched is None:
            return
        self._touched.extend(np.array(n, dtype=np.int64) for n in numbers)
        self._touches += sum(map(len, numbers))
        if self._touches > TOUCHED_LIMIT:
            self._touched = None

    def _prune(self, candidates: Iterable[str]) -> None:
        """Remove vocabulary and stub nodes nothing links to any more (a node linked only to the one it hangs from
        counts as unlinked), walking up discipline parents and city countries."""
        for node in candidates:
            cur: str | None = node
            while cur is not None and cur in self:
                num = self._number[cur]
                if _type_of(cur) not in _VOCABULARY and not self._shapes[self._nshape.view[num]].get("stub"):
                    break
                up = _up(cur)
                if self._linked_beyond(num, self._number.get(up, -1)):
                    break
                self._remove_node(cur)
                cur = up

    def _linked_beyond(self, num: int, up: int) -> bool:
        """Whether node ``num`` links to a live node other than ``up``. The first few of its indexed edges answer
        for most vocabulary nodes (a skill or a country of thousands of talents), then the first 512, before all."""
        if any(other != up for other in self._first_indexed(num, 8)):
            return True
        indexed = self._indexed(num)
        if len(indexed) > 8:
            window = indexed[:512]
            if (self._live_others(num, window[np.frombuffer(self._elive, np.uint8)[window] == 1]) != up).any():
                return True
        return bool((self._adjacent(num) != up).any())

    def _indexed(self, num: int) -> np.ndarray:
        """The edge index's slots at node number ``num`` (none for a node numbered after the index was built)."""
        idx = self._edge_index()
        return idx.slots[idx.indptr[num] : idx.indptr[num + 1]] if num + 1 < len(idx.indptr) else idx.slots[:0]

    def _first_indexed(self, num: int, n: int) -> Iterator[int]:
        """The live other ends of the first ``n`` indexed edges of node ``num``, in Python: cheaper than a numpy
        gather when the first few answer the question."""
        eu, ev = self._eu.view, self._ev.view
        for slot in self._indexed(num)[:n].tolist():
            other = int(ev[slot] if eu[slot] == num else eu[slot])
            if self._elive[slot] and self._alive[other]:
                yield other

    # ---------------------------------------------------------------- nodes and edges

    def __contains__(self, node: object) -> bool:
        """Whether a node (typed id, ``talent:t1``) is in the graph."""
        return node in self._number

    def _edge_index(self) -> _EdgeIndex:
        """The edge index, built again when the numbering changed or too many edges were appended since."""
        idx, m = self._index, len(self._eu)
        if idx is None or idx.epoch != self.epoch or m - idx.size > INDEX_SLACK + idx.size // 8:
            live = np.flatnonzero(self._live_edges()).astype(np.int32)  # dead edges stay out of the index
            ends = np.concatenate([self._eu.view[live], self._ev.view[live]])
            order = np.argsort(ends, kind="stable")
            indptr = np.zeros(len(self._names) + 1, dtype=np.int64)
            np.cumsum(np.bincount(ends, minlength=len(self._names)), out=indptr[1:])
            slots = np.concatenate([live, live])[order]
            idx = self._index = _EdgeIndex(size=m, epoch=self.epoch, indptr=indptr, slots=slots)
            self._eu.release()
            self._ev.release()
        return idx

    def _slots(self, num: int) -> np.ndarray:
        """Live edge slots at node number ``num`` (their other end may be dead), in the order they were added."""
        base = self._indexed(num)
        size = self._index.size  # brought up to date by ``_indexed``
        if len(self._eu) > size:  # appended since the index: scanned
            tail = self._eu.view[size:] == num
            tail |= self._ev.view[size:] == num
            base = np.concatenate([base, np.flatnonzero(tail).astype(np.int32) + size])
        return base[np.frombuffer(self._elive, np.uint8)[base] == 1]

    def _others(self, num: int, slots: np.ndarray) -> np.ndarray:
        """The other end of each of these edges of node ``num``."""
        eu = self._eu.view[slots]
        return np.where(eu == num, self._ev.view[slots], eu)

    def _adjacent(self, num: int, kind: NodeType | None = None) -> np.ndarray:
        """Node numbers of the live neighbours of node ``num`` (of one kind if given), in the order linked."""
        return self._live_others(num, self._slots(num), kind)

    def _live_others(self, num: int, slots: np.ndarray, kind: NodeType | None = None) -> np.ndarray:
        """The live other ends (of one kind if given) of these live edges of node ``num``."""
        others = self._others(num, slots)
        alive = np.frombuffer(self._alive, dtype=np.uint8)[others] == 1
        if kind is not None:
            alive &= self._kind.view[others] == _NCODE[kind]
        return others[alive]

    def neighbours(self, node: str, kind: NodeType | None = None) -> list[str]:
        """The nodes linked to ``node`` (those of one kind if given), in the order they were linked; empty for a
        node not in the graph."""
        if (num := self._number.get(node)) is None:
            return []
        names = self._names
        return [names[i] for i in self._adjacent(num, kind).tolist()]

    def linked(self, node: str, kind: NodeType) -> list[str]:
        """The nodes of one kind linked to ``node`` (empty for a node not in the graph), from its row of the CSR
        adjacency: a reader's question. ``neighbours`` (a writer's, in link order) gathers the edge columns, which are
        not resident between versions, and a node of thousands of edges spread over them would read them whole."""
        if (num := self._number.get(node)) is None:
            return []
        csr = self._csr()
        row = int(csr.pos[num])
        cols = csr.adj.indices[csr.adj.indptr[row] : csr.adj.indptr[row + 1]]
        names = self._names
        return [names[i] for i in csr.order[cols[csr.kinds[cols] == _NCODE[kind]]].tolist()]

    def first_neighbour(self, node: str, kind: NodeType) -> str | None:
        """One node of this kind linked to ``node`` (the first linked that is still there), or None: a cheap probe of
        a node of many neighbours (its first 32 indexed edges, before all)."""
        if (num := self._number.get(node)) is None:
            return None
        code = _NCODE[kind]
        if (other := next((o for o in self._first_indexed(num, 32) if self._kind.view[o] == code), None)) is not None:
            return self._names[other]
        found = self._adjacent(num, kind)
        return self._names[found[0]] if len(found) else None

    def has_edge(self, u: str, v: str) -> bool:
        """Whether ``u`` and ``v`` are linked."""
        a, b = self._number.get(u), self._number.get(v)
        return a is not None and b is not None and bool((self._adjacent(a) == b).any())

    def node_attrs(self, node: str) -> dict:
        """A node's attributes (``type``, ``label`` and those of its kind: see ``NodeType``)."""
        num = self._number[node]
        kind, label, shape = _NODE_TYPES[self._kind.view[num]], self._label[num], self._shapes[self._nshape.view[num]]
        return {"type": kind.value, "label": label, **shape}

    # ---------------------------------------------------------------- reporting and export

    def stats(self) -> dict[str, dict[str, int]]:
        """Node and edge counts by type (every type listed, zeros included): ``{"nodes": {...}, "edges": {...}}``."""
        kinds = self._kind.view[np.frombuffer(self._alive, dtype=np.uint8).astype(bool)]
        nodes = np.bincount(kinds, minlength=len(_NODE_TYPES))
        live = self._live_edges()
        edges = np.bincount(self._etype.view[live], minlength=len(_EDGE_TYPES))
        return {
            "nodes": {t.value: int(c) for t, c in zip(_NODE_TYPES, nodes, strict=True)},
            "edges": {t.value: int(c) for t, c in zip(_EDGE_TYPES, edges, strict=True)},
        }

    def to_networkx(self) -> nx.Graph:
        """The graph as a networkx graph: nodes in the order added, each with its attributes (``node_attrs``), edges
        with ``type`` and their further attributes. A copy, made on each call (for export and notebooks)."""
        g = nx.Graph()
        alive = np.frombuffer(self._alive, np.uint8)
        g.add_nodes_from((self._names[i], self.node_attrs(self._names[i])) for i in np.flatnonzero(alive).tolist())
        live = np.flatnonzero(self._live_edges()).tolist()
        names, eu, ev = self._names, self._eu.view.tolist(), self._ev.view.tolist()
        etype, eshape = self._etype.view.tolist(), self._eshape.view.tolist()
        g.add_edges_from(
            (names[eu[e]], names[ev[e]], {"type": _EDGE_TYPES[etype[e]].value, **self._shapes[eshape[e]]}) for e in live
        )
        return g

    def to_graphml(self, path: str | os.PathLike) -> Path:
        """Write the graph as GraphML (for Gephi, Cytoscape, yEd …), atomically: a failed write leaves no file."""
        path = Path(path)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        try:
            nx.write_graphml(self.to_networkx(), tmp)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    # ---------------------------------------------------------------- the CSR adjacency

    def _live_edges(self) -> np.ndarray:
        alive = np.frombuffer(self._alive, dtype=np.uint8).astype(bool)
        live = np.frombuffer(self._elive, dtype=np.uint8).astype(bool)
        return live & alive[self._eu.view] & alive[self._ev.view]

    def _compact(self) -> None:
        """Renumber live nodes densely and drop dead edges, so replacements do not grow the mirror forever."""
        alive = np.frombuffer(bytes(self._alive), dtype=np.uint8).astype(bool)
        live = self._live_edges()
        new = np.cumsum(alive) - 1
        keep = np.flatnonzero(alive)
        self._names = [self._names[i] for i in keep]
        self._label = [self._label[i] for i in keep]
        self._number = {name: i for i, name in enumerate(self._names)}
        self._kind = GrowableVector(self._kind.view[keep])
        self._nshape = GrowableVector(self._nshape.view[keep])
        self._alive = bytearray(b"\x01" * len(keep))
        self._eu = GrowableVector(new[self._eu.view[live]].astype(np.int32))
        self._ev = GrowableVector(new[self._ev.view[live]].astype(np.int32))
        self._etype = GrowableVector(self._etype.view[live])
        self._eshape = GrowableVector(self._eshape.view[live])
        self._elive = bytearray(b"\x01" * len(self._eu))
        self.epoch += 1

    def settle(self) -> None:
        """Re-assemble the adjacency and the edge index now if the graph changed (a writer, before readers come: they
        would each rebuild them, and the rebuild may compact the node arrays they read). A built graph is settled, so
        a snapshot holds a current edge index: at 1M talents indexing 7.7M edges takes ~2 s, which a restart's first
        write or incubator ranking would otherwise pay. The whole-graph results every ranking and alert match reads
        (``_per_version``: the walk's blocks, the discipline closure and its transpose) are built now too."""
        self._csr()
        self._edge_index()
        self._walks()
        self._children()

    def _csr(self) -> _Csr:
        """The CSR adjacency of the current version, re-assembled from the edge arrays when the graph changed."""
        if (built := self._csr_cache) is not None and built.version == self._version:
            return built
        with self._csr_lock:  # readers of a changed graph at once: one rebuilds, the others wait and read its result
            return self._rebuild_csr()

    def _rebuild_csr(self) -> _Csr:
        if (stale := self._csr_cache) is not None and stale.version == self._version:
            return stale  # another reader rebuilt it while this one waited
        touched = None if self._touched is None else np.unique(np.concatenate([np.zeros(0, np.int64), *self._touched]))
        self._touched, self._touches = [], 0
        self._keep_warm_starts(touched)
        self._whole.clear()
        if len(self._names) > 1024 and self._alive.count(0) > len(self._names) // 4:
            self._compact()
            self._memo.clear()  # warm starts name rows by node numbers, which compaction renumbers
        alive = np.frombuffer(self._alive, dtype=np.uint8).astype(bool)
        kinds_all = self._kind.view.copy()
        record = _RECORD_SIDE[kinds_all]
        order = np.concatenate([np.flatnonzero(alive & record), np.flatnonzero(alive & ~record)]).astype(np.int32)
        split = int((alive & record).sum())
        n = len(order)
        pos = np.full(len(alive), -1, dtype=np.int32)
        pos[order] = np.arange(n, dtype=np.int32)
        live = self._live_edges()
        u = pos[self._eu.view[live]]
        v = pos[self._ev.view[live]]
        rows, cols = np.concatenate([u, v]), np.concatenate([v, u])
        adj = sp.csr_array((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(n, n))
        degree = np.diff(adj.indptr).astype(np.float32)
        inv = np.divide(1.0, degree, out=np.zeros_like(degree), where=degree > 0)
        np.take(inv, adj.indices, out=adj.data)  # the walk in place of the ones: one array fewer, ~62 MB at 1M
        kinds = kinds_all[order]
        self._csr_cache = _Csr(
            version=self._version,
            adj=adj,
            pos=pos,
            kinds=kinds,
            split=split,
            order=order,
            talent_rows=np.flatnonzero(kinds == _NCODE[NodeType.talent]),
        )
        if stale is not None:  # a loaded snapshot's pages would stay resident (warm starts copied what they need)
            release(stale.adj.data, stale.adj.indices, stale.adj.indptr, stale.pos, stale.kinds, stale.talent_rows,
                    stale.order)  # fmt: skip
        self._eu.release()  # read whole once a version; between, they need not be resident
        self._ev.release()
        return self._csr_cache

    def _keep_warm_starts(self, touched: np.ndarray | None) -> None:
        """A new version drops every per-need result but the PPR blocks and the routes, kept with their rows' node
        numbers. A PPR block is the next solve's starting point for the same need: a write moves a need's PPR
        little, so a warm solve needs a few products over the graph instead of 7–8. Routes are kept with the nodes
        the change ``touched`` (None: too many), where the next search checks them before searching anew
        (``_warm_routes``). They stay in the LRU bound, counted with their rows' node numbers (the concept side's:
        one array a version, shared)."""
        old = self._csr_cache
        with self._memo_lock:
            kept = old is not None and any(key[0] in ("ppr", "route") for key in self._memo)
            numbers = old.order[old.split :].copy() if kept else None  # one copy for every need's block
            changed = [] if old is None else [_warm(key, value, numbers, touched) for key, value in self._memo.items()]
            warm = [(key, value) for key, value in changed if key is not None]
            self._memo.clear()
            self._memo.update(warm)
            self._memo_bytes = sum(_nbytes(value) for _, value in warm)

    def _warm_start(self, key: tuple) -> np.ndarray | None:
        """The kept concept-side PPR of ``key``'s need from an earlier version, in this version's concept rows (0 on
        new nodes), or None."""
        if (kept := self._memo_pop(("ppr-warm", *key[1:]))) is None:
            return None
        return self._in_rows(*kept, fill=0)[0]

    def _in_rows(self, block: np.ndarray, numbers: np.ndarray, fill: float) -> tuple[np.ndarray, np.ndarray]:
        """A concept-side block of an earlier version (row i at node number ``numbers[i]``) in this version's
        concept rows, ``fill`` on rows it did not cover; and the mask of the rows it covered. A node's kind never
        changes, so a concept node stays on the concept side."""
        csr = self._csr()
        rows = csr.pos[numbers]
        here = rows[rows >= 0] - csr.split
        out = np.full(csr.adj.shape[0] - csr.split, fill, dtype=block.dtype)
        out[here] = block[rows >= 0]
        covered = np.zeros(len(out), dtype=bool)
        covered[here] = True
        return out, covered

    def _rows(self, talent_ids: Sequence[str]) -> np.ndarray:
        """CSR rows of these talents, -1 for ids not in the graph."""
        csr = self._csr()
        get = self._number.get
        numbers = np.fromiter(map(get, map("talent:".__add__, talent_ids), repeat(-1)), np.int64, len(talent_ids))
        return np.where(numbers >= 0, csr.pos[numbers], -1)

    def _need_record(self, need_id: str) -> Need:
        try:
            return self._needs[need_id]
        except KeyError:
            raise LookupError(
                f"need {need_id!r} is not in the graph; add it with TalentGraph.add_need or pass it to build"
            ) from None

    def _row_of(self, node: str) -> int:
        return int(self._csr().pos[self._number[node]])

    # ---------------------------------------------------------------- graph numbers

    def ppr_vector(
        self,
        need_id: str,
        *,
        alpha: float = PPR_ALPHA,
        iters: int = PPR_STEPS,
        tol: float = PPR_RTOL,
        with_enterprise: bool = False,
    ) -> np.ndarray:
        """Personalized PageRank over all nodes (CSR row order), restarting at the need (split evenly with its
        enterprise when ``with_enterprise``).

        Solves x = (1 - alpha) A D⁻¹ x + alpha s (the walk steps to a uniformly chosen neighbour) by conjugate
        gradients (``solve_ppr``): at most ``iters`` steps of one sparse product over the graph each, until the
        residual falls below ``tol`` relative to the start. Same fixed point as the power iteration; at 100k talents
        7–8 steps (the work of 14–16 half-sweeps) end 40× closer (L1) than the 30 Gauss–Seidel half-sweeps used before.
        The concept side is cached per graph version (``_ppr_block``); the record side is one product from it, made
        at each call (a ranking reads only its candidates': ``ppr``).
        """
        block = self._ppr_block(need_id, alpha, iters, tol, with_enterprise)
        csr = self._csr()
        x = self._restart(need_id, alpha, with_enterprise)
        x[csr.split :] = block
        x[: csr.split] += np.float32(1.0 - alpha) * (self._walks()[0] @ x)
        return x

    def _restart(self, need_id: str, alpha: float, with_enterprise: bool) -> np.ndarray:
        """The restart vector s over all CSR rows (``_seeds``)."""
        seeds = self._seeds(need_id, with_enterprise)
        restart = np.zeros(self._csr().adj.shape[0], dtype=np.float32)
        restart[seeds] = alpha / len(seeds)
        return restart

    def _seeds(self, need_id: str, with_enterprise: bool) -> np.ndarray:
        """The CSR rows a walk restarts at, evenly: the need's, and its enterprise's when ``with_enterprise``."""
        need = self._need_record(need_id)
        seeds = [self._row_of(f"need:{need_id}")]
        if with_enterprise and need.enterprise_id:
            seeds.append(self._row_of(f"enterprise:{need.enterprise_id}"))
        return np.array(seeds)

    def _ppr_block(self, need_id: str, alpha: float, iters: int, tol: float, with_enterprise: bool) -> np.ndarray:
        """The need's PPR on the concept side (CSR rows ``[split, n)``), the part the solve solves for; cached per
        graph version. A record row has neighbours on the concept side only, so its value is one row of the walk
        times this block (``_ConceptSide``): kept alone, a need's PPR is a value per concept instead of per node
        (~50 KB instead of 4 MB at 1M talents, so the memo's bound holds a hundred times more needs). After a change
        the solve starts from the need's previous block (``_keep_warm_starts``)."""
        key = _ppr_key(need_id, alpha, iters, tol, with_enterprise)

        def solve() -> np.ndarray:
            csr = self._csr()
            restart = self._restart(need_id, alpha, with_enterprise)
            walks, start = self._walks(), self._warm_start(key)
            return solve_ppr(restart, csr.split, walks, alpha, iters, tol, start=start, whole=False)

        return self._memoised(key, solve)

    def ppr(
        self,
        need_id: str,
        talent_ids: Sequence[str],
        *,
        alpha: float = PPR_ALPHA,
        iters: int = PPR_STEPS,
        tol: float = PPR_RTOL,
        with_enterprise: bool = False,
    ) -> np.ndarray:
        """PPR mass (see ``ppr_vector``) on each talent; unknown talents get 0. Raw stationary mass, not divided by
        the talent's degree."""
        return self._ppr_at(need_id, self._rows(talent_ids), alpha, iters, tol, with_enterprise)

    def _ppr_at(
        self,
        need_id: str,
        rows: np.ndarray,
        alpha: float = PPR_ALPHA,
        iters: int = PPR_STEPS,
        tol: float = PPR_RTOL,
        with_enterprise: bool = False,
    ) -> np.ndarray:
        """``ppr_vector`` at these CSR rows (0 at -1), from the cached concept side: the record rows' values are
        made from their own neighbours only, in the same order of operations, so they equal the whole vector's."""
        block = self._ppr_block(need_id, alpha, iters, tol, with_enterprise)
        side = _ConceptSide(self._csr(), self._walks()[0], rows)
        out = np.zeros(len(rows), dtype=np.float32)
        out[side.concept] = block[side.concept_rows]
        if len(side.record_rows):
            seeds = self._seeds(need_id, with_enterprise)  # s at these rows, without a vector over every node
            restart = np.where(np.isin(side.record_rows, seeds), np.float32(alpha / len(seeds)), np.float32(0))
            out[side.record] = restart + np.float32(1.0 - alpha) * (side.walk() @ block)
        return out

    def ppr_top(self, need_id: str, k: int, **ppr_options) -> tuple[list[str], np.ndarray]:
        """The ``k`` talents with most PPR mass from the need (only those with mass > 0), best first. Cached per
        graph version beside the need's concept-side block: selecting them makes every talent's mass (one product
        over the record side, ~2 ms at 100k talents), which only the first call of a version pays."""
        key = ("ppr_top", need_id, k, *sorted(ppr_options.items()))
        ids, scores = self._memoised(key, lambda: self._ppr_top(need_id, k, **ppr_options))
        return list(ids), scores.copy()

    def _ppr_top(self, need_id: str, k: int, **ppr_options) -> tuple[tuple[str, ...], np.ndarray]:
        csr = self._csr()
        scores = self.ppr_vector(need_id, **ppr_options)[csr.talent_rows]
        k = min(k, len(scores))
        if k <= 0:
            return (), np.zeros(0, dtype=np.float32)
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        top = top[scores[top] > 0]
        ids = tuple(self._names[i].partition(":")[2] for i in csr.order[csr.talent_rows[top]])
        return ids, scores[top].astype(np.float32)

    def _concepts(self, rows: np.ndarray) -> sp.csr_array:
        """0/1 rows: the skill and discipline nodes each given row links to, plus each discipline's parent."""
        csr = self._csr()
        sub = csr.adj[rows]
        sub = sp.csr_array((sub.data * _CONCEPT[csr.kinds[sub.indices]], sub.indices, sub.indptr), shape=sub.shape)
        sub.eliminate_zeros()
        out = (sub @ self._parent_closure()).tocsr()
        out.data[:] = 1.0
        return out

    def _parent_closure(self) -> sp.csr_array:
        """I + P over CSR rows, where P maps each discipline to its parent (so a row times it adds parents)."""
        return self._per_version("closure", self._build_parent_closure)

    def _build_parent_closure(self) -> sp.csr_array:
        csr = self._csr()
        n = csr.adj.shape[0]
        child, parent = [], []  # a discipline's parent stays in the graph while the discipline does
        disc_numbers = np.flatnonzero(self._kind.view == _NCODE[NodeType.discipline])
        for num in disc_numbers:
            if csr.pos[num] >= 0 and (up := _up(self._names[num])) is not None:
                child.append(csr.pos[num])
                parent.append(csr.pos[self._number[up]])
        rows = np.concatenate([np.arange(n), child]).astype(np.int64)
        cols = np.concatenate([np.arange(n), parent]).astype(np.int64)
        return sp.csr_array((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(n, n))

    def _walks(self) -> tuple[sp.csr_array, sp.csr_array]:
        """The walk's two row blocks for ``solve_ppr`` (``_Csr.walks``), assembled once per version."""
        return self._per_version("walks", self._csr().walks)

    def _children(self) -> sp.csr_array:
        """The transposed closure: a concept row's row lists itself and the disciplines whose parent it is."""
        return self._per_version("children", lambda: self._parent_closure().T.tocsr())

    def _aa_weights(self, cols: np.ndarray) -> np.ndarray:
        """Adamic–Adar weight of concept rows ``cols``: 1 / ln(f), f = how many talents, needs and incubators hold
        the concept in their concept set (linked to it, or to a discipline whose parent it is); 0 where f < 2. Read
        from the neighbours of the concept and its child disciplines only: no whole-graph pass after a change (one
        took ~45 ms at 100k talents, paid by the first ranking after every write)."""
        csr, children = self._csr(), self._children()
        freq = np.zeros(len(cols), np.float32)
        for i, c in enumerate(cols):
            neigh = _neighbours(csr.adj, children.indices[children.indptr[c] : children.indptr[c + 1]])
            freq[i] = len(np.unique(neigh[_OWNER[csr.kinds[neigh]]]))
        return np.divide(1.0, np.log(np.maximum(freq, 1.0)), out=np.zeros(len(freq)), where=freq >= 2).astype(
            np.float32
        )

    def _need_concepts(self, need_id: str) -> tuple[np.ndarray, np.ndarray]:
        """The need's concept set (sorted CSR rows) and each concept's Adamic–Adar weight, per need and version."""
        self._need_record(need_id)

        def build() -> tuple[np.ndarray, np.ndarray]:
            cols = np.sort(self._concepts(np.array([self._row_of(f"need:{need_id}")])).indices)
            return cols, self._aa_weights(cols)

        return self._memoised(("need-concepts", need_id), build)

    def _shared(self, need_id: str, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(common neighbours, Adamic–Adar) of the need with each row: the rows' concepts matched against the
        need's."""
        cols, weights = self._need_concepts(need_id)
        known = np.flatnonzero(rows >= 0)
        out = np.zeros((2, len(rows)), dtype=np.float32)
        if len(cols) and len(known):
            concepts = self._concepts(rows[known])
            at = np.minimum(np.searchsorted(cols, concepts.indices), len(cols) - 1)
            hit = cols[at] == concepts.indices
            owner = np.repeat(np.arange(len(known)), np.diff(concepts.indptr))[hit]
            out[0, known] = np.bincount(owner, minlength=len(known))
            out[1, known] = np.bincount(owner, weights[at[hit]], minlength=len(known))
        return out[0], out[1]

    def common_neighbours(self, need_id: str, talent_ids: Sequence[str]) -> np.ndarray:
        """How many concepts need and talent share. A node's concept set is the skills and disciplines it links to
        plus the parent of each such discipline (one level), so F020101 and F020102 share F0201 (1), the same code
        shares itself and its parent (2); unknown talents get 0."""
        return self._shared(need_id, self._rows(talent_ids))[0]

    def adamic_adar(self, need_id: str, talent_ids: Sequence[str]) -> np.ndarray:
        """Sum over shared concepts (as in ``common_neighbours``) of 1 / ln(f), f the number of talents, needs and
        incubators whose concept set holds that concept: rare shared skills count more than common ones."""
        return self._shared(need_id, self._rows(talent_ids))[1]

    def _route_distances(self, need_id: str, cap: int) -> tuple[np.ndarray, np.ndarray]:
        """(hops to the concept rows, the record rows among the targets), cached per route targets, not per need: an
        enterprise's needs share one BFS. A record row that is no target is one hop past its nearest neighbour, all
        on the concept side (``_routes_at``), so the concept side is all a need keeps."""
        targets = self.route_targets(self._need_record(need_id))
        key = ("route", tuple(targets), cap)

        def search() -> tuple[np.ndarray, np.ndarray]:
            split = self._csr().split
            start = np.array([self._row_of(v) for v in targets], dtype=np.int64)
            if (block := self._warm_routes(key, start, cap)) is None:
                hops = self._hops(start, cap)[split:]
                block = hops.astype(np.int8) if cap < 127 else hops.copy()  # small integers: a quarter of float32
            return block, np.sort(start[start < split])

        return self._memoised(key, search)

    def _routes_at(self, need_id: str, rows: np.ndarray, cap: int) -> np.ndarray:
        """Hops from the need's route targets to these CSR rows (``cap + 1`` at -1 and beyond the cap), from the
        cached concept side: a record row's is 0 if it is a target, else one more than its nearest neighbour's."""
        block, record_targets = self._route_distances(need_id, cap)
        side = _ConceptSide(self._csr(), self._walks()[0], rows)
        out = np.full(len(rows), cap + 1, dtype=np.float32)
        out[side.concept] = block[side.concept_rows]
        out[side.record] = _one_past(block, side.neighbours(), np.isin(side.record_rows, record_targets), cap)
        return out

    def _warm_routes(self, key: tuple, start: np.ndarray, cap: int) -> np.ndarray | None:
        """The concept side's hops of ``key`` kept from an earlier version, if they are still this version's, else
        None. Hops are a BFS's exactly when each row's is 0 at a target and one past its nearest neighbour's
        elsewhere, capped (the equations have one solution). They held everywhere before; since, rows' neighbours
        changed only at the nodes the change touched, so only there, and at the neighbours of touched record rows
        (whose hops follow from theirs), can they fail (``_hold_at``). New concept rows get their hops from their
        neighbours first. A write that shortens or cuts routes fails the check; a talent joining skills near each
        other passes it."""
        if (kept := self._memo_pop(("route-warm", *key[1:]))) is None:
            return None
        block, numbers, touched = kept
        hops, covered = self._in_rows(block, numbers, fill=cap + 1)
        csr = self._csr()
        split = csr.split
        new = np.flatnonzero(~covered) + split
        hops[new - split] = self._bfs_equations(hops, start, new, cap)
        at = csr.pos[touched]
        at = np.union1d(at[at >= 0], new)
        check = np.union1d(at[at >= split], _neighbours(csr.adj, at[at < split]))
        return hops if self._hold_at(hops, start, check, at, cap) else None

    def _hold_at(self, hops: np.ndarray, start: np.ndarray, rows: np.ndarray, touched: np.ndarray, cap: int) -> bool:
        """Whether kept ``hops`` meet the BFS's equations at these concept rows, whose neighbours' hops are
        unchanged but at the ``touched`` rows. The equation held before, so an unchanged neighbour is no nearer than
        one hop short of a row's: a row fails if a touched or concept neighbour, or any read, is nearer, and holds
        once one read reaches exactly that. Record neighbours are read in widening windows (``_WINDOWS``; each
        read costs its own neighbours' hops), so a hub skill of thousands of talents is rarely read whole."""
        csr = self._csr()
        adj, split = csr.adj, csr.split
        for window in _WINDOWS:
            if not len(rows):
                return True
            lens = adj.indptr[rows + 1] - adj.indptr[rows]
            cols = _neighbours(adj, rows)
            owner = np.repeat(np.arange(len(rows)), lens)
            use = (cols >= split) | np.isin(cols, touched)  # concept neighbours cost no further read
            use |= np.arange(len(cols)) - (np.cumsum(lens) - lens)[owner] < window
            near = _one_past(
                self._hops_of(hops, start, cols[use], cap),
                (np.bincount(owner[use], minlength=len(rows)), np.arange(int(use.sum()))),
                np.isin(rows, start),
                cap,
            )
            want = hops[rows - split]
            if (near < want).any():
                return False
            rows = rows[near > want]
        return not len(rows)

    def _bfs_equations(self, hops: np.ndarray, start: np.ndarray, rows: np.ndarray, cap: int) -> np.ndarray:
        """What a BFS from ``start`` gives at these concept rows given the concept side's ``hops``: 0 at a target,
        else one past the nearest neighbour, capped."""
        adj = self._csr().adj
        cols = _neighbours(adj, rows)
        lens = adj.indptr[rows + 1] - adj.indptr[rows]
        near = self._hops_of(hops, start, cols, cap)
        return _one_past(near, (lens, np.arange(len(cols))), np.isin(rows, start), cap).astype(hops.dtype)

    def _hops_of(self, hops: np.ndarray, start: np.ndarray, rows: np.ndarray, cap: int) -> np.ndarray:
        """The hops at any CSR rows given the concept side's: a concept row's own, a record row's from its
        neighbours."""
        csr = self._csr()
        out = np.empty(len(rows), dtype=hops.dtype)
        concept = rows >= csr.split
        out[concept] = hops[rows[concept] - csr.split]
        side = _ConceptSide(csr, self._walks()[0], rows[~concept])
        out[~concept] = _one_past(hops, side.neighbours(), np.isin(side.record_rows, start), cap)
        return out

    def _hops(self, start: np.ndarray, cap: int) -> np.ndarray:
        """Hops from the nearest of the ``start`` CSR rows to every row, by a capped BFS; ``cap + 1`` beyond.

        Each step reads the fewer edges: the frontier's (which rows does it reach?) or, once the frontier holds most
        of the graph, the unvisited rows' (which of them touch it?). At 100k talents a need's routes reach 80 % of
        the rows in four hops; the last two steps then read a fifth of the edges (10 → 5 ms)."""
        csr = self._csr()
        adj, degree = csr.adj, np.diff(csr.adj.indptr)
        dist = np.full(adj.shape[0], cap + 1, dtype=np.float32)
        frontier = start
        dist[frontier] = 0
        for hop in range(1, cap + 1):
            if not len(frontier):
                break
            unvisited = np.flatnonzero(dist > hop)
            if degree[frontier].sum() <= degree[unvisited].sum():
                reached = np.zeros(len(dist), dtype=bool)
                reached[_neighbours(adj, frontier)] = True
                frontier = np.flatnonzero(reached & (dist > hop))
            else:
                touches = dist[_neighbours(adj, unvisited)] == hop - 1
                hit = np.zeros(len(unvisited), dtype=bool)
                hit[np.repeat(np.arange(len(unvisited)), degree[unvisited])[touches]] = True
                frontier = unvisited[hit]
            dist[frontier] = hop
        return dist

    def route_length(self, need_id: str, talent_ids: Sequence[str], *, cap: int = ROUTE_CAP) -> np.ndarray:
        """Fewest hops from each talent to the need's enterprise or that enterprise's platform (capped BFS from the
        targets over the CSR adjacency). Farther than ``cap``, unreachable, a need without an enterprise, or an
        unknown talent: ``cap + 1`` (not 0, which would read as "at the target")."""
        return self._routes_at(need_id, self._rows(talent_ids), cap)

    def matching_incubators(self, need: Need) -> list[str]:
        """Incubators whose focus industries hold the need's industry, or one of whose focus disciplines is a need
        discipline, an ancestor of one, or a descendant of one."""
        need_codes = [_ancestors(c) for c in need.disciplines]
        out = []
        for inc in self._incubators.values():
            industry = need.industry is not None and need.industry in inc.focus_industries
            overlap = any(f in up or c in _ancestors(f) for f in inc.focus_disciplines
                          for c, up in zip(need.disciplines, need_codes, strict=True))  # fmt: skip
            if industry or overlap:
                out.append(f"incubator:{inc.id}")
        return out

    def _incubator_links(self, need_id: str) -> np.ndarray:
        """The sorted CSR rows linked to an incubator matching the need, cached per need and version (a few
        thousand at 1M talents, where a 0/1 value per node was 1 MB a need)."""
        need = self._need_record(need_id)

        def link() -> np.ndarray:
            csr = self._csr()
            matching = [self._row_of(v) for v in self.matching_incubators(need) if v in self]
            return np.unique(_neighbours(csr.adj, np.array(matching, dtype=np.int64)))  # their edges, not all

        return self._memoised(("incubator", need_id), link)

    def _incubator_route(self, need_id: str, rows: np.ndarray) -> np.ndarray:
        """1.0 at the CSR rows linked to a matching incubator."""
        return in_sorted(rows, self._incubator_links(need_id)).astype(np.float32)

    def incubator_route(self, need_id: str, talent_ids: Sequence[str]) -> np.ndarray:
        """1.0 where the talent is linked to an incubator matching the need (see ``matching_incubators``: focus
        industries hold the need's industry, or focus disciplines overlap the need's along the NSFC tree), else 0."""
        return self._incubator_route(need_id, self._rows(talent_ids))

    def prepared(self, need_id: str) -> bool:
        """Whether ``prepare`` has nothing to build: the need's PageRank is in the memo (its other passes are built
        with it), or the need is not in the graph. A ranking asks before handing work to a helper thread, whose
        hand-over under load costs more than the look (steady rankings at 100k: 44 → 39 req/s without this)."""
        return f"need:{need_id}" not in self or self._memo_get(_ppr_key(need_id)) is not None

    def prepare(self, need_id: str) -> None:
        """Build the need's whole-graph passes into the memo (PageRank, incubator links, routes, concept weights),
        in the order a ranking reads them: its retrievers, then ``features``, which then only gather. A ranking runs
        this on a helper thread beside its retrieval (``matcher.pipeline.rank_pool``). A need not in the graph (an
        ad-hoc query) has none."""
        if f"need:{need_id}" not in self:
            return
        self._ppr_block(need_id, PPR_ALPHA, PPR_STEPS, PPR_RTOL, False)
        self._incubator_route(need_id, np.zeros(0, dtype=np.int64))
        self._route_distances(need_id, ROUTE_CAP)
        self._need_concepts(need_id)

    def prepare_needs(
        self,
        need_ids: Iterable[str],
        seconds: float,
        threads: int = PREPARE_THREADS,
        also: Callable[[str], object] | None = None,
    ) -> int:
        """``prepare`` these needs in order, each then passed to ``also``, on ``threads`` threads, until ``seconds``
        have passed or the memo holds three quarters of its bound; returns how many were prepared. Before a snapshot
        is saved (``service.snapshots.save``): the snapshot keeps the memo, so a restart's first ranking of each
        finds its PageRank and routes. The sparse products release the GIL, so two threads prepare ~2× the needs.
        The graph is settled first, so its whole-graph passes are built once, not by each thread."""
        self.settle()
        deadline = time.monotonic() + seconds

        def one(need_id: str) -> bool:
            if time.monotonic() >= deadline or self._memo_bytes > MEMO_BYTES * 3 // 4:
                return False
            self.prepare(need_id)
            if also is not None:
                also(need_id)
            return True

        with ThreadPoolExecutor(threads, thread_name_prefix="talentmatch-prepare") as pool:
            return sum(pool.map(one, need_ids))

    def features(self, need_id: str, talent_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """All graph numbers for one need and its candidates, under stable names, each float32 aligned with
        ``talent_ids``. PPR, route distances and incubator links are whole-graph passes per need, cached until the
        graph changes (PPR and routes for the concept side, read at the candidates through ``_ConceptSide``); the
        rest gathers the candidates' rows."""
        rows = self._rows(talent_ids)
        common, adamic_adar = self._shared(need_id, rows)
        return {
            "graph_ppr": self._ppr_at(need_id, rows),
            "graph_common_neighbours": common,
            "graph_adamic_adar": adamic_adar,
            "graph_route_length": self._routes_at(need_id, rows, ROUTE_CAP),
            "graph_incubator_route": self._incubator_route(need_id, rows),
        }

    # ---------------------------------------------------------------- one talent against many needs

    def node_numbers(self, nodes: Iterable[str]) -> np.ndarray:
        """Node numbers (stable until ``epoch`` changes), -1 for nodes not in the graph."""
        get = self._number.get
        return np.fromiter((get(v, -1) for v in nodes), dtype=np.int64)

    def concept_set(self, node: str) -> set[str]:
        """The concept set of a record node (as in ``common_neighbours``): its skills and disciplines, plus each
        discipline's parent; empty for a node not in the graph."""
        linked = {*self.neighbours(node, NodeType.skill), *self.neighbours(node, NodeType.discipline)}
        return linked | {up for v in linked if v.startswith("discipline:") and (up := _up(v))}

    def route_targets(self, need: Need) -> list[str]:
        """The nodes a route from a talent to the need may end at: its enterprise and that enterprise's platforms
        (none for a need without an enterprise or not in the graph)."""
        if f"need:{need.id}" not in self or not need.enterprise_id:
            return []
        enterprise = f"enterprise:{need.enterprise_id}"
        return [enterprise, *self.linked(enterprise, NodeType.platform)]

    def ppr_to(
        self, talent_id: str, *, alpha: float = PPR_ALPHA, iters: int = PPR_STEPS, tol: float = PPR_RTOL
    ) -> np.ndarray:
        """Personalized PageRank mass that a walk restarting at each node leaves on the talent, for every node (CSR
        row order) in one solve: y[s] is ``ppr_vector(s)[t]`` for every source s at once.

        On an undirected graph PPR is reversible, ppr_s(t) / deg(t) = ppr_t(s) / deg(s), so y is the PPR from the
        talent scaled by deg(t) / deg: one forward solve (``solve_ppr``) instead of one per need, and no transposed
        walk to build or keep."""
        csr = self._csr()
        t = self._row_of(f"talent:{talent_id}")
        restart = np.zeros(csr.adj.shape[0], dtype=np.float32)
        restart[t] = alpha
        x = solve_ppr(restart, csr.split, self._walks(), alpha, iters, tol)
        degree = np.diff(csr.adj.indptr).astype(np.float32)
        y = np.divide(x * degree[t], degree, out=np.zeros_like(x), where=degree > 0)
        y[t] = x[t]  # an isolated talent: its own restart mass, the rest 0
        return y

    def route_lengths_from(self, talent_id: str, *, cap: int = ROUTE_CAP) -> np.ndarray:
        """Hops from the talent to every node (CSR row order), by one capped BFS; ``cap + 1`` beyond the cap."""
        return self._hops(np.array([self._row_of(f"talent:{talent_id}")]), cap)

    def concept_weights(self, concepts: Sequence[str]) -> np.ndarray:
        """Adamic–Adar weight (``adamic_adar``) of these concept nodes only: 1 / ln(f), f = how many talents, needs
        and incubators hold the concept in their concept set (linked to it, or to a discipline whose parent it
        is); no whole-graph pass, so it stays cheap right after a change."""
        csr = self._csr()
        return self._aa_weights(csr.pos[[self._number[v] for v in concepts]])

    def features_to(self, talent_id: str, needs: NeedLinks, sel: np.ndarray) -> dict[str, np.ndarray]:
        """``features`` turned around: the graph numbers of one talent against rows ``sel`` of ``needs``, from one
        reverse PPR solve, one BFS from the talent, and the concept and incubator sets of the needs."""
        n = len(sel)
        out = {name: np.zeros(n, np.float32) for name in FEATURE_NAMES}
        out["graph_route_length"][:] = ROUTE_CAP + 1
        node = f"talent:{talent_id}"
        csr = self._csr()  # first: re-assembling may compact the node numbering
        need_nodes = needs.numbers()[sel]
        in_graph = need_nodes >= 0
        if node not in self or not in_graph.any():
            return out
        need_rows = np.where(in_graph, csr.pos[np.maximum(need_nodes, 0)], -1)
        known = need_rows >= 0
        out["graph_ppr"][known] = self.ppr_to(talent_id)[need_rows[known]]

        mine = self.concept_set(node)
        names = [k for k in mine if k in needs.concepts]
        if names:
            cols = needs.concepts.known(names)
            m = needs.concept_matrix(sel)
            flags = np.zeros(m.shape[1], np.float32)
            flags[cols] = 1.0
            weights = np.zeros(m.shape[1], np.float32)
            weights[cols] = self.concept_weights(names)
            out["graph_common_neighbours"] = np.where(in_graph, m @ flags, 0).astype(np.float32)
            out["graph_adamic_adar"] = np.where(in_graph, m @ weights, 0).astype(np.float32)

        dist = self.route_lengths_from(talent_id)
        targets = needs.target_matrix(sel)
        tpos = np.asarray(csr.pos)[targets.indices] if targets.nnz else np.zeros(0, np.int64)
        tdist = np.where(tpos >= 0, dist[np.maximum(tpos, 0)], ROUTE_CAP + 1)
        lens = np.diff(targets.indptr)
        if ((lens > 0) & in_graph).any():
            route = out["graph_route_length"]
            route[lens > 0] = np.minimum.reduceat(tdist, targets.indptr[:-1][lens > 0])
            route[~((lens > 0) & in_graph)] = ROUTE_CAP + 1

        incs = [v for v in self.neighbours(node, NodeType.incubator) if v in needs.incubators]
        if incs:
            m = needs.incubator_matrix(sel)
            flags = np.zeros(m.shape[1], np.float32)
            flags[needs.incubators.known(incs)] = 1.0
            out["graph_incubator_route"] = np.where(in_graph, (m @ flags) > 0, 0).astype(np.float32)
        return out

    # ---------------------------------------------------------------- per-version memo

    def _per_version(self, key: str, build: Callable[[], object]):
        """A whole-graph result (the discipline closure and its transpose, the walk's blocks), one per graph
        version, kept apart from the per-need memo and never evicted: read by every ranking, and sized by the
        graph, so a bound on per-need results must not drop it (every row's concepts, kept here once, were ~120 MB
        at 1M talents)."""
        self._csr()  # clears them when the graph changed
        if (hit := self._whole.get(key)) is None:
            hit = self._whole.setdefault(key, build())  # two first readers: both get the one stored first
        return hit

    def _memoised(self, key: tuple, build: Callable[[], Any]):
        """The memo's value for ``key``, built once however many readers ask for it at the same time: a ranking
        warms its need's passes on a helper thread (``prepare``) while its retrievers ask for them, and concurrent
        first rankings of one need share a PageRank. A waiter whose builder failed builds (and fails) itself."""
        while True:
            if (hit := self._memo_get(key)) is not None:
                return hit
            with self._memo_lock:
                running = self._building.get(key)
                if running is None:
                    running = self._building[key] = threading.Event()
                    break
            running.wait()
        try:
            return self._memo_put(key, build())
        finally:
            with self._memo_lock:
                del self._building[key]
            running.set()

    def _memo_get(self, key: tuple):
        self._csr()  # clears the memo when the graph changed
        with self._memo_lock:  # concurrent readers share the memo
            hit = self._memo.get(key)
            if hit is not None:
                self._memo.move_to_end(key)
        return hit

    def _memo_pop(self, key: tuple):
        """Take ``key``'s value out of the memo (a warm start, used once), or None."""
        with self._memo_lock:
            kept = self._memo.pop(key, None)
            if kept is not None:
                self._memo_bytes -= _nbytes(kept)
        return kept

    def _memo_put(self, key: tuple, value):
        """Keep the most recently used results up to ``MEMO_BYTES`` (the newest always: it is being used)."""
        size = _nbytes(value)
        with self._memo_lock:
            if not self._memo:  # cleared (a new graph version, or a bench timing a cold solve)
                self._memo_bytes = 0
            if (old := self._memo.pop(key, None)) is not None:
                self._memo_bytes -= _nbytes(old)
            self._memo[key] = value
            self._memo_bytes += size
            while self._memo_bytes > MEMO_BYTES and len(self._memo) > 1:
                self._memo_bytes -= _nbytes(self._memo.popitem(last=False)[1])
        return value


def _warm(key: tuple, value, numbers: np.ndarray | None, touched: np.ndarray | None) -> tuple:
    """What a memo entry becomes at a new graph version (``_keep_warm_starts``): a PPR block a warm start, routes
    their hops with the node numbers ``touched`` since (added up across versions, while under ``TOUCHED_LIMIT``),
    anything else nothing: ``(None, None)``."""
    kind = key[0]
    if kind == "ppr":
        return ("ppr-warm", *key[1:]), (value, numbers)
    if kind == "ppr-warm":
        return key, value
    if kind == "route" and touched is not None:
        return ("route-warm", *key[1:]), (value[0], numbers, touched)
    if kind == "route-warm" and touched is not None and len(since := np.union1d(value[2], touched)) <= TOUCHED_LIMIT:
        return key, (*value[:2], since)
    return None, None


def _ppr_key(
    need_id: str, alpha: float = PPR_ALPHA, iters: int = PPR_STEPS, tol: float = PPR_RTOL, with_enterprise: bool = False
) -> tuple:
    """The memo key of a need's PageRank vector (``TalentGraph.ppr_vector``)."""
    return ("ppr", need_id, alpha, iters, tol, with_enterprise)


def _nbytes(value) -> int:
    """Bytes a memoised result holds: arrays' and sparse matrices' buffers, a tuple's items and its own slots. An
    array of a loaded snapshot (its prepared needs, ``prepare_needs``) holds none: its pages are the page cache's,
    shared between processes and read only for the needs ranked."""
    if isinstance(value, np.ndarray):
        return 0 if mapped(value) else value.nbytes
    if sp.issparse(value):
        return value.data.nbytes + value.indices.nbytes + value.indptr.nbytes
    if isinstance(value, tuple):
        return sys.getsizeof(value) + sum(map(_nbytes, value))
    return sys.getsizeof(value)


def _one_past(hops: np.ndarray, neighbours: tuple[np.ndarray, np.ndarray], targets: np.ndarray, cap: int) -> np.ndarray:
    """Each row's hops from its neighbours' (``neighbours``: their counts and positions in ``hops``,
    concatenated): one past the nearest, ``cap + 1`` at most and without neighbours, 0 where ``targets``."""
    lens, cols = neighbours
    nearest = np.full(len(lens), cap, dtype=np.float32)  # no neighbour: beyond the cap
    if len(cols):
        starts = np.cumsum(lens) - lens
        nearest[lens > 0] = np.minimum.reduceat(hops[cols], starts[lens > 0])
    out = np.minimum(nearest + 1, cap + 1)
    out[targets] = 0
    return out


def _neighbours(adj: sp.csr_array, rows: np.ndarray) -> np.ndarray:
    """The column indices of ``rows`` of ``adj``, concatenated in order (``adj[rows].indices`` without building the
    sub-matrix: a BFS step or a concept's owners, after every write)."""
    starts = adj.indptr[rows]
    lens = adj.indptr[np.asarray(rows) + 1] - starts
    if not len(lens):
        return np.zeros(0, adj.indices.dtype)
    return adj.indices[ranges(starts, lens)]


def solve_ppr(
    restart: np.ndarray,
    split: int,
    walks: tuple,
    alpha: float,
    iters: int,
    tol: float,
    start: np.ndarray | None = None,
    *,
    whole: bool = True,
) -> np.ndarray:
    """``x = (1 - alpha) W x + restart`` by conjugate gradients, W = A D⁻¹ (``walks`` its two row blocks).

    Rows ``[:split]`` never link among themselves, so x[:split] = restart[:split] + (1 - alpha) W_top x and the
    rest solves the small system (I - (1 - alpha) W_bottom [(1 - alpha) W_top; I]) x_bottom = rhs, whose matrix is
    symmetric positive definite in the inner product weighted by 1 / degree (A symmetric; eigenvalues ≥ alpha).
    Gauss–Seidel shrinks the error by (1 - alpha)² = 0.72 a step; CG by ~(√κ - 1) / (√κ + 1) ≤ 0.31 (κ ≤
    1 / (1 - (1 - alpha)²)), so ~3× fewer products for the same error. Stops after ``iters`` steps or when the
    weighted residual falls below ``tol`` times the right-hand side's, the same bound from zero or from ``start``
    (an earlier solution's rows ``[split, n)``: one more product, and a few steps where a change moved it little).
    Returns x, or with ``whole=False`` only x[split:] (what a need's memo keeps: one product over the graph fewer).
    A need's walk reaches every talent within a few hops through shared skills (measured: a local push reaching 99 %
    of the top 300 touched 6× the graph's edges), so the cost stays one product over the graph a step."""
    top, bottom = walks
    keep = np.float32(1.0 - alpha)
    weight = 1.0 / np.maximum(np.diff(bottom.indptr), 1).astype(np.float64)
    x = restart.copy()
    x[split:] = 0.0
    rhs = restart[split:] + keep * (bottom @ x)

    def apply(v: np.ndarray) -> np.ndarray:
        x[split:] = v
        x[:split] = keep * (top @ x)  # top's columns are all ≥ split: x[:split] is never read
        return v - keep * (bottom @ x)

    stop = tol * tol * float((rhs * weight * rhs).sum())  # not np.dot: BLAS threads cost ms under load
    if start is None:
        y, r = np.zeros_like(rhs), rhs.copy()
    else:
        y = start.astype(np.float32)
        r = rhs - apply(y)
    p = r.copy()
    rr = float((r * weight * r).sum())
    for _ in range(iters):
        if rr <= stop:
            break
        q = apply(p)
        step = np.float32(rr / float((p * weight * q).sum()))
        y += step * p
        r -= step * q
        rr, last = float((r * weight * r).sum()), rr
        p = r + np.float32(rr / last) * p
    if not whole:
        return y
    x[split:] = y
    x[:split] = restart[:split] + keep * (top @ x)
    return x


class _ConceptSide:
    """Some CSR rows of one graph version, split by side, to read a need's concept-side results at them (PPR,
    routes): a concept row reads its own value; a record row, whose neighbours are all on the concept side, is made
    from theirs. ``concept`` and ``record`` mark the rows' positions; rows of -1 are in neither."""

    def __init__(self, csr: _Csr, top: sp.csr_array, rows: np.ndarray) -> None:
        self._split, self._top = csr.split, top  # ``top``: the walk's record rows, whose columns are all ≥ split
        self.concept = rows >= csr.split
        self.record = (rows >= 0) & ~self.concept
        self.concept_rows = rows[self.concept] - csr.split
        self.record_rows = rows[self.record]

    def _entries(self) -> tuple[np.ndarray, np.ndarray]:
        starts = self._top.indptr[self.record_rows]
        lens = self._top.indptr[self.record_rows + 1] - starts
        return lens, ranges(starts, lens)

    def neighbours(self) -> tuple[np.ndarray, np.ndarray]:
        """Each record row's number of neighbours, and their concept rows (counted from ``split``), concatenated."""
        lens, at = self._entries()
        return lens, self._top.indices[at] - self._split

    def walk(self) -> sp.csr_array:
        """The walk's record rows, columns counted from ``split``: times a concept-side block, their values, summed
        in the order the whole product sums them."""
        lens, at = self._entries()
        indices = self._top.indices[at] - self._split
        indptr = np.zeros(len(lens) + 1, dtype=indices.dtype)
        np.cumsum(lens, out=indptr[1:])
        shape = (len(lens), self._top.shape[1] - self._split)
        return _csr_view(self._top.data[at], indices, indptr, shape)


class _Vocab(dict):
    """String → column id, growing."""

    def ids(self, keys: Iterable[str]) -> np.ndarray:
        return np.fromiter((self.setdefault(k, len(self)) for k in keys), dtype=np.int32)

    def known(self, keys: Iterable[str]) -> np.ndarray:
        return np.fromiter((self[k] for k in keys if k in self), dtype=np.int64)


class NeedLinks:
    """The graph side of a set of needs, for ``TalentGraph.features_to``: per need its node, its concept set, its
    matching incubators and its route targets, append-only (a row per ``add``; callers track which rows live).

    Node numbers are resolved on ``add`` and again, for every row at once, only when the graph compacts its
    numbering (``TalentGraph.epoch``)."""

    def __init__(self, graph: TalentGraph) -> None:
        self.graph = graph
        self.concepts = _Vocab()
        self.incubators = _Vocab()
        self._concepts = GrowableCSR(sp.csr_matrix((0, 0), dtype=np.float32))
        self._incubators = GrowableCSR(sp.csr_matrix((0, 0), dtype=np.float32))
        self._nodes: list[str] = []
        self._targets: list[list[str]] = []
        self._numbers = GrowableVector(np.zeros(0, np.int64))
        self._target_numbers = GrowableCSR(sp.csr_matrix((0, 0), dtype=np.float32))
        self._epoch = graph.epoch

    def add(self, need: Need) -> int:
        """Append the links of ``need`` as it stands in the graph now; returns its row."""
        graph = self.graph
        self._renumber()
        node = f"need:{need.id}"
        concepts = sorted(graph.concept_set(node))
        self._concepts.append(self.concepts.ids(concepts), np.ones(len(concepts), np.float32))
        incs = [v for v in graph.matching_incubators(need) if v in graph] if node in graph else []
        self._incubators.append(self.incubators.ids(incs), np.ones(len(incs), np.float32))
        targets = graph.route_targets(need)
        self._nodes.append(node)
        self._targets.append(targets)
        self._numbers.extend(graph.node_numbers([node]))
        numbers = graph.node_numbers(targets)
        self._target_numbers.append(numbers[numbers >= 0], np.ones(int((numbers >= 0).sum()), np.float32))
        return len(self._nodes) - 1

    def _renumber(self) -> None:
        if self._epoch == self.graph.epoch:
            return
        self._numbers.view[:] = self.graph.node_numbers(self._nodes)
        lens = np.fromiter(map(len, self._targets), np.int64, len(self._targets))
        numbers = self.graph.node_numbers(v for names in self._targets for v in names)
        owner = np.repeat(np.arange(len(lens)), lens)
        keep = numbers >= 0
        width = int(numbers.max()) + 1 if keep.any() else 0
        self._target_numbers = GrowableCSR(
            sp.csr_matrix(
                (np.ones(int(keep.sum()), np.float32), (owner[keep], numbers[keep])), shape=(len(lens), width)
            )
        )
        self._epoch = self.graph.epoch

    def numbers(self) -> np.ndarray:
        """Node number of each row's need (-1: not in the graph)."""
        self._renumber()
        return self._numbers.view

    def target_matrix(self, rows: np.ndarray) -> sp.csr_matrix:
        """Rows × node numbers: 1 on each route target."""
        self._renumber()
        return self._target_numbers.csr()[rows]

    def concept_matrix(self, rows: np.ndarray) -> sp.csr_matrix:
        """Rows × ``concepts``: 1 on each concept of the need's concept set."""
        return _rows_of(self._concepts, rows, len(self.concepts))

    def incubator_matrix(self, rows: np.ndarray) -> sp.csr_matrix:
        """Rows × ``incubators``: 1 on each incubator matching the need."""
        return _rows_of(self._incubators, rows, len(self.incubators))


def _rows_of(m: GrowableCSR, rows: np.ndarray, n_cols: int) -> sp.csr_matrix:
    out = m.csr()[rows]
    out.resize((len(rows), n_cols))
    return out


FEATURE_NAMES = (
    "graph_ppr",
    "graph_common_neighbours",
    "graph_adamic_adar",
    "graph_route_length",
    "graph_incubator_route",
)
"""The keys of ``TalentGraph.features``, in order."""
