"""The feature matrix turned around: ONE talent against MANY needs, in one vectorised pass.

``feature_matrix`` builds the rows of one need against many talents; alerts need the opposite (a new talent against
every subscribed need), where a call per need would cost ~15 ms each (mostly the need's personalized PageRank).
:class:`NeedBatch` prepares the need side once (query-term and concept matrices, skill pairs, rule parameters,
graph concept sets, route targets), append-only with tombstones like the other indices, and
:func:`talent_feature_matrix` then computes every column of ``SCHEMA`` for the talent against all of them:

- text: the talent's BM25 term weights (profile and each work) times a need × term presence matrix; concept and
  discipline cosines as one sparse mat-vec each; skill coverage over (need, skill) pairs;
- graph: personalized PageRank *to* the talent from every node at once (the transposed walk, so one solve instead
  of one per need), one BFS from the talent for route lengths, concept-set intersections for common neighbours and
  Adamic–Adar, incubator routes as a mat-vec;
- rules and talent attributes: numpy comparisons broadcast over the needs.

Every value equals ``feature_matrix``'s for the same pair (``tests/features/test_talent_matrix.py`` holds them
equal); PageRank converges to the same fixed point within the solver's tolerance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice

import numpy as np
import scipy.sparse as sp

from features._growable import GrowableCSR, GrowableVector
from features.eligibility import DEFAULT_SPECIAL_RESEARCHER_MONTHS, PERMIT_CLASS_B, required_site
from features.graph import _NCODE, ROUTE_CAP, NodeType, _up, solve_ppr
from features.indices import Indices
from features.matrix import LANGUAGE_GAP, YRD_FIT, write_fit
from features.records import AvailabilityMode, Need, NeedKind, Site, need_text
from features.schema import SCHEMA
from features.table import EPOCH, MODE_CODES, SITE_BITS
from features.text import _query_tokens, tokenize

_COL = {name: i for i, name in enumerate(SCHEMA.names)}
_KINDS = list(NeedKind)
_OWNER_KINDS = np.array([_NCODE[NodeType.talent], _NCODE[NodeType.need], _NCODE[NodeType.incubator]])
PPR_ALPHA, PPR_ITERS, PPR_TOL = 0.15, 30, 1e-6
"""``TalentGraph.ppr_vector``'s defaults, which the ranking features use."""


def _is_concept(node: str) -> bool:
    return node.startswith(("skill:", "discipline:"))


class _Vocab(dict):
    """String → column id, growing."""

    def ids(self, keys) -> np.ndarray:
        return np.fromiter((self.setdefault(k, len(self)) for k in keys), dtype=np.int32)

    def known(self, keys) -> np.ndarray:
        return np.fromiter((self[k] for k in keys if k in self), dtype=np.int64)


