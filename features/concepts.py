"""The bilingual concept layer: free text in Chinese or English mapped onto one space of taxonomy codes.

A Chinese need and an English profile share few tokens, but both name the same things: NSFC disciplines (Chinese
and English names), the city's industries, and common technical skills (a curated bilingual list shipped in
``data/skill_terms.jl``). Matching those names in text puts both sides on the same concept ids —
``discipline:F0201``, ``industry:ai``, ``skill:deep_learning`` — where cosine overlap is language-blind.

Concept columns are a fixed vocabulary (every code, industry and skill), so matrices from different builds share
columns and appending a talent never reshapes anything.
"""

from __future__ import annotations

import json
import os
import re
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import cache
from importlib import resources
from multiprocessing import get_context
from typing import TypeVar

import ahocorasick
import numpy as np
import scipy.sparse as sp

from features._growable import GrowableCSR, GrowableVector, RowMap, erase_rows, ranges
from features._topk import TopMemo
from features.records import Need, Talent, need_text, talent_text
from features.taxonomy import INDUSTRY_NAMES, disciplines

S = TypeVar("S")
T = TypeVar("T")

PARENT_WEIGHT = 0.5
"""Weight of a discipline's parent relative to the code itself (grandparent: its square), so F020101 and F020102
meet on F0201 — but less than on the same code."""
BROADER_WEIGHT = 0.5
"""Weight of a skill's broader skill (钙钛矿太阳能电池 → 钙钛矿 and 太阳能电池)."""
INDUSTRY_WEIGHT = 0.3
"""Weight of the industry a skill belongs to: a weak hint, since industries are broad."""
STRUCTURED_WEIGHT = 2.0
"""Weight of a record's own discipline codes and industry: curated by a person, stronger than a text match."""

