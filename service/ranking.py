"""The service side of ranking: a short-lived cache of whole rankings, and pages that carry the feature rows and
contributions the decision receipt keeps (the serving model is ``service.models``).

The ranking itself is ``matcher.pipeline``'s, in its two steps: ``rank_pool`` (the re-ranked pool with its feature
rows) is cached here, and ``page`` (reasons and contributions for one page) is memoised in the cache entry.

The cache holds a need's whole re-ranked pool (ids, scores, feature rows) for a while, keyed by the need's content, the
filters and the model; pages (reasons and contributions) are memoised in the entry. A recruiter paging or refreshing,
and many users looking at the same post, pay for the ranking once. Any talent or need added or changed makes an entry
stale (it records the indices' sizes it was computed on): by default the next request ranks afresh;
``TALENTMATCH_RANK_CACHE_FRESH_SECONDS`` lets a stale entry serve that many seconds from its computation, which keeps
the cache useful under a steady stream of writes. A ranking afresh on indices nothing was written to since the
key's last ranking (the cache off, or the entry aged out) scores the last one's candidates and feature rows anew
(``matcher.pipeline.Inputs``) instead of retrieving and building them again: the same ranking, and at 100k talents
0.2 ms instead of 10 for that part. An erasure takes the talent out of every entry at once (no erased
talent may linger in memory) and leaves the rest serving. What the sizes do not see (another need's or an incubator's
edit shifting graph proximity) lasts at most the cache's lifetime (``TALENTMATCH_RANK_CACHE_SECONDS``, a minute by
default). The cache is bounded by entries and by estimated bytes (``TALENTMATCH_RANK_CACHE_ENTRIES``,
``TALENTMATCH_RANK_CACHE_BYTES``), least recently used out. Beside it, the model's contributions (TreeSHAP, a page's
costly part) are memoised per talent and the side of every split its row takes (``matcher.splits``), at most
``SHAP_ROWS`` rows: a ranking computed afresh after a write, whose rows all moved a little, reuses those of the rows
that crossed no threshold.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING

import numpy as np
import orjson

from features.indices import Indices
from features.records import Need, NeedKind, Site
from features.schema import SCHEMA
from features.snapshot import stamps
from matcher import pipeline
from matcher.pipeline import Pool
from matcher.reasons import Reason
from matcher.retrieve import Filters
from service import db

if TYPE_CHECKING:  # LightGBM and scikit-learn load with the champion, after start-up: importing them starts a
    # jemalloc thread, and the index build forks tokeniser workers, which must not happen in a process with threads
    from matcher.ranker import Scorer

CACHE_SECONDS = 60.0
"""Default of ``TALENTMATCH_RANK_CACHE_SECONDS``."""
CACHE_ENTRIES = 512
"""Default of ``TALENTMATCH_RANK_CACHE_ENTRIES``."""
CACHE_BYTES = 64 << 20
"""Default of ``TALENTMATCH_RANK_CACHE_BYTES``: about 40 kB per pool (300 feature rows of 31 float32 plus ids) and
some 2 kB per memoised candidate row."""
MAX_K = 100
SHAP_AHEAD = 40
"""Rows past a page whose contributions are computed with it (two more pages of 20), while rankings are cached:
with the cache off (``ttl`` 0) the next page is ranked afresh, its rows (their freshness column moves with the clock)
are new, and rows computed ahead would be TreeSHAP (~0.25 ms a row at 100 trees of 31 leaves) for nothing."""
SHAP_ROWS = 30_000
"""Contribution rows memoised across rankings (some 0.5 kB each with the key: about 15 MB)."""
PERSONS_POOLS = 256
"""Pools whose person links are remembered (``RankCache.remember_persons``): a pool's ids, some 1,500 references,
~60 kB each with its set: about 15 MB."""


# --- whole rankings and their pages -------------------------------------------------------------------------------


@dataclass
class FullRanking(Pool):
    """A cached ``matcher.pipeline.Pool`` with its served pages memoised."""

    pages: dict[tuple[int, int], list[PageRow]] = field(default_factory=dict)
    stored_pages: set[str] = field(default_factory=set)
    """Pages whose details (features, contributions, reasons) a receipt has already stored (``service.receipts``)."""
    receipts: dict[tuple, str] = field(default_factory=dict)
    """Receipt id per (page, key, route, need, params) already stored: serving the same cached page to the same key
    again reuses it instead of writing another receipt (``service.api.rankings``)."""
    nbytes: int = 0
    """Estimated memory held (pool and memoised pages), for the cache's byte bound."""
    page_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    stamps: list[object] = field(default_factory=list, repr=False)
    """The stamps (``features.snapshot.stamps``) of the talent records the rows were computed for: a row whose
    talent's stamp is unchanged is reused by the next ranking of the key (``RankCache.get_or_rank``)."""
    rows_at: float = 0.0
    """When (``time.monotonic``) the oldest of its rows was computed: reuse stops at the cache's lifetime."""

    @classmethod
    def of(cls, pool: Pool) -> FullRanking:
        full = cls(**{f.name: getattr(pool, f.name) for f in fields(Pool)})
        full.nbytes = _pool_bytes(full)
        return full

    def without(self, talent_id: str) -> FullRanking:
        """This ranking with ``talent_id`` gone (an erasure): its row out of the pool and of the rule counts, pages
        from its position on forgotten (they shift; pages before it stay, with their receipts)."""
        removed, removed_ids = dict(self.removed), dict(self.removed_ids)
        if (rule := removed_ids.pop(talent_id, None)) is not None:
            removed[rule] = removed.get(rule, 1) - 1
            if not removed[rule]:
                del removed[rule]
        keep = np.array([i != talent_id for i in self.ids], dtype=bool)
        at = int(np.argmin(keep)) if not keep.all() else len(self.ids)
        out = FullRanking.of(
            replace(
                Pool(**{f.name: getattr(self, f.name) for f in fields(Pool)}),
                ids=[i for i in self.ids if i != talent_id],
                scores=self.scores[keep],
                X=self.X[keep],
                promoted=self.promoted[keep] if self.promoted is not None else None,
                teams=[t for t, k in zip(self.teams, keep, strict=True) if k] if self.teams is not None else None,
                removed=removed,
                removed_ids=removed_ids,
                ties={i: tie for i, tie in self.ties.items() if i != talent_id},
                pool=self.pool - (not keep.all() or rule is not None),
                inputs=None,  # they hold the talent's row, and no longer serve (the erasure changed the version)
            )
        )
        out.stamps = [t for t, k in zip(self.stamps, keep, strict=True) if k]
        out.rows_at = self.rows_at
        out.pages = {key: rows for key, rows in self.pages.items() if key[0] + key[1] <= at}
        kept = {rows[0].page_id for rows in out.pages.values() if rows}
        out.stored_pages = self.stored_pages & kept
        out.receipts = {key: rid for key, rid in self.receipts.items() if key[0] in kept}
        out.nbytes += sum(_page_bytes(rows) for rows in out.pages.values())
        return out