class NeedBatch:
    """The need side of ``talent_feature_matrix`` for a set of needs of one ``Indices`` (add, replace, remove one
    at a time; rows are tombstoned, never renumbered)."""

    def __init__(self, idx: Indices, needs: Sequence[Need] = ()) -> None:
        self.idx = idx
        self.ids: list[str] = []
        self.row_of: dict[str, int] = {}
        self.alive = GrowableVector(np.zeros(0, bool))
        self.tokens = _Vocab()  # need-side token vocabulary (strings, so a talent's new tokens still meet them)
        self.concept_names = _Vocab()  # graph concept nodes
        self.incubators = _Vocab()
        self._terms = GrowableCSR(sp.csr_matrix((0, 0), dtype=np.float32))
        self._concepts = GrowableCSR(sp.csr_matrix((0, idx.concepts.n_cols), dtype=np.float32))
        self._disc = GrowableCSR(sp.csr_matrix((0, idx.concepts.n_cols), dtype=np.float32))
        self._graph_concepts = GrowableCSR(sp.csr_matrix((0, 0), dtype=np.float32))
        self._inc = GrowableCSR(sp.csr_matrix((0, 0), dtype=np.float32))
        self._targets = GrowableCSR(sp.csr_matrix((0, 0), dtype=np.float32))  # columns: graph node numbers
        self._pair_terms = GrowableCSR(sp.csr_matrix((0, 0), dtype=np.float32))
        self._pair_concepts = GrowableCSR(sp.csr_matrix((0, idx.concepts.n_cols), dtype=np.float32))
        self._pair_owner = GrowableVector(np.zeros(0, np.int64))
        self._pair_ntok = GrowableVector(np.zeros(0, np.float32))
        self._num = {
            name: GrowableVector(np.zeros(0, dt))
            for name, dt in (
                ("min_rank", np.int16),
                ("need_months", np.int16),
                ("kind", np.int8),
                ("site_bit", np.int64),
                ("lang_mask", np.int64),
                ("budget", np.float32),
                ("n_skills", np.float32),
                ("node", np.int64),
                ("needs_zh", np.bool_),
                ("needs_en", np.bool_),
            )
        }
        self._dense: list[np.ndarray] = []
        self._target_names: list[list[str]] = []
        self._node_names: list[str | None] = []
        self._numbering = idx.graph._number
        self._dense_stack: np.ndarray | None = None
        self._idf = idx.concepts.idf
        self._inverse: list[str] = []
        for need in needs:
            self.add(need)

    def __len__(self) -> int:
        return len(self.row_of)

    def __contains__(self, need_id: str) -> bool:
        return need_id in self.row_of

    def add(self, need: Need) -> None:
        """Add or replace a need (it must be in ``idx.needs`` and the graph, as ``Indices.add_need`` leaves it)."""
        if need.id in self.row_of:
            self.remove(need.id)
        idx, cmap = self.idx, self.idx.concepts.mapper
        toks = self.tokens.ids(sorted(set(_query_tokens(need))))
        self._terms.append(toks, np.ones(len(toks), np.float32))
        for m, vec in ((self._concepts, idx.concepts._query(need)), (self._disc, idx.concepts._need_disciplines(need))):
            nz = np.flatnonzero(vec)
            m.append(nz, vec[nz])
        g = idx.graph
        node = f"need:{need.id}"
        adj = g.nx.adj[node] if node in g.nx else {}
        concepts = {v for v in adj if _is_concept(v)}
        concepts |= {up for v in concepts if v.startswith("discipline:") and (up := _up(v))}
        self._graph_concepts.append(self.concept_names.ids(sorted(concepts)), np.ones(len(concepts), np.float32))
        incs = [v for v in g._matching_incubators(need) if v in g.nx] if node in g.nx else []
        self._inc.append(self.incubators.ids(incs), np.ones(len(incs), np.float32))
        targets = []
        if node in g.nx and need.enterprise_id:
            ent = f"enterprise:{need.enterprise_id}"
            targets = [ent, *(v for v in g.nx.adj[ent] if v.startswith("platform:"))]
        self._target_names.append(targets)
        self._node_names.append(node if node in g.nx else None)
        self._targets.append(np.array([g._number[v] for v in targets], np.int32), np.ones(len(targets), np.float32))
        row = len(self.ids)
        for skill in need.required_skills:
            wanted = sorted(set(tokenize(skill)))
            self._pair_terms.append(self.tokens.ids(wanted), np.ones(len(wanted), np.float32))
            named = np.unique(cmap.match(skill)[0])
            self._pair_concepts.append(named, np.ones(len(named), np.float32))
            self._pair_owner.extend(np.array([row]))
            self._pair_ntok.extend(np.array([len(wanted)], np.float32))
        values = {
            "min_rank": need.min_tier.rank if need.min_tier else 0,
            "need_months": need.months_per_year
            or (DEFAULT_SPECIAL_RESEARCHER_MONTHS if need.kind is NeedKind.special_researcher else 0),
            "kind": _KINDS.index(need.kind),
            "site_bit": SITE_BITS[required_site(need)],
            "lang_mask": idx.table.lang_mask(need.languages),
            "budget": need.salary_budget or np.nan,
            "n_skills": len(need.required_skills),
            "node": g._number.get(node, -1),
            "needs_zh": "zh" in (set(need.languages) or {"zh"}),  # posts in Jiaxing work in Chinese unless stated
            "needs_en": "en" in need.languages,
        }
        for name, v in values.items():
            self._num[name].extend(np.array([v], self._num[name].view.dtype))
        if idx.dense is not None:
            self._dense.append(idx.dense.query_vector(need_text(need)))
            self._dense_stack = None
        self.ids.append(need.id)
        self.row_of[need.id] = row
        self.alive.extend(np.ones(1, bool))

    def remove(self, need_id: str) -> bool:
        """Drop a need (closed, erased, unsubscribed); False if it was not in the batch."""
        row = self.row_of.pop(need_id, None)
        if row is None:
            return False
        self.alive.view[row] = False
        return True

    def _renumber(self) -> None:
        """Re-resolve graph node numbers after the graph compacted its numbering (``TalentGraph._compact``)."""
        g = self.idx.graph
        if g._number is self._numbering:
            return
        number = g._number
        self._num["node"].view[:] = [number.get(v, -1) if v else -1 for v in self._node_names]
        cols = [np.array([number.get(v, -1) for v in names], np.int64) for names in self._target_names]
        cols = [c[c >= 0].astype(np.int32) for c in cols]
        self._targets = GrowableCSR.from_rows(cols, [np.ones(len(c), np.float32) for c in cols], len(number))
        self._numbering = number

    def _col(self, name: str) -> np.ndarray:
        return self._num[name].view

    def _dense_matrix(self) -> np.ndarray:
        if self._dense_stack is None or len(self._dense_stack) != len(self._dense):
            self._dense_stack = np.stack(self._dense) if self._dense else np.zeros((0, 0), np.float32)
        return self._dense_stack

    def _inverse_vocab(self) -> list[str]:
        """Talent vocabulary id → token (ids are dense and assigned in insertion order)."""
        ids = self.idx.sparse.vocab.ids
        if len(self._inverse) < len(ids):
            self._inverse.extend(islice(ids, len(self._inverse), None))
        return self._inverse


