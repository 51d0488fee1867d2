"""Candidate generation: a wide, cheap union of retrievers, then the hard rules, then a first-stage order.

Each retriever (a component of ``matcher.retrievers``) returns its own top quota: BM25 over profiles, dense
vectors, taxonomy concepts, personalized PageRank from the need, and the incubator route (talents of an overseas
incubator whose focus fits the need, which no text retriever may surface). The union is deduplicated, every
candidate is checked against the eligibility rules (the removed ones keep the first rule they failed, for the
response), and the eligible are ordered by reciprocal-rank fusion of the retrievers and cut to ``k`` for the
LambdaRank re-ranker.

Why reciprocal-rank fusion: on the demo world (5,000 talents, 250 needs, seed 7, dense vectors, default quotas) it
keeps 97.5% of the truly relevant, eligible talents in the first 300 (pooled over needs), against 96.8% when the
pool is ordered by the untrained text blend of the feature matrix, and it needs no feature computed on the whole
pool. The pool itself reaches 97.6% of them; ``bench/bench_rank.py`` measures it again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np

from features.dense import profile_text
from features.eligibility import Eligibility, check, rules, talent_columns
from features.indices import Indices
from features.records import Need, NeedStatus, Site, Talent, Tier, need_text
from features.table import SITE_BITS, NeedTable, TalentTable, han_share, script_overlap
from matcher.retrievers import RETRIEVERS, take

LEXICAL = {r.name: r.lexical for r in RETRIEVERS}
"""Retrievers that find talents by words or names, only within the need's script (see ``_fuse``)."""

RRF_K = 60.0
"""The usual damping of reciprocal-rank fusion: a retriever's rank r adds 1 / (RRF_K + r)."""


@dataclass(frozen=True)
class Quotas:
    """How many talents each retriever contributes before deduplication (0 switches one off)."""

    sparse: int = 400
    dense: int = 400
    concepts: int = 400
    graph: int = 300
    incubator: int = 200

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"Quotas.{f.name} must be an integer >= 0, got {value!r}")


if [r.name for r in RETRIEVERS] != [f.name for f in fields(Quotas)]:
    raise RuntimeError("matcher.retrievers.RETRIEVERS and the fields of Quotas differ; give each retriever its quota")


@dataclass(frozen=True)
class Filters:
    """A recruiter's filters, applied to the candidates before they are cut to ``k``. ``None`` (or empty) means any.

    Codes as in the records: tiers ``A``–``E``, ISO country codes, ISO language codes, a :class:`Site`, incubator ids.
    """

    tiers: frozenset[str] | None = None
    nationalities: frozenset[str] | None = None
    residence_countries: frozenset[str] | None = None
    site: Site | None = None
    languages: frozenset[str] | None = None
    incubators: frozenset[str] | None = None

    def __post_init__(self) -> None:
        if self.tiers and (bad := sorted(set(self.tiers) - {t.value for t in Tier})):
            raise ValueError(f"Filters.tiers: unknown tier(s) {bad}; use letters A to E")
        if self.site is not None and not isinstance(self.site, Site):
            object.__setattr__(self, "site", Site(self.site))

    def mask(self, idx: Indices, talent_ids: Sequence[str]) -> np.ndarray:
        """True where the talent passes every filter. Tier, site and languages are columns of the talent table;
        nationality, residence and incubator are read from the records of these candidates only."""
        t = idx.table
        rows = t.rows(talent_ids)
        safe = np.maximum(rows, 0)
        out = rows >= 0
        if self.tiers:
            ranks = [Tier(x).rank for x in self.tiers]
            out &= np.isin(t.tier_rank[safe], ranks)
        if self.site is not None:
            out &= (t.sites[safe] & SITE_BITS[self.site]) != 0
        if self.languages:
            want = t.lang_mask(sorted(self.languages))
            out &= (t.lang_bits[safe] & want) == want
        for wanted, attr in (
            (self.nationalities, lambda r: r.nationality),
            (self.residence_countries, lambda r: r.residence.country),
            (self.incubators, lambda r: r.incubator_id),
        ):
            if wanted:
                values = np.array([attr(idx.talents[i]) if i in idx.talents else None for i in talent_ids], object)
                out &= np.isin(values, list(wanted))
        return out


@dataclass
class Candidates:
    """The eligible candidates of one need, best first by the first-stage score, and who was removed by which rule.

    ``eligibility`` holds the rule checks of ``talent_ids`` (in that order) so the feature matrix need not redo them;
    ``first_stage`` the fusion score of each; ``filtered`` how many eligible ones the recruiter's filters dropped.
    """

    talent_ids: list[str]
    sources: dict[str, list[str]]
    removed: dict[str, int]
    removed_ids: dict[str, str]
    first_stage: np.ndarray
    eligibility: Eligibility | None = None
    filtered: int = 0
    pool: int = 0
    """Size of the deduplicated union before the rules."""


def prime(idx: Indices, need: Need) -> None:
    """Run ``need``'s retrievers as its ranking will, so that the indices that remember answers (dense, concepts:
    ``features._topk``) hold its own: a snapshot save keeps them (``service.snapshots.prepare``), and a restart's
    first ranking of the need then skips their whole scans (at 100k talents ~15 ms of the dense one)."""
    _run_retrievers(idx, need, Quotas())