def _pool_bytes(pool: Pool) -> int:
    ids = sum(len(i) + 56 for i in pool.ids)  # a short str object each, plus the list slot
    inputs = 0
    if (held := pool.inputs) is not None:  # the rows again, in retrieval order, and the retrievers' lists
        inputs = held.X.nbytes + 8 * (sum(map(len, held.cands.sources.values())) + 2 * len(held.cands.removed_ids))
    return int(pool.X.nbytes + pool.scores.nbytes + ids + inputs + 1024)


def _page_bytes(rows: list[PageRow]) -> int:
    return sum(r.features.nbytes + r.contributions.nbytes + 2 * len(r.receipt_detail) + 512 for r in rows)


@dataclass
class PageRow:
    """One returned candidate, with what the response and the receipt need serialised once (pages are memoised,
    so a cached page costs no reasons, contributions or JSON work)."""

    page_id: str
    position: int
    talent_id: str
    score: float
    reasons: list[Reason]
    human_review: bool
    features: np.ndarray
    contributions: np.ndarray
    """One value per feature plus the bias (the model's TreeSHAP values, or the text blend's shares)."""
    reason_dicts: list[dict] = field(init=False)
    receipt_detail: str = field(init=False)
    """The receipt's JSON for this row (reasons, review flag, named feature row and contributions)."""
    cards: dict[bool, dict] = field(default_factory=dict)
    """Candidate card JSON by ``reveal`` (see ``service.api.cards``), filled by the API on first use."""
    team: str | None = None
    """The model's team that drafted this row in an interleaved ranking (``matcher.interleaving``); the receipt keeps
    it, the page never shows it."""

    def __post_init__(self) -> None:
        self.reason_dicts = [{"code": r.code, "en": r.en, "zh": r.zh, "weight": r.weight} for r in self.reasons]
        names = SCHEMA.names
        self.receipt_detail = orjson.dumps(
            {
                "reasons": self.reason_dicts,
                "human_review": self.human_review,
                "features": dict(zip(names, _json_floats(self.features), strict=True)),
                "contributions": dict(zip([*names, "bias"], _json_floats(self.contributions), strict=True)),
            }
        ).decode()