@dataclass
class TalentRows:
    """The feature rows of one talent against the batch's live needs that its rules let through."""

    need_ids: list[str]
    X: np.ndarray
    batch_rows: np.ndarray
    checked: int
    """Live needs in the batch (the rules removed ``checked - len(need_ids)``)."""


def talent_feature_matrix(idx: Indices, batch: NeedBatch, talent_id: str, *, now: datetime | None = None
                          ) -> TalentRows:  # fmt: skip
    """Feature rows (schema order) of ``talent_id`` against every live need of ``batch`` it is eligible for."""
    if batch.idx is not idx:
        raise ValueError("talent_feature_matrix: the NeedBatch was built for other Indices; build it again")
    if batch._idf is not idx.concepts.idf:
        raise ValueError("talent_feature_matrix: the concept index was compacted since the batch was built; rebuild it")
    row = int(idx.rows([talent_id])[0])
    if row < 0:
        raise LookupError(f"talent {talent_id!r} is not indexed; add it with Indices.add_talent before matching")
    n = len(batch.ids)
    t = idx.table
    live = batch.alive.view.copy()
    ok = _eligible(batch, t, row) & live
    sel = np.flatnonzero(ok)
    X = np.zeros((len(sel), len(_COL)), dtype=np.float32)
    if len(sel):
        _text(idx, batch, row, sel, X)
        _graph(idx, batch, talent_id, sel, X)
        _attributes(batch, t, row, sel, X, now)
        if "fit_prior" in _COL:
            _fit(batch, t, row, sel, X)
    return TalentRows([batch.ids[i] for i in sel.tolist()], X, sel, int(live[:n].sum()))