def _run_retrievers(idx: Indices, need: Need, quotas: Quotas) -> dict[str, np.ndarray]:
    """Each retriever's talent table rows, best first; retrievers switched off or without an index are absent."""
    out: dict[str, np.ndarray] = {}
    for retriever in RETRIEVERS:
        quota = getattr(quotas, retriever.name)
        if quota and (rows := retriever.run(idx, need, quota)) is not None:
            out[retriever.name] = rows
    return out


def _fuse(lists: dict[str, np.ndarray], table: TalentTable, need: Need) -> tuple[np.ndarray, np.ndarray]:
    """Reciprocal-rank fusion over table rows: (unique rows, fused score), rows in ascending order.

    A talent is scored over the lists that could have found it: lexical retrievers (words, taxonomy names) cannot
    find a profile written in another script, so for such a talent their share of the fusion is spread over the
    others (by ``script_overlap``). Otherwise an English expert ranked first by meaning for a Chinese post would
    sit below anyone who repeats the post's words in Chinese and appears in two or three lists."""
    rows = list(lists.values())
    if not rows or not sum(len(r) for r in rows):
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    flat = np.concatenate(rows)
    weight = np.concatenate([1.0 / (RRF_K + 1.0 + np.arange(len(r))) for r in rows])
    keep = flat >= 0  # an id the table no longer knows (erased since the graph was built)
    uniq, inverse = np.unique(flat[keep], return_inverse=True)
    fused = np.bincount(inverse, weights=weight[keep], minlength=len(uniq))
    lexical = sum(LEXICAL[name] for name in lists)
    if 0 < lexical < len(lists):
        reach = script_overlap(han_share(need_text(need)), table.han[uniq])
        fused *= len(lists) / (len(lists) - (1 - reach) * lexical)
    return uniq, fused.astype(np.float32)


def retrieve(
    idx: Indices, need: Need, *, k: int = 300, quotas: Quotas | None = None, filters: Filters | None = None
) -> Candidates:
    """The ``k`` best eligible candidates of ``need`` by the first stage, with provenance and removals."""
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ValueError(f"retrieve: k must be a positive integer, got {k!r}")
    lists = _run_retrievers(idx, need, quotas or Quotas())
    rows, fused = _fuse(lists, idx.table, need)
    e = check(need, idx.table, rows, idx.ties)
    passed = e.passed
    why = e.removed_by()
    removed = np.flatnonzero(~passed)
    removed_ids = dict(zip(take(idx.table.ids, rows[removed]), why[removed].tolist(), strict=True))
    keep = np.flatnonzero(passed)
    filtered = 0
    if filters is not None:
        ok = filters.mask(idx, take(idx.table.ids, rows[keep]))
        filtered = int((~ok).sum())
        keep = keep[ok]
    keep = keep[np.lexsort((rows[keep], -fused[keep]))][:k]  # ties by table row: deterministic
    return Candidates(
        talent_ids=take(idx.table.ids, rows[keep]),
        sources={name: take(idx.table.ids, r[r >= 0]) for name, r in lists.items()},
        removed=e.removed_counts(),
        removed_ids=removed_ids,
        first_stage=fused[keep],
        eligibility=e.take(keep),
        filtered=filtered,
        pool=len(rows),
    )


def retrieve_needs(idx: Indices, talent: Talent, *, k: int = 20) -> list[tuple[str, float]]:
    """Open needs for a talent, best first: (need id, score), at most ``k``.

    BM25 and dense search over the open needs (``3k`` each, fused by reciprocal rank), then the eligibility rules of
    every fused need against this talent in one broadcast call (``features.eligibility.rules`` over the need table's
    columns). Fewer than ``k`` come back when the talent fits fewer of the needs the text search found.
    """
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ValueError(f"retrieve_needs: k must be a positive integer, got {k!r}")
    lists = [list(idx.need_sparse.search(talent, 3 * k)[0])]
    if idx.need_dense is not None and len(idx.need_dense):
        lists.append(idx.need_dense.search(profile_text(talent), 3 * k)[0])
    row = idx.table.rows([talent.id])
    if row[0] < 0:
        raise LookupError(f"talent {talent.id!r} is not indexed; add it with Indices.add_talent before matching")
    score: dict[str, float] = {}
    for ids in lists:
        for r, nid in enumerate(ids):
            score[nid] = score.get(nid, 0.0) + 1.0 / (RRF_K + 1.0 + r)
    fused = [nid for nid, _ in sorted(score.items(), key=lambda kv: (-kv[1], kv[0]))]
    fused = [nid for nid in fused if (n := idx.needs.get(nid)) is not None and n.status is NeedStatus.open]
    if not fused:
        return []
    need_rows = idx.need_table.rows(fused)
    talent_cols, alive = talent_columns(idx.table, row)
    need_cols = idx.need_table.gather(need_rows, NeedTable.COLUMNS)
    ok = rules(need_cols, talent_cols, alive, need_rows).passed & (need_rows >= 0)
    ok &= idx.ties.allows(talent.id, row, idx.table, fused, idx.needs)  # the conflict rule
    return [(nid, score[nid]) for nid in take(fused, np.flatnonzero(ok)[:k])]