def _json_floats(values: np.ndarray) -> list[float]:
    """Rounded to 6 decimals; orjson writes NaN as ``null`` (a post without a salary budget leaves ``salary_ratio``
    undefined)."""
    return np.round(values.astype(np.float64), 6).tolist()


def page(
    full: FullRanking, idx: Indices, k: int, offset: int, contributions: np.ndarray | None = None
) -> list[PageRow]:
    """Rows ``offset .. offset + k`` (``matcher.pipeline.page``, with the page's ``contributions`` when known),
    memoised in ``full``."""
    key = (offset, k)
    if (rows := full.pages.get(key)) is not None:
        return rows
    page_id = db.new_id()
    rows = [
        PageRow(
            page_id=page_id,
            position=c.position,
            talent_id=c.talent_id,
            score=c.score,
            reasons=c.reasons,
            human_review=c.human_review,
            features=c.features,
            contributions=c.contributions,
            team=full.teams[c.position] if full.teams is not None else None,
        )
        for c in pipeline.page(full, idx, k, offset, contributions=contributions)
    ]
    full.pages[key] = rows
    full.nbytes += _page_bytes(rows)
    return rows


class RankCache:
    """Whole rankings by (need content, filters, model), least recently used out, ``ttl`` seconds, at most
    ``entries`` entries and ``max_bytes`` estimated bytes (pools and the pages memoised in them). After a write an
    entry is reused for at most ``fresh`` seconds from when it was computed (0: never). ``persons``: one card per
    person (``matcher.pipeline.rank_pool``); with ``remember_persons`` what it answers for a pool is reused until
    persons change, a need ranked again and again on unchanged indices reading the store's person links once, not
    once a request (~1.5 ms for a 100k pool of ~1,500 records). This process's merges, splits and erasures forget
    those answers at once (``clear``, ``erase_talent``), another process's when the journal brings them
    (``service.sync``: within ``TALENTMATCH_SYNC_SECONDS``, as its writes show). Without (a process that does not
    follow the journal) every ranking reads them.

    Rankings and pages are computed one at a time per process, whatever their key: they are CPU-bound Python and
    numpy under one GIL, so concurrent ones only interleave, handing the GIL back and forth around every numpy call.
    Measured at 100k talents with 4 clients on one server process: 24–30 ms of CPU a ranking interleaved against
    19–23 ms one at a time, and a lower p99 (README, Scale). Several processes (``serve --workers``) use the
    cores."""

    def __init__(
        self,
        ttl: float = CACHE_SECONDS,
        entries: int = CACHE_ENTRIES,
        policy: pipeline.Policy = pipeline.NO_POLICY,
        max_bytes: int = CACHE_BYTES,
        fresh: float = 0.0,
        persons: pipeline.PersonsOf | None = None,
        remember_persons: bool = False,
    ) -> None:
        self.ttl, self.entries, self.policy, self.max_bytes = ttl, entries, policy, max_bytes
        self.fresh, self.persons, self.remember_persons = fresh, persons, remember_persons
        self._links: OrderedDict[frozenset[str], Mapping[str, str]] = OrderedDict()
        """A pool's person links by its ids (``remember_persons``)."""
        self._links_epoch = 0
        """Moves at every ``clear`` and erasure: an answer read before one is not kept after it."""
        self._items: OrderedDict[tuple, tuple[float, tuple[int, ...], FullRanking]] = OrderedDict()
        self._counted: dict[int, int] = {}
        """Each entry's bytes as counted in ``_bytes``, by its ranking's ``id`` (an entry's ranking is its own)."""
        self._bytes = 0
        """The entries' bytes, kept as they change: summing them at every ranking read ~50 entries' objects, cold
        (~0.08 ms of a page)."""
        self._running: dict[tuple, threading.Event] = {}
        self._computing = threading.Lock()
        """Held while a ranking or a page is computed (see the class doc)."""
        self._lock = threading.Lock()
        self._shap: OrderedDict[tuple[str, str, bytes], np.ndarray] = OrderedDict()
        """TreeSHAP rows by (model version, talent, the side of every split the row takes: ``Scorer
        .explanation_keys``): a row's contributions depend on nothing else, and a re-ranking after a write, whose
        feature rows all moved a little, finds most of them again."""

    def __len__(self) -> int:
        return len(self._items)

    @property
    def nbytes(self) -> int:
        """Estimated bytes the entries hold now."""
        with self._lock:
            return self._bytes

    def page(self, full: FullRanking, idx: Indices, k: int, offset: int) -> list[PageRow]:
        """``page`` (one page of an entry computed at a time: concurrent requests for it wait and share it), then
        the bounds re-applied (a memoised page makes its entry larger)."""
        if (rows := full.pages.get((offset, k))) is not None:
            return rows
        with full.page_lock, self._computing:
            before = full.nbytes
            rows = page(full, idx, k, offset, self._contributions(full, k, offset))
        if full.nbytes != before:
            with self._lock:
                if id(full) in self._counted:  # still an entry
                    self._count(full)
                self._evict()
        return rows

    def _contributions(self, full: FullRanking, k: int, offset: int) -> np.ndarray | None:
        """The model's contributions for rows ``offset .. offset + k`` of ``full`` from the memo; the rows missing
        there, and, while rankings are cached, the next ``SHAP_AHEAD`` rows' (the pages a recruiter reads next), in
        one TreeSHAP call, which costs far less than one call per page. ``None`` for the text blend (cheap, computed
        with the page)."""
        scorer, n = full.scorer, len(full.ids)
        if scorer is None or offset >= n:
            return None
        rows = range(offset, min(n, offset + k))
        ahead = range(rows.stop, min(n, rows.stop + SHAP_AHEAD)) if self.ttl > 0 else range(0)
        wanted = [*rows, *ahead]
        keys = {
            i: (scorer.version, full.ids[i], side)
            for i, side in zip(wanted, scorer.explanation_keys(full.X[wanted]), strict=True)
        }
        with self._lock:
            got = {i: v for i, key in keys.items() if (v := self._shap.get(key)) is not None}
            for i in got:
                self._shap.move_to_end(keys[i])
        if missing := [i for i in rows if i not in got]:
            missing += [i for i in ahead if i not in got]
            values = scorer.contributions(full.X[missing])
            got |= dict(zip(missing, values, strict=True))
            with self._lock:
                self._shap.update((keys[i], got[i]) for i in missing)
                while len(self._shap) > SHAP_ROWS:
                    self._shap.popitem(last=False)
        return np.stack([got[i] for i in rows])

    def _evict(self) -> None:
        """Least recently used out until both bounds hold (the newest entry always stays: it is being served)."""
        while len(self._items) > 1 and (len(self._items) > self.entries or self._bytes > self.max_bytes):
            _, (_, _, full) = self._items.popitem(last=False)
            self._uncount(full)

    def _put(self, key: tuple, entry: tuple[float, tuple[int, ...], FullRanking]) -> None:
        """Store (or replace, in its place) an entry, its bytes counted (under ``_lock``)."""
        if (old := self._items.get(key)) is not None:
            self._uncount(old[2])
        self._items[key] = entry
        self._count(entry[2])

    def _count(self, full: FullRanking) -> None:
        self._bytes += full.nbytes - self._counted.get(id(full), 0)
        self._counted[id(full)] = full.nbytes

    def _uncount(self, full: FullRanking) -> None:
        self._bytes -= self._counted.pop(id(full))

    @staticmethod
    def key(
        need: Need, scorer: Scorer | None, filters: Filters | None, challenger: Scorer | None = None, seed: int = 0
    ) -> tuple:
        """An interleaved ranking is its own entry (its challenger's version and coin-flip seed in the key): the same
        need ranked by the champion alone (an enterprise's request), or for another key's coins, is another list."""
        versions = tuple(m.version for m in (scorer, challenger) if m is not None)
        return need.model_dump_json(), filters, *versions, *((seed,) if challenger is not None else ())

    @staticmethod
    def generation(idx: Indices) -> tuple[int, ...]:
        """What changes with every write the ranking would see: rows ever added (a talent added or replaced),
        talents (an erasure), needs, incubators and the conflict rule's ties (relations, enterprise names)."""
        return len(idx.table), len(idx.talents), len(idx.needs), len(idx.incubators), idx.ties.writes

    def cached(
        self,
        idx: Indices,
        need: Need,
        scorer: Scorer | None,
        filters: Filters | None,
        challenger: Scorer | None = None,
        seed: int = 0,
    ) -> FullRanking | None:
        """The live entry, or ``None``: younger than ``ttl``, and computed on the current indices or, after writes,
        younger than ``fresh`` (erasures clear the cache: no erased talent is ever served from it)."""
        if self.ttl <= 0:  # the cache is off (its entries only lend ``get_or_rank`` their inputs)
            return None
        return self._live(self.key(need, scorer, filters, challenger, seed), idx)

    def _live(self, key: tuple, idx: Indices) -> FullRanking | None:
        """``cached`` by its key."""
        with self._lock:
            hit = self._items.get(key)
            if hit is None:
                return None
            at, generation, full = hit
            age = time.monotonic() - at
            if age >= self.ttl or (generation != self.generation(idx) and age >= self.fresh):
                return None
            self._items.move_to_end(key)
            return full

    def get_or_rank(
        self,
        idx: Indices,
        need: Need,
        scorer: Scorer | None,
        filters: Filters | None,
        challenger: Scorer | None = None,
        seed: int = 0,
    ) -> FullRanking:
        """The cached ranking, or one computed now. One computation per key at a time: requests for a ranking
        already being computed wait for it (a popular need whose entry went stale is ranked once, not once per
        request in flight). ``challenger`` and ``seed``: an interleaved ranking (``matcher.pipeline.rank_pool``),
        cached under its seed."""
        key = self.key(need, scorer, filters, challenger, seed)
        while True:
            if self.ttl > 0 and (full := self._live(key, idx)) is not None:
                return full
            with self._lock:
                running = self._running.get(key)
                if running is None:
                    running = self._running[key] = threading.Event()
                    break
            running.wait()  # then look again: kept unless the indices changed meanwhile
        try:
            with self._computing:
                generation, now = self.generation(idx), time.monotonic()
                last, known, rows_at = self._reusable(key, idx, now)
                pool = pipeline.rank_pool(idx, need, scorer=scorer, filters=filters, policy=self.policy, known=known,
                                          challenger=challenger, seed=seed,
                                          persons=self._persons_of if self.persons is not None else None,
                                          inputs=last.inputs if last is not None else None)  # fmt: skip
            full = FullRanking.of(pool)
            if last is not None and pool.inputs is last.inputs and full.ids == last.ids:
                full.stamps = last.stamps  # the inputs held: nothing was written since, so every record is the same
            else:
                full.stamps = stamps(idx.talents, full.ids)
            full.rows_at = rows_at
            if last is not None:
                _carry_pages(last, full)
            if self.generation(idx) == generation:  # else the indices changed meanwhile (an erasure, say): not kept
                with self._lock:
                    self._put(key, (now, generation, full))
                    self._items.move_to_end(key)
                    self._evict()
            return full
        finally:
            with self._lock:
                self._running.pop(key).set()

    def _persons_of(self, ids: Sequence[str]) -> Mapping[str, str]:
        """``persons`` for a pool's ids, as answered for the same ids since persons last changed."""
        pool = frozenset(ids)
        with self._lock:
            hit, epoch = self._links.get(pool), self._links_epoch
            if hit is not None:
                self._links.move_to_end(pool)
                return hit
        got = self.persons(ids)  # type: ignore[misc]
        if self.remember_persons:
            with self._lock:
                if epoch == self._links_epoch:
                    self._links[pool] = got
                    self._links.move_to_end(pool)
                    while len(self._links) > PERSONS_POOLS:
                        self._links.popitem(last=False)
        return got

    def _reusable(
        self, key: tuple, idx: Indices, now: float
    ) -> tuple[FullRanking | None, dict[str, np.ndarray], float]:
        """The key's last ranking, if any; while the oldest of its rows is younger than ``ttl``, its feature rows
        whose talents no write has touched since (the same record object is still indexed), and when the oldest of
        those was computed. Retrieval, rules and scores run afresh; the rows (and so their memoised contributions)
        carry over. Whatever its age (the cache off too), the last ranking lends its candidates and rows when nothing
        was written since (``matcher.pipeline.Inputs``: exactly what retrieval and the feature matrix would give), and
        the pages that come out the same (``_carry_pages`` compares every input of a page): a need ranked again and
        again on unchanged indices does not retrieve, or build and store the same reasons and receipt details, each
        time."""
        with self._lock:
            hit = self._items.get(key)
        if hit is None:
            return None, {}, now
        last = hit[2]
        if now - last.rows_at >= self.ttl:
            return last, {}, now
        now_stamps = stamps(idx.talents, last.ids)
        known = {
            tid: last.X[i]
            for i, (tid, was, is_) in enumerate(zip(last.ids, last.stamps, now_stamps, strict=True))
            if was is not None and is_ is was
        }
        return last, known, last.rows_at if known else now

    def clear(self) -> None:
        """Forget every entry and every person read (the office merged or split persons: every ranking may show
        other cards now)."""
        with self._lock:
            self._items.clear()
            self._counted.clear()
            self._bytes = 0
            self._links.clear()
            self._links_epoch += 1

    def erase_talent(self, talent_id: str, names: Sequence[str] = ()) -> None:
        """An erasure, at once: every entry ranking ``talent_id`` loses their row (``FullRanking.without``), and an
        entry whose request text names them (a free-text search) goes, as do their memoised contributions. The rest
        keeps serving: an erasure is one write among many (its entries still age by ``fresh``), not a reason to rank
        everything afresh."""
        with self._lock:
            self._links.clear()  # the erased record's person may now be another's alone
            self._links_epoch += 1
            for key in [key for key in self._shap if key[1] == talent_id]:
                del self._shap[key]
            for key, (at, generation, full) in list(self._items.items()):
                if any(n in key[0] for n in names):
                    del self._items[key]
                    self._uncount(full)
                elif talent_id in full.ids or talent_id in full.removed_ids:
                    self._put(key, (at, generation, full.without(talent_id)))