def _eligible(batch: NeedBatch, t, row: int) -> np.ndarray:
    """``eligibility.check`` turned around: one talent row against every need of the batch."""
    col = batch._col
    n = len(batch.ids)
    if not (t.alive[row] and t.consent_matching[row]):
        return np.zeros(n, bool)
    kind, need_months = col("kind"), col("need_months")
    mode, months = int(t.mode[row]), int(t.months[row])
    remote = mode == MODE_CODES[AvailabilityMode.remote]
    sr = kind == _KINDS.index(NeedKind.special_researcher)
    available = np.ones(n, bool)
    available[sr] = (not remote) & (months >= need_months[sr])
    available[kind == _KINDS.index(NeedKind.full_time)] = mode == MODE_CODES[AvailabilityMode.full_time]
    available[kind == _KINDS.index(NeedKind.enclave)] = not remote
    sites, langs = int(t.sites[row]), int(t.lang_bits[row])
    site_ok = (sites == 0) | ((sites & col("site_bit")) != 0)
    masks = col("lang_mask")
    lang_ok = (langs == 0) | ((langs & masks) == masks)
    permit_ok = sr | (not t.foreign[row]) | (float(t.permit_points[row]) >= PERMIT_CLASS_B)
    return (int(t.tier_rank[row]) >= col("min_rank")) & available & site_ok & lang_ok & permit_ok