_NON_WORD = re.compile(r"[^0-9a-z+#\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
_SPLIT_ZH = re.compile(r"[、，,；;：:/（）()\s]|与|和|及")
_SPLIT_EN = re.compile(r",|;|/|\(|\)| and | or ")
_LEADING_ARTICLE = re.compile(r"^(a|an|the) ")

_GENERIC = frozenset(
    {
        "其他",
        "其它",
        "设计与制备",
        "基础理论",
        "新理论",
        "新方法",
        "应用",
        "理论",
        "方法",
        "技术",
        "研究",
        "other",
        "others",
        "design and preparation",
        "theory",
        "theories",
        "application",
        "applications",
        "method",
        "methods",
        "technology",
        "technologies",
        "research",
        "basic theory",
        "new method",
        "new methods",
        "new theory",
        "design",
        "preparation",
        "system",
        "systems",
        "material",
        "materials",
        "control",
        "testing",
        "structure",
        "mechanism",
        "evaluation",
        "process",
        "analysis",
        "model",
        "models",
        "devices",
        "device",
        "engineering",
        "science",
        "basic",
        "d",
    }
)
"""Names too generic to mean one concept (the English ones are mostly machine-translation noise)."""


def normalize(text: str) -> str:
    """Lower-case, fold full-width forms (NFKC) and turn every run of punctuation or space into one space, so
    names and text compare on the same footing; keeps ``+`` and ``#`` for c++ and c#."""
    return _NON_WORD.sub(" ", unicodedata.normalize("NFKC", text).lower()).strip()


def _is_cjk(s: str) -> bool:
    return any("\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" for ch in s)


def _keep(surface: str, whole: bool) -> bool:
    """Whether a name (or a part of one) is specific enough to stand for its concept."""
    if not surface or surface in _GENERIC or surface.startswith(("其他", "其它", "other ")):
        return False
    if _is_cjk(surface):
        return len(surface) >= (2 if whole else 3)
    words = surface.split()
    return len(words) >= 2 or (len(surface) >= (4 if whole else 6))


def _discipline_surfaces(name_zh: str, name_en: str) -> set[str]:
    out: set[str] = set()
    zh = normalize(name_zh).replace(" ", "")
    if _keep(zh, True):
        out.add(zh)
    for part in _SPLIT_ZH.split(name_zh):
        part = normalize(part).replace(" ", "")
        if _keep(part, False):
            out.add(part)
    en = _LEADING_ARTICLE.sub("", normalize(name_en))
    if _keep(en, True):
        out.add(en)
    for part in _SPLIT_EN.split(name_en.lower()):
        part = _LEADING_ARTICLE.sub("", normalize(part))
        if _keep(part, False):
            out.add(part)
    return out


def _plural(name: str) -> str:
    """English plural of a name's last word (battery → batteries, process → processes, cell → cells)."""
    if name.endswith(("ss", "x", "ch", "sh")):
        return name + "es"
    if name.endswith("s"):
        return name
    if name.endswith("y") and len(name) > 1 and name[-2] not in "aeiou":
        return name[:-1] + "ies"
    return name + "s" if name[-1].isalpha() else name


@cache
def skill_terms() -> list[dict]:
    """The curated bilingual skill list (``data/skill_terms.jl``): id, zh, en, industry, broader."""
    text = resources.files("features.data").joinpath("skill_terms.jl").read_text(encoding="utf-8")
    return _check_skill_terms([(i, json.loads(line)) for i, line in enumerate(text.splitlines(), 1) if line.strip()])


def _check_skill_terms(rows: list[tuple[int, dict]]) -> list[dict]:
    """Validate the curated list so an edit mistake names its line instead of failing deep in the mapper."""
    ids = [r.get("id") for _, r in rows]
    known_industries = {i.value for i in INDUSTRY_NAMES}
    for line, r in rows:
        where = f"features/data/skill_terms.jl line {line}"
        if not r.get("id") or ids.count(r["id"]) > 1:
            raise ValueError(f"{where}: every term needs a unique 'id' (got {r.get('id')!r})")
        if not (r.get("zh") or r.get("en")):
            raise ValueError(f"{where}: term {r['id']!r} needs at least one 'zh' or 'en' name")
        if r.get("industry") and r["industry"] not in known_industries:
            raise ValueError(f"{where}: unknown industry {r['industry']!r}; use one of {sorted(known_industries)}")
        missing = [b for b in r.get("broader", []) if b not in ids]
        if missing:
            raise ValueError(f"{where}: 'broader' names unknown term id(s) {missing}; add them or fix the spelling")
    return [r for _, r in rows]


def ancestors(code: str) -> list[str]:
    """A discipline code's parents, nearest first (F020101 → [F0201, F02])."""
    tree = disciplines()
    out: list[str] = []
    parent = tree[code].parent if code in tree else None
    while parent:
        out.append(parent)
        parent = tree[parent].parent
    return out


QUERIES = 512
"""Needs whose expanded concepts ``ConceptMapper.query_concepts`` keeps (3,146 float32 each: ~6 MB)."""


class ConceptMapper:
    """Maps text in either language onto concept ids by Aho–Corasick matching of every concept's names.

    Leftmost-longest matching: 钙钛矿太阳能电池 counts as that skill, not also as 钙钛矿 (its broader skill then
    adds 钙钛矿 at lower weight). English names must sit on word boundaries and also match with a plural ``s``.
    """

    def __init__(self) -> None:
        columns: list[str] = [f"discipline:{c}" for c in disciplines()]
        columns += [f"industry:{i.value}" for i in INDUSTRY_NAMES]
        terms = skill_terms()
        columns += [f"skill:{t['id']}" for t in terms]
        self.columns: list[str] = columns
        self.column: dict[str, int] = {c: i for i, c in enumerate(columns)}

        surfaces: dict[str, set[int]] = {}

        def add(surface: str, col: int) -> None:
            surfaces.setdefault(surface, set()).add(col)
            if not _is_cjk(surface):
                surfaces.setdefault(_plural(surface), set()).add(col)

        for d in disciplines().values():
            for s in _discipline_surfaces(d.name_zh, d.name_en):
                add(s, self.column[f"discipline:{d.code}"])
        for ind, (zh, en) in INDUSTRY_NAMES.items():
            for s in (normalize(zh).replace(" ", ""), normalize(en), ind.value.replace("_", " ")):
                add(s, self.column[f"industry:{ind.value}"])
        for t in terms:
            for s in t["zh"] + t["en"]:
                add(normalize(s), self.column[f"skill:{t['id']}"])

        # Implied concepts of each column (itself weight 1): discipline parents, broader skills, a skill's industry.
        implied: list[dict[int, float]] = [{i: 1.0} for i in range(len(columns))]
        for code in disciplines():
            row = implied[self.column[f"discipline:{code}"]]
            for depth, parent in enumerate(ancestors(code), start=1):
                row[self.column[f"discipline:{parent}"]] = PARENT_WEIGHT**depth
        for t in terms:
            row = implied[self.column[f"skill:{t['id']}"]]
            for b in t.get("broader", []):
                row[self.column[f"skill:{b}"]] = max(row.get(self.column[f"skill:{b}"], 0.0), BROADER_WEIGHT)
            if t.get("industry"):
                row[self.column[f"industry:{t['industry']}"]] = INDUSTRY_WEIGHT
        r = np.repeat(np.arange(len(implied)), [len(x) for x in implied])
        c = np.fromiter((k for x in implied for k in x), dtype=np.int64)
        v = np.fromiter((w for x in implied for w in x.values()), dtype=np.float32)
        self.implied: sp.csr_matrix = sp.csr_matrix((v, (r, c)), shape=(len(columns), len(columns)))
        """Column → implied columns with weights (identity plus ancestors, broader skills, industries)."""

        self._automaton = ahocorasick.Automaton()
        for surface, cols in surfaces.items():
            ordered = tuple(sorted(cols))
            # (length, columns, weights, check the start's word boundary, check the end's)
            self._automaton.add_word(
                surface,
                (
                    len(surface),
                    ordered,
                    (1.0 / len(ordered),) * len(ordered),
                    surface[0] in _ALNUM,
                    surface[-1] in _ALNUM,
                ),
            )
        self._automaton.make_automaton()
        self._queries: OrderedDict[object, np.ndarray] = OrderedDict()
        self._queries_lock = threading.Lock()

    @property
    def n_columns(self) -> int:
        return len(self.columns)

    def match(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Directly named concepts of ``text``: (columns, weights), one entry per match (a name shared by n
        concepts gives each 1/n). No implied concepts here."""
        norm = f" {normalize(text)} "  # padded: every boundary check has a neighbour to look at
        cols: list[int] = []
        weights: list[float] = []
        for end, (length, c, w, check_start, check_end) in self._automaton.iter_long(norm):
            if (check_start and norm[end - length] in _ALNUM) or (check_end and norm[end + 1] in _ALNUM):
                continue
            cols += c
            weights += w
        return np.array(cols, dtype=np.int32), np.array(weights, dtype=np.float32)

    def expand(self, cols: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Add implied concepts (ancestors, broader skills, industries) and sum per column."""
        if not len(cols):
            return cols, weights
        vec = sp.csr_matrix((weights, (np.zeros(len(cols), np.int32), cols)), shape=(1, self.n_columns))
        out = (vec @ self.implied).tocsr()
        out.sum_duplicates()
        return out.indices.astype(np.int32), out.data.astype(np.float32)

    def expand_dense(self, cols: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """``expand`` into a dense float32 vector over all concept columns (fast path for one query)."""
        imp = self.implied
        starts = imp.indptr[cols]
        lens = imp.indptr[np.asarray(cols, dtype=np.int64) + 1] - starts
        offsets = ranges(starts, lens)
        vals = np.repeat(weights, lens) * imp.data[offsets]
        return np.bincount(imp.indices[offsets], weights=vals, minlength=self.n_columns).astype(np.float32)

    def query_concepts(self, need: Need | str) -> np.ndarray:
        """``expand_dense(*direct(need))`` (read-only), kept for the ``QUERIES`` most recently asked needs by what
        ``direct`` reads (text, disciplines, industry): a ranking asks three times (concept retrieval, the incubator
        route, the ``concept_overlap`` column), and the text match is most of the cost."""
        key = need if isinstance(need, str) else (need_text(need), tuple(need.disciplines), need.industry)
        with self._queries_lock:
            if (hit := self._queries.get(key)) is not None:
                self._queries.move_to_end(key)
                return hit
        v = self.expand_dense(*self.direct(need))
        v.flags.writeable = False
        with self._queries_lock:
            self._queries[key] = v
            while len(self._queries) > QUERIES:
                self._queries.popitem(last=False)
        return v

    def concepts(self, text: str) -> dict[str, float]:
        """The concepts of a text with weights (named ones plus implied ones at lower weight)."""
        cols, weights = self.expand(*self.match(text))
        return {self.columns[c]: float(w) for c, w in zip(cols, weights, strict=True)}

    def direct(self, item: str | Talent | Need) -> tuple[np.ndarray, np.ndarray]:
        """Named concepts of a text or record, not yet expanded: its text matches plus its structured discipline
        codes and industry at ``STRUCTURED_WEIGHT``."""
        if isinstance(item, str):
            return self.match(item)
        text = talent_text(item) if isinstance(item, Talent) else need_text(item)
        return self._with_structured(item, *self.match(text))

    def _with_structured(
        self, item: str | Talent | Need, cols: np.ndarray, weights: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        if isinstance(item, str):
            return cols, weights
        extra = [self.column[f"discipline:{c}"] for c in item.disciplines]
        if isinstance(item, Need) and item.industry is not None:
            extra.append(self.column[f"industry:{item.industry.value}"])
        cols = np.concatenate([cols, np.asarray(extra, dtype=np.int32)])
        weights = np.concatenate([weights, np.full(len(extra), STRUCTURED_WEIGHT, np.float32)])
        return cols, weights

    def record_concepts(self, item: str | Talent | Need) -> tuple[np.ndarray, np.ndarray]:
        """Raw (columns, weights) of a text or record, with implied concepts."""
        return self.expand(*self.direct(item))

    def direct_matrix(self, items: Iterable[str | Talent | Need], processes: int = 1) -> sp.csr_matrix:
        """Documents × concepts of named concepts (unexpanded) for many items; with ``processes`` > 1, large
        batches of the process-wide mapper's work are matched in a fork pool."""
        items = list(items)
        texts = [
            it if isinstance(it, str) else talent_text(it) if isinstance(it, Talent) else need_text(it) for it in items
        ]
        if self is mapper():
            matched = list(fork_imap(_match_with_default_mapper, texts, processes))
        else:
            matched = [self.match(t) for t in texts]
        pairs = [self._with_structured(it, *m) for it, m in zip(items, matched, strict=True)]
        return GrowableCSR.from_rows([p[0] for p in pairs], [p[1] for p in pairs], self.n_columns).csr()


def _match_with_default_mapper(text: str) -> tuple[np.ndarray, np.ndarray]:
    return mapper().match(text)


PARALLEL_MIN = 20_000
"""Below this many texts one process beats starting a pool."""


def fork_imap(
    fn: Callable[[S], T],
    items: Sequence[S],
    processes: int | None = None,
    *,
    min_items: int = PARALLEL_MIN,
    chunksize: int = 2_000,
) -> Iterator[T]:
    """``fn(x)`` for each of ``items`` in order, yielded as they finish: in a fork pool of up to 2 workers for
    ``min_items`` or more (text matching and encoding are one core per process; forked workers inherit loaded
    dictionaries, automata and models), the pool kept busy while the caller handles what came back.
    ``processes=1`` stays in-process (e.g. inside a threaded server, where forking is unsafe)."""
    processes = processes or min(2, os.cpu_count() or 1)
    if processes < 2 or len(items) < min_items:
        yield from map(fn, items)
        return
    with get_context("fork").Pool(processes) as pool:
        yield from pool.imap(fn, items, chunksize=chunksize)


@cache
def mapper() -> ConceptMapper:
    """The process-wide mapper (building the automaton takes ~0.1 s)."""
    return ConceptMapper()


def _tfidf_rows(raw: sp.csr_matrix, idf: np.ndarray) -> sp.csr_matrix:
    """Sub-linear TF (log1p of summed weights) × IDF, L2-normalised per row."""
    m = sp.csr_matrix(raw, dtype=np.float32, copy=True)
    m.data = np.log1p(m.data) * idf[m.indices]
    return _l2(m)


def _idf(raw: sp.csr_matrix) -> np.ndarray:
    df = np.bincount(raw.indices, minlength=raw.shape[1])
    return np.log1p((raw.shape[0] + 1) / (df + 1)).astype(np.float32)


class ConceptMatrix:
    """Documents × concepts: L2-normalised TF-IDF weights in the mapper's fixed column space.

    IDF is fixed when built: vectors encoded later (queries, appended talents) use the same weights so scores stay
    comparable; rebuild to refresh it."""

    def __init__(self, raw: sp.csr_matrix, idf: np.ndarray, cmap: ConceptMapper) -> None:
        self.raw = raw
        self.idf = idf
        self.mapper = cmap
        self.matrix: sp.csr_matrix = _tfidf_rows(raw, idf)

    @classmethod
    def build(cls, items: Iterable[str | Talent | Need], cmap: ConceptMapper | None = None) -> ConceptMatrix:
        cmap = cmap or mapper()
        raw = (cmap.direct_matrix(items) @ cmap.implied).tocsr()
        return cls(raw, _idf(raw), cmap)

    def encode(self, item: str | Talent | Need) -> sp.csr_matrix:
        """One 1 × concepts row for a text or record, weighted with this matrix's IDF."""
        return _tfidf_rows(_one_row(*self.mapper.record_concepts(item), self.mapper.n_columns), self.idf)


def _one_row(cols: np.ndarray, weights: np.ndarray, n_cols: int) -> sp.csr_matrix:
    return sp.csr_matrix((weights, (np.zeros(len(cols), np.int32), cols)), shape=(1, n_cols), dtype=np.float32)


def _l2(m: sp.csr_matrix) -> sp.csr_matrix:
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sp.csr_matrix(sp.diags(1.0 / norms) @ m, dtype=np.float32)


class ConceptIndex(RowMap):
    """Talents in concept space, for the feature matrix (``score``) and candidate generation (``search``).

    Row-aligned matrices: TF-IDF concepts of all text and structured codes (``concept_overlap``), structured
    discipline codes with ancestors (``discipline_match``), and the directly named concepts (skill coverage across
    languages). ``add``/``remove`` append rows and mark tombstones; IDF stays as built (appended talents are
    weighted with it) until ``compact()`` recomputes it over the live talents.

    ``search`` reads a concept-major copy of the TF-IDF rows present when the index was built (``_by_concept``,
    CSC): a query names ~10 of the 3,146 concepts, so it reads those columns' entries instead of every row's
    (100k talents: 1.17 → 0.40 ms a query); rows appended since are scored by rows. IDF stays fixed until
    ``compact``, so a row's score never changes: each query's answer is remembered (``features._topk``) and a later
    search scores only the rows appended since.
    """

    _by_concept: sp.csc_matrix | None = None
    """A class default, so snapshots pickled before the copy load (their searches read the rows)."""

    def __init__(self, ids: np.ndarray, direct: sp.csr_matrix, structured: sp.csr_matrix, cmap: ConceptMapper) -> None:
        self.mapper = cmap
        self._ids = GrowableVector(np.asarray(ids, dtype=object))
        self._row: dict[str, int] = {}
        for i, tid in enumerate(ids):
            if tid in self._row:
                raise ValueError(
                    f"talent id {tid!r} appears twice in the talents given to ConceptIndex; ids are unique"
                )
            self._row[tid] = i
        self._alive = GrowableVector(np.ones(len(ids), dtype=bool))
        raw = (direct @ cmap.implied).tocsr()
        self.idf = _idf(raw)
        self._direct = GrowableCSR(direct)
        self._structured = GrowableCSR(structured)
        self._concepts = GrowableCSR(_tfidf_rows(raw, self.idf))
        self._by_concept = self._concepts.csr().tocsc()
        self._by_concept.sort_indices()
        self._disc = GrowableCSR(_l2((structured @ cmap.implied).tocsr()))
        self._memo = TopMemo()

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.__dict__.setdefault("_memo", TopMemo())  # older snapshots saved no remembered answers

    @classmethod
    def build(cls, talents: Sequence[Talent], cmap: ConceptMapper | None = None, processes: int = 1) -> ConceptIndex:
        """Index talents. ``processes`` > 1 (or ``None``: up to 2) matches batches of ``PARALLEL_MIN`` or more in a
        fork pool: at 20k long profiles (``bench build``'s) 17.6 → 11.7–12.4 s, at 100k demo profiles 4.9–6.0 →
        4.7 s (quiet 2 cores; once it cost more than it saved on 2 busy ones, bench/bench_text.py). 1 by default
        here; ``Indices.build`` passes its own."""
        cmap = cmap or mapper()
        direct = cmap.direct_matrix(talents, processes)
        return cls([t.id for t in talents], direct, _structured_matrix([t.disciplines for t in talents], cmap), cmap)

    @property
    def n_cols(self) -> int:
        return self.mapper.n_columns

    @property
    def ids(self) -> np.ndarray:
        """Talent id of each row (removed rows included until ``compact``)."""
        return self._ids.view

    def rows(self, talent_ids: Sequence[str]) -> np.ndarray:
        """Row of each id (-1 for unknown or removed)."""
        return np.fromiter((self._row.get(i, -1) for i in talent_ids), dtype=np.int64, count=len(talent_ids))

    def query_vector(self, need: Need | str) -> np.ndarray:
        """The need's dense TF-IDF concept vector (numpy only: scipy's per-call overhead would dominate), weighted
        with this index's IDF (a kept vector is stale once ``compact`` recomputes ``idf``)."""
        v = np.log1p(self.mapper.query_concepts(need)) * self.idf
        norm = np.linalg.norm(v)
        return v / norm if norm else v

    def discipline_vector(self, need: Need | str) -> np.ndarray:
        """The need's structured discipline codes with their ancestors, L2-normalised (``discipline_match``)."""
        codes = need.disciplines if isinstance(need, Need) else []
        cols = np.asarray([self.mapper.column[f"discipline:{c}"] for c in codes], dtype=np.int64)
        v = self.mapper.expand_dense(cols, np.ones(len(cols), np.float32))
        norm = np.linalg.norm(v)
        return v / norm if norm else v

    @staticmethod
    def _dot_rows(m: GrowableCSR, rows: np.ndarray, q: np.ndarray) -> np.ndarray:
        ok = rows >= 0
        out = np.zeros(len(rows), np.float32)
        owner, cols, vals = m.gather(rows[ok])
        out[ok] = np.bincount(owner, weights=vals * q[cols], minlength=int(ok.sum()))
        return out

    def concept_overlap(self, need: Need | str, rows: np.ndarray) -> np.ndarray:
        """Cosine of the need's TF-IDF concepts with each talent row's (-1 scores 0)."""
        return self._dot_rows(self._concepts, np.asarray(rows, dtype=np.int64), self.query_vector(need))

    def score(self, need: Need | str, rows: np.ndarray) -> dict[str, np.ndarray]:
        """``concept_overlap`` (cosine of TF-IDF concepts) and ``discipline_match`` (cosine of structured codes
        with ancestors) for talent rows (from ``rows()``; -1 scores 0). float32, aligned to ``rows``."""
        rows = np.asarray(rows, dtype=np.int64)
        return {
            "concept_overlap": self.concept_overlap(need, rows),
            "discipline_match": self._dot_rows(self._disc, rows, self.discipline_vector(need)),
        }

    def score_queries(self, concepts: sp.csr_matrix, disciplines: sp.csr_matrix, row: int) -> dict[str, np.ndarray]:
        """``score`` turned around: one talent row against many needs' ``query_vector`` and ``discipline_vector``
        rows (sparse, over the concept columns), as one sparse mat-vec each."""
        out = {}
        for name, queries, talents in (("concept_overlap", concepts, self._concepts),
                                       ("discipline_match", disciplines, self._disc)):  # fmt: skip
            _, cols, vals = talents.gather(np.array([row]))
            vec = np.zeros(queries.shape[1], np.float32)
            vec[cols] = vals
            out[name] = queries @ vec
        return out

    def names_any(self, concept_sets: sp.csr_matrix, row: int) -> np.ndarray:
        """Whether talent ``row`` directly names any concept of each row of ``concept_sets`` (0/1 over the concept
        columns): ``direct_presence`` for one talent against many sets."""
        _, cols, _ = self._direct.gather(np.array([row]))
        named = np.zeros(concept_sets.shape[1], np.float32)
        named[cols] = 1.0
        return (concept_sets @ named) > 0

    def search(self, need: Need | str, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` live talents by concept overlap (only those with overlap > 0): (ids, scores), best first."""
        rows, scores = self.search_rows(need, k)
        return self.ids[rows], scores

    def search_rows(self, need: Need | str, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``search`` as (rows, scores)."""
        if k <= 0:
            raise ValueError(f"k must be a positive number of results, got {k}")
        q, alive = self.query_vector(need), self._alive.view
        named = np.flatnonzero(q)

        def tail(start: int) -> tuple[np.ndarray, np.ndarray]:  # rows past the copy's: scored by rows, as a search
            return np.arange(start, len(alive)), (self._concepts.csr()[start:] @ q).astype(np.float32)

        return self._memo.search((named.tobytes(), q[named].tobytes(), k), k, len(alive), alive,
                                 lambda kk: top_rows(self._overlap_all(q), alive, kk), tail, 0.0)  # fmt: skip

    def _overlap_all(self, q: np.ndarray) -> np.ndarray:
        """``q`` · every TF-IDF row, float32. From the concept-major copy, column by column in ascending order: each
        row's products are added in the order scipy's row product adds them, in float32 as it does (a column of ``q``
        at 0 adds 0 there), so the scores are the row product's bit for bit and a ranking does not change."""
        by = self._by_concept
        if by is None:
            return self._concepts.csr() @ q
        out = np.zeros(self._concepts.n_rows, np.float32)
        indptr, indices, data = by.indptr, by.indices, by.data
        for c in np.flatnonzero(q).tolist():  # rows are unique within a column: += adds each once
            out[indices[indptr[c] : indptr[c + 1]]] += data[indptr[c] : indptr[c + 1]] * q[c]
        if len(out) > by.shape[0]:
            out[by.shape[0] :] = self._concepts.csr()[by.shape[0] :] @ q
        return out

    def direct_presence(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Boolean (len(rows), len(cols)): whether each talent directly names each concept column."""
        out = np.zeros((len(rows), len(cols)), dtype=bool)
        ok = np.flatnonzero(rows >= 0)
        if not len(cols) or not len(ok):
            return out
        lookup = np.full(self.n_cols, -1, np.int64)
        lookup[cols] = np.arange(len(cols))
        owner, c, _ = self._direct.gather(rows[ok])
        pos = lookup[c]
        hit = pos >= 0
        out[ok[owner[hit]], pos[hit]] = True
        return out

    def add(self, talent: Talent) -> int:
        """Index one talent (replacing an earlier version with the same id); returns its row."""
        if talent.id in self._row:
            self.remove(talent.id)
        direct = _one_row(*self.mapper.direct(talent), self.n_cols)
        structured = _structured_matrix([talent.disciplines], self.mapper)
        self._direct.append(direct.indices, direct.data)
        self._structured.append(structured.indices, structured.data)
        concepts = _tfidf_rows((direct @ self.mapper.implied).tocsr(), self.idf)
        self._concepts.append(concepts.indices, concepts.data)
        disc = _l2((structured @ self.mapper.implied).tocsr())
        self._disc.append(disc.indices, disc.data)
        self._ids.extend(np.asarray([talent.id], dtype=object))
        self._alive.extend(np.ones(1, dtype=bool))
        self._set_row(talent.id, row := len(self._ids) - 1)
        return row

    def add_many(self, talents: Sequence[Talent]) -> list[int]:
        """``add`` for many talents (unique ids) in order, the same rows and values as one by one, with one sparse
        product per matrix instead of one per talent (a start's catch-up); returns their rows."""
        for t in talents:
            if t.id in self._row:
                self.remove(t.id)
        if not talents:
            return []
        direct = sp.vstack([_one_row(*self.mapper.direct(t), self.n_cols) for t in talents], format="csr")
        structured = _structured_matrix([t.disciplines for t in talents], self.mapper)
        concepts = _tfidf_rows((direct @ self.mapper.implied).tocsr(), self.idf)
        disc = _l2((structured @ self.mapper.implied).tocsr())
        for i, t in enumerate(talents):
            for grown, m in ((self._direct, direct), (self._structured, structured), (self._concepts, concepts),
                             (self._disc, disc)):  # fmt: skip
                grown.append(m.indices[m.indptr[i] : m.indptr[i + 1]], m.data[m.indptr[i] : m.indptr[i + 1]])
            self._ids.extend(np.asarray([t.id], dtype=object))
            self._alive.extend(np.ones(1, dtype=bool))
            self._set_row(t.id, len(self._ids) - 1)
        return list(range(len(self._ids) - len(talents), len(self._ids)))

    def remove(self, talent_id: str) -> None:
        """Drop a talent: its row stays as a tombstone (never scored, never returned) until ``compact``."""
        row = self._drop_row(talent_id)
        if row is None:
            raise KeyError(f"talent {talent_id!r} is not in the concept index; nothing to remove")
        self._alive.view[row] = False

    def scrub(self, talent_id: str) -> int:
        """Erase every row ``talent_id`` ever had (earlier versions too): entries zeroed, id blanked. Call after
        ``remove``; returns the rows scrubbed."""
        if talent_id in self._row:
            raise ValueError(f"talent {talent_id!r} is live; remove it before scrubbing its rows")
        rows = np.flatnonzero(self.ids == talent_id)
        for m in (self._direct, self._structured, self._concepts, self._disc):
            m.scrub(rows)
        if self._by_concept is not None:
            erase_rows(self._by_concept, rows)
        self.ids[rows] = ""
        return len(rows)

    def compact(self) -> None:
        """Drop tombstones and recompute IDF over the live talents (rows renumber; call ``rows()`` again)."""
        self._check_owns_rows("compact alone")
        keep = np.flatnonzero(self._alive.view)
        self.__init__(  # type: ignore[misc]
            self.ids[keep], self._direct.csr()[keep], self._structured.csr()[keep], self.mapper
        )


def _structured_matrix(codes_per_doc: Sequence[Sequence[str]], cmap: ConceptMapper) -> sp.csr_matrix:
    """Documents × concepts with 1 on each structured discipline code (unexpanded)."""
    cols = [np.asarray([cmap.column[f"discipline:{c}"] for c in codes], dtype=np.int32) for codes in codes_per_doc]
    return GrowableCSR.from_rows(cols, [np.ones(len(c), np.float32) for c in cols], cmap.n_columns).csr()


def top_k(scores: np.ndarray, alive: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Best ``k`` positive scores among live rows: (ids, scores) sorted best first (ties by row)."""
    rows, best = top_rows(scores, alive, k)
    return ids[rows], best


TOP_SAMPLE = 32
"""``top_rows`` first reads every 32nd score for a floor under the best k."""


def top_rows(scores: np.ndarray, alive: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``top_k`` as (rows, scores): the talent-side indices share row numbers, so a retriever hands rows on.

    Only rows at or above a floor are selected from: the k-th best of every ``TOP_SAMPLE``-th score is at most the
    k-th best of all, so no row of the best k is below it, and ~k × ``TOP_SAMPLE`` rows pass instead of every
    positive one (a BM25 or concept query scores ~30–60 % of all rows; at 100k talents 0.58 → 0.34 ms a query).
    Every row tied with the k-th best is kept until the sort, so ties are broken by row, not by the partition."""
    if k <= 0:
        raise ValueError(f"k must be a positive number of results, got {k}")
    scores = np.multiply(scores, alive, dtype=np.float32)  # dead rows 0 (scores here are not negative)
    sample = scores[::TOP_SAMPLE]
    floor = np.partition(sample, len(sample) - k)[len(sample) - k] if len(sample) > k else 0.0
    cand = np.flatnonzero(scores >= floor) if floor > 0 else np.flatnonzero(scores > 0)
    if len(cand) > k:
        best = scores[cand]
        cand = cand[best >= np.partition(best, len(cand) - k)[len(cand) - k]]
    cand = cand[np.lexsort((cand, -scores[cand]))[:k]]
    return cand, scores[cand]