def _carry_pages(last: FullRanking, full: FullRanking) -> None:
    """Pages of ``last`` that come out the same in ``full`` (the same talents, records, feature rows, scores and
    policy marks at the same places) keep their rows: reasons, cards and the receipt details already stored are not
    made again (a new receipt still names the page, with this ranking's summary)."""
    for (offset, k), rows in last.pages.items():
        end = offset + len(rows)
        if not rows or len(rows) != min(k, len(full.ids) - offset):
            continue
        here = slice(offset, end)
        was, now = last.promoted, full.promoted
        if (
            full.ids[here] == last.ids[here]
            and all(a is b for a, b in zip(full.stamps[here], last.stamps[here], strict=True))
            and np.array_equal(full.scores[here], last.scores[here])
            and np.array_equal(full.X[here], last.X[here], equal_nan=True)
            and ((was is None and now is None) or (was is not None and now is not None and (was == now)[here].all()))
            and (last.teams or [])[here] == (full.teams or [])[here]
        ):
            full.pages[(offset, k)] = rows
            full.stored_pages |= last.stored_pages & {rows[0].page_id}
            full.nbytes += _page_bytes(rows)


# --- free-text search ---------------------------------------------------------------------------------------------


def search_need(text: str, kind: NeedKind, site: Site | None) -> Need:
    """The ad-hoc need a free-text search ranks for: the text as title and description, the hard rules of a post of
    ``kind`` at ``site``. Its id is derived from the content and starts with ``search-``; it is never stored, and no
    graph node has it, so graph features stay empty, as for any post nobody has acted on."""
    digest = hashlib.sha256(f"{kind}|{site}|{text}".encode()).hexdigest()[:16]
    return Need(id=f"search-{digest}", title=text[:2000], description=text, kind=kind, site=site or Site.jiaxing)