def _bm25_weights(corpus, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(owner position, term id, BM25 weight) of every term of ``rows``: a query holding the term gets the weight."""
    owner, cols, tf = corpus.tf.gather(rows)
    w = corpus._bm25(tf, rows[owner], corpus._idf(cols))
    return owner, cols.astype(np.int64), np.where(corpus.alive.view[rows[owner]], w, 0.0)


def _text(idx: Indices, batch: NeedBatch, row: int, sel: np.ndarray, X: np.ndarray) -> None:
    inverse = batch._inverse_vocab()
    terms = batch._terms.csr()[sel]
    n_tok = max(len(batch.tokens), 1)

    def to_batch(cols: np.ndarray) -> np.ndarray:
        """Talent term ids → the batch's token columns (-1: no need uses the token)."""
        return np.fromiter((batch.tokens.get(inverse[c], -1) for c in cols.tolist()), np.int64, len(cols))

    _, cols, w = _bm25_weights(idx.sparse.profile, np.array([row]))
    bcols = to_batch(cols)
    vec = np.zeros(n_tok, np.float32)
    vec[bcols[bcols >= 0]] = w[bcols >= 0]
    terms.resize((len(sel), n_tok))
    X[:, _COL["bm25_profile"]] = terms @ vec
    wrows = idx.sparse._work_rows(np.array([row]))[0]
    if len(wrows):
        owner, cols, w = _bm25_weights(idx.sparse.works, wrows)
        bcols = to_batch(cols)
        keep = bcols >= 0
        W = sp.csr_matrix((w[keep], (bcols[keep], owner[keep])), shape=(n_tok, len(wrows)), dtype=np.float32)
        grid = -np.sort(-(terms @ W).toarray(), axis=1)
        X[:, _COL["bm25_works_max"]] = grid[:, 0]
        X[:, _COL["bm25_works_top3"]] = grid[:, :3].sum(axis=1) / 3

    ci = idx.concepts
    crow = np.array([row])
    for name, m, talent_m in (("concept_overlap", batch._concepts, ci._concepts), ("discipline_match", batch._disc,
                                                                                    ci._disc)):  # fmt: skip
        _, cols, vals = talent_m.gather(crow)
        dense = np.zeros(ci.n_cols, np.float32)
        dense[cols] = vals
        q = m.csr()[sel]
        q.resize((len(sel), ci.n_cols))
        X[:, _COL[name]] = q @ dense

    # skill coverage over (need, skill) pairs of the selected needs
    X[:, _COL["skill_coverage"]] = _skill_coverage(idx, batch, row, sel, inverse, n_tok)

    if idx.dense is not None:
        Q = batch._dense_matrix()[sel]
        d = idx.dense
        X[:, _COL["dense_profile"]] = Q @ d._main.view[row]
        start, end = int(d._pstart.view[row]), int(d._pend.view[row])
        if end > start:
            sims = -np.sort(-(Q @ d._parts.view[start:end].T), axis=1)
            X[:, _COL["dense_works_max"]] = sims[:, 0]
            X[:, _COL["dense_works_top3"]] = sims[:, : d.TOP].sum(axis=1) / min(end - start, d.TOP)


def _skill_coverage(idx: Indices, batch: NeedBatch, row: int, sel: np.ndarray, inverse: list[str], n_tok: int
                    ) -> np.ndarray:  # fmt: skip
    owner_all = batch._pair_owner.view
    chosen = np.zeros(len(batch.ids), np.int64) - 1
    chosen[sel] = np.arange(len(sel))
    pairs = np.flatnonzero(chosen[owner_all] >= 0)
    out = np.zeros(len(sel), np.float32)
    if not len(pairs):
        return out
    _, cols, _ = idx.sparse.profile.tf.gather(np.array([row]))
    present = np.zeros(n_tok, np.float32)
    bcols = np.fromiter((batch.tokens.get(inverse[c], -1) for c in cols.tolist()), np.int64, len(cols))
    present[bcols[bcols >= 0]] = 1.0
    pt = batch._pair_terms.csr()[pairs]
    pt.resize((len(pairs), n_tok))
    ntok = batch._pair_ntok.view[pairs]
    covered = (ntok > 0) & (pt @ present == ntok)
    _, ccols, _ = idx.concepts._direct.gather(np.array([row]))
    named = np.zeros(idx.concepts.n_cols, np.float32)
    named[ccols] = 1.0
    pc = batch._pair_concepts.csr()[pairs]
    pc.resize((len(pairs), idx.concepts.n_cols))
    covered |= (pc @ named) > 0
    owner = chosen[owner_all[pairs]]
    hits = np.bincount(owner, weights=covered.astype(np.float64), minlength=len(sel))
    n_skills = batch._col("n_skills")[sel]
    np.divide(hits, n_skills, out=out, where=n_skills > 0, casting="unsafe")
    return out


def _graph(idx: Indices, batch: NeedBatch, talent_id: str, sel: np.ndarray, X: np.ndarray) -> None:
    g = idx.graph
    node = f"talent:{talent_id}"
    X[:, _COL["graph_route_length"]] = ROUTE_CAP + 1
    csr = g._csr()  # first: re-assembling may compact the node numbering
    batch._renumber()
    if node not in g.nx or not (batch._col("node")[sel] >= 0).any():
        return
    need_nodes = batch._col("node")[sel]
    in_graph = need_nodes >= 0
    t_row = int(csr.pos[g._number[node]])
    need_rows = np.where(in_graph, csr.pos[np.maximum(need_nodes, 0)], -1)
    known = need_rows >= 0

    ppr = reverse_ppr(g, t_row)
    X[known, _COL["graph_ppr"]] = ppr[need_rows[known]]

    # concept sets: the talent's (skills, disciplines and their parents) against each need's
    adj = g.nx.adj[node]
    mine = {v for v in adj if _is_concept(v)}
    mine |= {up for v in mine if v.startswith("discipline:") and (up := _up(v))}
    cols = batch.concept_names.known(mine)
    if len(cols):
        names = [k for k in mine if k in batch.concept_names]
        weights = np.zeros(len(batch.concept_names), np.float32)
        weights[batch.concept_names.known(names)] = _adamic_adar_weights(g, csr, names)
        flags = np.zeros(len(batch.concept_names), np.float32)
        flags[cols] = 1.0
        m = batch._graph_concepts.csr()[sel]
        m.resize((len(sel), len(batch.concept_names)))
        X[:, _COL["graph_common_neighbours"]] = np.where(in_graph, m @ flags, 0)
        X[:, _COL["graph_adamic_adar"]] = np.where(in_graph, m @ weights, 0)

    # route length: one capped BFS from the talent, then the nearest of each need's targets
    dist = np.full(csr.adj.shape[0], ROUTE_CAP + 1, dtype=np.float32)
    frontier = np.array([t_row])
    dist[frontier] = 0
    for hop in range(1, ROUTE_CAP + 1):
        reached = np.zeros(len(dist), dtype=bool)
        reached[csr.adj[frontier].indices] = True
        frontier = np.flatnonzero(reached & (dist > hop))
        if not len(frontier):
            break
        dist[frontier] = hop
    targets = batch._targets.csr()[sel]
    tpos = np.asarray(csr.pos)[targets.indices] if targets.nnz else np.zeros(0, np.int64)
    tdist = np.where(tpos >= 0, dist[np.maximum(tpos, 0)], ROUTE_CAP + 1)
    lens = np.diff(targets.indptr)
    has = (lens > 0) & in_graph
    route = np.full(len(sel), ROUTE_CAP + 1, np.float32)
    if has.any():
        mins = np.minimum.reduceat(tdist, targets.indptr[:-1][lens > 0]) if len(tdist) else np.zeros(0)
        route[lens > 0] = mins
        route[~has] = ROUTE_CAP + 1
    X[:, _COL["graph_route_length"]] = route

    incs = [v for v in adj if v.startswith("incubator:") and v in batch.incubators]
    if incs:
        flags = np.zeros(len(batch.incubators), np.float32)
        flags[batch.incubators.known(incs)] = 1.0
        m = batch._inc.csr()[sel]
        m.resize((len(sel), len(batch.incubators)))
        X[:, _COL["graph_incubator_route"]] = np.where(in_graph, (m @ flags) > 0, 0)


def _adamic_adar_weights(g, csr, concepts: list[str]) -> np.ndarray:
    """1 / ln(f) per concept node (0 when f < 2), f = how many talents, needs and incubators hold it in their
    concept set: linked to it, or to a discipline whose parent it is (``TalentGraph._concept_weights``)."""
    out = np.zeros(len(concepts), np.float32)
    for i, c in enumerate(concepts):
        nodes = [c, *(d for d in g.nx.adj[c] if d.startswith("discipline:") and _up(d) == c)]
        rows = csr.pos[[g._number[v] for v in nodes]]
        neigh = csr.adj[rows[rows >= 0]].indices
        f = len(np.unique(neigh[np.isin(csr.kinds[neigh], _OWNER_KINDS)]))
        out[i] = 1.0 / np.log(f) if f >= 2 else 0.0
    return out


def reverse_ppr(g, target_row: int, *, alpha: float = PPR_ALPHA, iters: int = PPR_ITERS, tol: float = PPR_TOL
                ) -> np.ndarray:  # fmt: skip
    """Personalized PageRank mass that a walk restarting at each node leaves on ``target_row``, for every node
    (CSR row order) in one solve: y = (1 - alpha) Wᵀ y + alpha e_t, W the walk of ``TalentGraph.ppr_vector``.

    Column t of (I - (1 - alpha) W)⁻¹ is row t of the transpose, so y[s] is ``ppr_vector(s)[t]``; solved by the
    same block Gauss–Seidel over the record side and the rest, with the transposed walk cached per graph
    version."""
    csr = g._csr()
    key = ("reverse-walk",)
    blocks = g._memo_get(key)
    if blocks is None:
        walk_t = sp.vstack([csr.walk_top, csr.walk_bottom]).T.tocsr()
        blocks = g._memo_put(key, (walk_t[: csr.split], walk_t[csr.split :]))
    restart = np.zeros(csr.adj.shape[0], dtype=np.float32)
    restart[target_row] = alpha
    return solve_ppr(restart, csr.split, blocks, alpha, iters, tol)


def _attributes(batch: NeedBatch, t, row: int, sel: np.ndarray, X: np.ndarray, now: datetime | None) -> None:
    col = lambda name: batch._col(name)[sel]  # noqa: E731
    tier = int(t.tier_rank[row])
    months = int(t.months[row])
    X[:, _COL["tier_gap"]] = tier - col("min_rank")
    X[:, _COL["months_surplus"]] = months - col("need_months")
    X[:, _COL["permit_points"]] = t.permit_points[row]
    X[:, _COL["in_yrd"]] = t.in_yrd[row]
    X[:, _COL["salary_ratio"]] = t.salary[row] / col("budget")
    X[:, _COL["tier_rank"]] = tier
    X[:, _COL["log_h_index"]] = np.log1p(t.h_index[row])
    X[:, _COL["log_publications"]] = np.log1p(t.publications[row])
    X[:, _COL["log_patents"]] = np.log1p(t.patents[row])
    X[:, _COL["honours"]] = t.honours[row]
    X[:, _COL["works"]] = t.n_works[row]
    X[:, _COL["has_incubator"]] = t.has_incubator[row]
    now_day = ((now or datetime.now(UTC)) - EPOCH).total_seconds() / 86400.0
    X[:, _COL["days_since_update"]] = now_day - t.updated_day[row]
    kinds = col("kind")
    for i, k in enumerate(_KINDS):
        X[kinds == i, _COL[f"kind_{k.value}"]] = 1.0


def _fit(batch: NeedBatch, t, row: int, sel: np.ndarray, X: np.ndarray) -> None:
    """``matrix._fit_columns`` turned around: the talent's availability, language and salary fit to each need."""
    col = lambda name: batch._col(name)[sel]  # noqa: E731
    langs = int(t.lang_bits[row])
    speaks = {}
    for code in ("zh", "en"):
        bit = t.language_bits.get(code)
        speaks[code] = -1.0 if langs == 0 else float(bit is not None and (langs & (1 << bit)) != 0)
    X[:, _COL["speaks_zh"]] = speaks["zh"]
    X[:, _COL["speaks_en"]] = speaks["en"]
    X[:, _COL["abroad"]] = t.abroad[row]
    language = np.ones(len(sel), np.float32)
    for code, flag in (("zh", col("needs_zh")), ("en", col("needs_en"))):
        if speaks[code] == 0:
            language = np.where(flag, language * LANGUAGE_GAP[code], language)
    ratio = t.salary_estimate(np.array([row]))[0] / col("budget")
    mode, months, sites = int(t.mode[row]), int(t.months[row]), int(t.sites[row])
    full, short = mode == MODE_CODES[AvailabilityMode.full_time], mode == MODE_CODES[AvailabilityMode.short_term]
    yrd, abroad = int(t.in_yrd[row]), int(t.abroad[row])
    fits = {
        NeedKind.special_researcher: (1.0 if months > 0 else 0.7) if short else (0.5 if full else 0.1),
        NeedKind.enclave: 1.0 if (sites & SITE_BITS[Site.shanghai_enclave]) or t.in_shanghai[row]
        else 0.1 if sites else (0.45 if full else 0.3),
        NeedKind.full_time: 1.0 if full else 0.2,
    }  # fmt: skip
    fits[NeedKind.special_researcher] *= YRD_FIT[0] if yrd == 1 else YRD_FIT[1] if abroad == 1 else 1.0
    kinds = col("kind")
    availability = np.zeros(len(sel), np.float32)
    for kind, value in fits.items():
        availability[kinds == _KINDS.index(kind)] = value
    incubation = kinds == _KINDS.index(NeedKind.incubation_project)
    route, linked = X[:, _COL["graph_incubator_route"]], X[:, _COL["has_incubator"]]
    availability[incubation] = np.where(route > 0, 1.5, np.where(linked > 0, 0.9, 0.7 if full else 0.25))[incubation]
    write_fit(X, ratio, availability, language)
