"""Bilingual sparse text retrieval: tokenisation, BM25 over talents (profile and each work) and over needs.

Tokens: Chinese runs are segmented by jieba (a private tokenizer whose dictionary also holds the taxonomy's and the
skill list's Chinese names, so 钙钛矿太阳能电池 survives whole next to its pieces), English words are lower-cased and
Snowball-stemmed (PyStemmer), stopwords of both languages dropped.

BM25 is bm25s's Lucene variant, computed from its own scoring functions at query time over stored term counts:
document frequencies and lengths are kept live, so ``add``/``remove`` give exactly the scores of a rebuild (no stale
IDF), and ``compact()`` only reclaims the space of removed rows. Scoring given rows gathers just those rows' terms
(vectorised, no loop over candidates); ``search`` reads the query terms' columns from a CSC copy plus the rows
appended since it was made.
"""

from __future__ import annotations

import hashlib
import logging
import marshal
import os
import re
import tempfile
import threading
import unicodedata
from collections.abc import Sequence
from functools import cache, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp
import Stemmer

from features._growable import GrowableCSR, GrowableVector, RowMap, erase_rows
from features.concepts import PARALLEL_MIN, ConceptIndex, fork_imap, mapper, skill_terms, top_k, top_rows
from features.records import Need, Talent, need_text
from features.taxonomy import INDUSTRY_NAMES, disciplines

if TYPE_CHECKING:
    import jieba

K1 = 1.5
B = 0.75
"""BM25 parameters (bm25s's defaults)."""
TOP_WORKS = 3
WORK_DECAY = 0.5
"""``bm25_share_works_top3`` is the mean of a talent's best ``TOP_WORKS`` works weighted 1, 1/2, 1/4 (over the
weights of the works it has): the best work counts most and two more support it, so one paper on the topic beats a
long list that each touches a word of it. Dev half of the reviewer gold standard, loss as a share alone: best work
0.230, plain top-3 mean 0.238, these weights 0.233; summed with the e5 works cosine: 0.200 / 0.198 / 0.200."""


TOKENIZE_CHUNK = 25_000
"""Talents tokenised per step at build: enough texts for the fork pool (``PARALLEL_MIN``), and each step's token
lists are freed before the next allocates, so their memory is reused instead of left as heap holes."""

_DECAY_SUM = np.concatenate([[1.0], np.cumsum(WORK_DECAY ** np.arange(TOP_WORKS))]).astype(np.float32)
"""Sum of the weights of a talent's first n works (index n; 1 for a talent without works, whose score is 0)."""
_TINY = 1e-6
"""Floor of an IDF mass (a query without any known term scores 0 anyway)."""


COMPILED_ROWS = 500_000
"""A corpus of this many documents or more scores through ``features.bm25_loops`` (numba; the same bits): a search
at 1M talents 16.3 → 8.3 ms. Below, numpy: numba's LLVM holds ~150 MB of a process resident, which a 100k server's
gain (~0.6 ms a ranking) is not worth against its 1 GB."""


def _lucene_idf(df: np.ndarray, n: int) -> np.ndarray:
    return np.log1p((n - df + 0.5) / (df + 0.5)).astype(np.float32)


def _saturation(tf: np.ndarray, length: np.ndarray, l_avg: float) -> np.ndarray:
    """bm25s's Lucene term saturation (``bm25s.scoring._score_tfc_lucene``, the same expression, float32 in and out;
    ``tests/features/test_text.py`` holds them equal): bm25s itself is not imported, since it imports numba."""
    return tf / (K1 * ((1 - B) + B * length / l_avg) + tf)


_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN = re.compile(rf"([{_CJK}]+)|([a-z0-9]+(?:\+\+|#)?)")
_EN_STOPWORDS = """
    a about above after again against all also am an and any are as at be because been before being below between
    both but by can could did do does doing down during each few for from further had has have having he her here
    hers him his how i if in into is it its itself just me more most my no nor not of off on once only or other
    our ours out over own same she should so some such than that the their theirs them then there these they this
    those through to too under until up very was we were what when where which while who whom why will with would
    you your etc using used use based via new within well including include includes e g ie eg
"""
_ZH_STOPWORDS = """
    的 了 和 与 及 或 在 是 等 对 中 为 并 其 我们 进行 相关 以及 具有 主要 能够 一个 一种 通过 用于 基于 从事 负责
    工作 要求 优先 熟悉 具备 以上 包括 方面 以 于 将 被 把 也 都 而 但 之 上 下 有 无 该 此 这 那 各 个 年 月 日
    可 能 会 及其 研究
"""
_EN_STOP = frozenset(_EN_STOPWORDS.split())
_ZH_STOP = frozenset(_ZH_STOPWORDS.split())
"""Small stopword lists: function words, and boilerplate of profiles and job ads (负责, 熟悉, 优先, using, based)."""


_tokenizer: jieba.Tokenizer | None = None
_tokenizer_lock = threading.Lock()
_dictionary_dir: Path | None = None
log = logging.getLogger(__name__)


def preload(cache_dir: str | os.PathLike | None = None) -> threading.Thread:
    """Load the jieba dictionary in a background thread now (a server start: beside the snapshot load, not in the
    catch-up's or the first request's time), keeping it in ``cache_dir`` (see ``_load_jieba``); returns the thread.
    Tokens are the same with or without: only where the dictionary comes from changes."""
    global _dictionary_dir
    _dictionary_dir = Path(cache_dir) if cache_dir is not None else None
    thread = threading.Thread(target=_jieba, name="talentmatch-jieba", daemon=True)
    thread.start()
    return thread


def _jieba() -> jieba.Tokenizer:
    """The process's private jieba tokenizer, loaded once (a caller that comes while ``preload``'s thread loads it
    waits for that load)."""
    global _tokenizer
    if _tokenizer is None:
        with _tokenizer_lock:
            if _tokenizer is None:
                _tokenizer = _load_jieba(_dictionary_dir)
    return _tokenizer


def _user_words() -> list[str]:
    words = {d.name_zh for d in disciplines().values()} | {zh for zh, _ in INDUSTRY_NAMES.values()}
    words |= {w for t in skill_terms() for w in t["zh"]}
    return [w for w in sorted(words) if re.fullmatch(rf"[{_CJK}]{{2,}}", w)]


def _load_jieba(cache_dir: Path | None) -> jieba.Tokenizer:
    """A jieba tokenizer with the taxonomy's and skill list's Chinese names as user words (jieba's global tokenizer
    is left untouched). With ``cache_dir`` the finished dictionary (jieba's own plus the user words) is kept there in
    one file named by a hash of jieba's version, its dictionary file and the user words, and read back with one
    ``marshal.loads``: ~4× faster than jieba's own cache (``marshal.load`` from a file object, in
    ``tempfile.gettempdir()`` shared with every other jieba user, trusted without a check), and no user-word pass.
    Without it, jieba's own cache."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    tk = jieba.Tokenizer()
    words = _user_words()
    path = None
    if cache_dir is not None:
        dictionary = (Path(jieba.__file__).parent / jieba.DEFAULT_DICT_NAME).stat()
        key = f"{jieba.__version__}|{dictionary.st_size}|{dictionary.st_mtime_ns}|{'|'.join(words)}"
        path = cache_dir / f"jieba-{hashlib.sha256(key.encode()).hexdigest()[:16]}.dict"
        try:
            freq, total = marshal.loads(path.read_bytes())
            if isinstance(freq, dict) and isinstance(total, int):
                tk.FREQ, tk.total, tk.initialized = freq, total, True
                return tk
        except FileNotFoundError:
            pass
        except (OSError, ValueError, EOFError, TypeError) as e:
            log.warning("jieba dictionary cache %s unreadable (%s); rebuilding it", path, e)
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)  # jieba logs a traceback where its cache dir is missing
            tk.tmp_dir = str(cache_dir)  # jieba's own cache of its dictionary too, not in the shared temp dir
        except OSError as e:
            log.warning("jieba dictionary cache directory %s not usable: %s", cache_dir, e)
    tk.initialize()
    for w in words:
        tk.add_word(w)
    if path is not None:
        try:
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".jieba-")
            try:
                with os.fdopen(fd, "wb") as f:
                    marshal.dump((tk.FREQ, tk.total), f)
                os.replace(tmp, path)  # whole or not at all: a reader never sees half a file
            finally:
                Path(tmp).unlink(missing_ok=True)
        except OSError as e:
            log.warning("jieba dictionary cache %s not written: %s", path, e)
    return tk


@cache
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


@lru_cache(maxsize=1 << 18)
def _cut_zh(run: str) -> tuple[str, ...]:
    """Search-mode segmentation of one Chinese run: whole dictionary words plus their dictionary sub-words, so a
    query for 钙钛矿 also meets a text that says 钙钛矿太阳能电池. Cached: phrases repeat across profiles."""
    return tuple(w for w in _jieba().cut_for_search(run, HMM=False) if w not in _ZH_STOP)


def tokenize(text: str) -> list[str]:
    """Tokens of mixed Chinese/English text: jieba words for Chinese, stemmed lower-case words for English
    (``5g``, ``gan``, ``c++`` kept; bare numbers and single letters dropped), stopwords removed."""
    out: list[str] = []
    english: list[str] = []
    for zh, en in _TOKEN.findall(unicodedata.normalize("NFKC", text).lower()):
        if zh:
            out += _cut_zh(zh)
        elif en not in _EN_STOP and not en.isdigit() and (len(en) > 1 or en[-1] in "+#"):
            english.append(en)
    if english:
        plain = [w for w in english if w.isalpha()]
        out += _stemmer().stemWords(plain)
        out += [w for w in english if not w.isalpha()]
    return out


def tokenize_many(texts: Sequence[str], processes: int | None = None) -> list[list[str]]:
    """Tokenise many texts; large batches go to a fork pool (see ``concepts.fork_imap``)."""
    if len(texts) >= PARALLEL_MIN:
        _jieba()  # load before forking so the workers inherit the dictionary
    return list(fork_imap(tokenize, texts, processes))


class Vocabulary:
    """Token → column id, growing as new documents bring new tokens."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self.ids)

    def encode(self, tokens: Sequence[str]) -> np.ndarray:
        """Column ids of ``tokens`` (with repeats), adding unseen tokens."""
        ids = self.ids
        return np.fromiter((ids.setdefault(t, len(ids)) for t in tokens), dtype=np.int32, count=len(tokens))

    def lookup(self, tokens: Sequence[str]) -> np.ndarray:
        """Sorted unique column ids of the known ``tokens`` (unknown tokens cannot score)."""
        return np.asarray(sorted({self.ids[t] for t in tokens if t in self.ids}), dtype=np.int64)

    def forget(self, term_ids: set[int]) -> int:
        """Replace the tokens of ``term_ids`` by placeholders (erasure: a word only an erased talent used must not
        stay in memory). Ids keep their numbers, so no array indexed by term id shifts; a later document with the
        word gets a new id. Returns the tokens forgotten."""
        if not term_ids:
            return 0
        gone = [t for t, i in self.ids.items() if i in term_ids]
        for t in gone:
            i = self.ids.pop(t)
            self.ids[f"\0erased:{i}"] = i
        return len(gone)


TF_DTYPE = np.uint16
"""A term's count in one document, held twice (the rows and the column copy ``score_all`` scans): two bytes instead
of float32's four. Counts saturate at 65,535: a word repeated that often in one profile is padding, not evidence."""


class Bm25Corpus:
    """Term counts of a growing document set with live statistics, scored with bm25s's Lucene BM25."""

    def __init__(self, counts: sp.csr_matrix, vocab: Vocabulary) -> None:
        self.vocab = vocab
        self.tf = GrowableCSR(counts, TF_DTYPE)
        self.length = GrowableVector(np.asarray(counts.sum(axis=1), dtype=np.float32).ravel())
        self.alive = GrowableVector(np.ones(counts.shape[0], dtype=bool))
        self.df = GrowableVector(np.bincount(self.tf.indices, minlength=len(vocab)).astype(np.int64))
        self.n_live = counts.shape[0]
        self.total_length = float(self.length.view.sum())
        self._csc = self.tf.csr().tocsc()
        self._slot = np.full(len(vocab), -1, np.int32)
        self._slot_lock = threading.Lock()

    def __getstate__(self) -> dict:
        """Pickled (index snapshots) with a blank scratch array: a reader may be using it while a snapshot is saved."""
        return {**self.__dict__, "_slot": np.full(len(self._slot), -1, np.int32)}

    def positions(self, sorted_terms: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Index of each column id in ``sorted_terms`` and whether it is there. Uses one vocabulary-sized scratch
        array per corpus (set, read, reset under a lock): O(len(cols)), no per-call allocation of vocabulary size."""
        with self._slot_lock:
            if len(self._slot) < len(self.vocab):
                self._slot = np.full(2 * len(self.vocab), -1, np.int32)
            self._slot[sorted_terms] = np.arange(len(sorted_terms), dtype=np.int32)
            pos = self._slot[cols]
            self._slot[sorted_terms] = -1
        return pos, pos >= 0

    @classmethod
    def from_tokens(cls, docs: Sequence[np.ndarray], vocab: Vocabulary) -> Bm25Corpus:
        ones = [np.ones(len(d), np.float32) for d in docs]
        return cls(GrowableCSR.from_rows(list(docs), ones, len(vocab)).csr(), vocab)

    @property
    def n_rows(self) -> int:
        return self.tf.n_rows

    def append(self, token_ids: np.ndarray) -> int:
        row = self.tf.append(token_ids, np.ones(len(token_ids), np.float32))
        if len(self.df) < len(self.vocab):
            self.df.extend(np.zeros(len(self.vocab) - len(self.df), np.int64))
        self.df.view[self.tf.indices[self.tf.indptr[row] :]] += 1
        self.length.extend(np.array([len(token_ids)], np.float32))
        self.alive.extend(np.ones(1, dtype=bool))
        self.n_live += 1
        self.total_length += len(token_ids)
        return row

    def kill(self, rows: np.ndarray) -> None:
        rows = rows[self.alive.view[rows]]
        if not len(rows):
            return
        _, cols, _ = self.tf.gather(rows)
        np.subtract.at(self.df.view, cols, 1)
        self.alive.view[rows] = False
        self.n_live -= len(rows)
        self.total_length -= float(self.length.view[rows].sum())

    def scrub(self, rows: np.ndarray) -> np.ndarray:
        """Erase ``rows`` from memory (killed first if live): term entries zeroed here and in the column copy, length
        0. Returns the term ids they held."""
        rows = np.asarray(rows, dtype=np.int64)
        self.kill(rows)
        _, terms, _ = self.tf.gather(rows)
        self.tf.scrub(rows)
        self.length.view[rows] = 0
        old = rows[rows < self._csc.shape[0]]
        if len(old):
            erase_rows(self._csc, old)
        return np.unique(terms)

    def live_counts(self) -> sp.csr_matrix:
        """Term counts of the live rows only, in row order (for ``compact``)."""
        return self.tf.csr()[np.flatnonzero(self.alive.view)]

    def term_weights(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(position in ``rows``, term id, BM25 weight) of every term of ``rows``: what a query holding the term
        adds to the row's score (0 for dead rows)."""
        owner, cols, tf = self.tf.gather(rows)
        w = self._bm25(tf, rows[owner], self._idf(cols))
        return owner, cols.astype(np.int64), np.where(self.alive.view[rows[owner]], w, 0.0)

    def _idf(self, qterms: np.ndarray) -> np.ndarray:
        """IDF of each query term over the live documents: bm25s's Lucene IDF, log(1 + (N - df + 0.5) / (df + 0.5)),
        vectorised (``tests/features/test_text.py`` holds it equal to ``bm25s.scoring._score_idf_lucene``)."""
        return _lucene_idf(self.doc_freq(qterms), max(self.n_live, 1))

    def doc_freq(self, qterms: np.ndarray) -> np.ndarray:
        """Live documents holding each term (0 for a term id this corpus never saw)."""
        df = self.df.view
        qterms = np.asarray(qterms, dtype=np.int64)
        out = np.zeros(len(qterms), np.float64)
        known = qterms < len(df)
        out[known] = df[qterms[known]]
        return out

    def idf_mass(self, qterms: np.ndarray) -> float:
        """The most BM25 any document can score for the query: the sum of its terms' IDF (each term's
        tf-saturation factor is below 1), counting only terms some live document holds, so a query word nobody
        uses neither scores nor dilutes (and both scoring directions agree)."""
        df = self.doc_freq(qterms)
        return float(_lucene_idf(df[df > 0], max(self.n_live, 1)).sum())

    def idf_vector(self, n_terms: int) -> np.ndarray:
        """IDF of term ids ``0..n_terms-1`` (0 where no live document holds the term), for ``idf_mass`` of many
        queries at once as one mat-vec."""
        df = self.doc_freq(np.arange(n_terms))
        return np.where(df > 0, _lucene_idf(df, max(self.n_live, 1)), 0.0).astype(np.float32)

    def _l_avg(self) -> float:
        return self.total_length / max(self.n_live, 1) or 1.0

    def _bm25(self, tf: np.ndarray, doc: np.ndarray, idf: np.ndarray) -> np.ndarray:
        return idf * _saturation(tf.astype(np.float32), self.length.view[doc], self._l_avg())

    @property
    def compiled(self) -> bool:
        """Whether this corpus scores through ``features.bm25_loops`` (``COMPILED_ROWS``)."""
        return self.n_rows >= COMPILED_ROWS

    def score_rows(self, qterms: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """BM25 of the query terms for valid document rows; dead rows score 0."""
        out = np.zeros(len(rows), np.float32)
        if not len(qterms) or not len(rows):
            return out
        if self.compiled:
            terms = np.unique(qterms).astype(np.int64)
            total = np.zeros(len(rows), np.float64)
            _loops().score_rows(self.tf.indptr, self.tf.indices, self.tf.data, np.asarray(rows, dtype=np.int64),
                                terms, self._idf(terms), self.length.view, self._l_avg(), K1, B, total)  # fmt: skip
        else:
            owner, cols, tf = self.tf.gather(rows)
            pos, hit = self.positions(qterms, cols)
            owner, pos, tf = owner[hit], pos[hit], tf[hit]
            s = self._bm25(tf, rows[owner], self._idf(qterms)[pos])
            total = np.bincount(owner, weights=s, minlength=len(rows))
        out += total
        return np.where(self.alive.view[rows], out, 0.0).astype(np.float32)

    def score_all(self, qterms: np.ndarray) -> np.ndarray:
        """BM25 of the query for every row, dead ones included (``top_rows`` masks them): CSC columns for the rows
        present at the last (re)build, each term's postings one slice, a row scan for those appended since."""
        n_old, n_old_cols = self._csc.shape
        out = np.zeros(self.n_rows, np.float32)
        old_terms = np.asarray(qterms[qterms < n_old_cols], dtype=np.int64)
        csc = self._csc
        if len(old_terms) and self.compiled:
            total = np.zeros(n_old, np.float64)
            _loops().add_columns(csc.indptr, csc.indices, csc.data, old_terms, self._idf(old_terms),
                                 self.length.view, self._l_avg(), K1, B, total)  # fmt: skip
            out[:n_old] = total
        elif len(old_terms):  # copied slices, not gathered through an index array (0.7 vs 2.8 ms at 1M rows)
            spans = [(csc.indptr[t], csc.indptr[t + 1]) for t in old_terms.tolist()]
            doc = np.concatenate([csc.indices[a:b] for a, b in spans])
            tf = np.concatenate([csc.data[a:b] for a, b in spans])
            s = self._bm25(tf, doc, np.repeat(self._idf(old_terms), [b - a for a, b in spans]))
            out[:n_old] = np.bincount(doc, weights=s, minlength=n_old)
        if self.n_rows > n_old:
            out[n_old:] = self.score_rows(qterms, np.arange(n_old, self.n_rows))
        return out


def _loops():
    """``features.bm25_loops``, imported by the first large corpus's scoring: numba loads only in a process that
    uses it."""
    from features import bm25_loops

    return bm25_loops


def warm_loops(index: SparseIndex) -> None:
    """Compile the loops now if ``index`` scores through them (a server after loading its indices, on a thread of
    its own), so that no request compiles; a small index never imports numba."""
    if index.profile.compiled or index.works.compiled:
        _loops().warm()


class _IdIndex(RowMap):
    """Record id ↔ row bookkeeping shared by the talent and need indices."""

    kind = "record"

    def __init__(self, ids: Sequence[str]) -> None:
        self._ids = GrowableVector(np.asarray(list(ids), dtype=object))
        self._row: dict[str, int] = {}
        for i, rid in enumerate(ids):
            if rid in self._row:
                raise ValueError(
                    f"{self.kind} id {rid!r} appears twice in the records given to the index; ids are unique"
                )
            self._row[rid] = i

    @property
    def ids(self) -> np.ndarray:
        """Record id of each row (removed rows included until ``compact``)."""
        return self._ids.view

    def rows(self, ids: Sequence[str]) -> np.ndarray:
        """Row of each id (-1 for unknown or removed)."""
        return np.fromiter((self._row.get(i, -1) for i in ids), dtype=np.int64, count=len(ids))

    def _new_row(self, rid: str) -> int:
        self._ids.extend(np.asarray([rid], dtype=object))
        self._set_row(rid, row := len(self._ids) - 1)
        return row

    def _pop_row(self, rid: str) -> int:
        row = self._drop_row(rid)
        if row is None:
            raise KeyError(f"{self.kind} {rid!r} is not in the index; nothing to remove")
        return row


def _talent_texts(t: Talent) -> list[str]:
    """Summary with skills, then each work (title and abstract): together the text of ``records.talent_text``,
    split so that each work is also a document of its own."""
    return [f"{t.summary or ''} {' '.join(t.skills)}"] + [f"{w.title} {w.abstract or ''}" for w in t.works]


def _query_tokens(query: str | Need | Talent) -> list[str]:
    if isinstance(query, Need):
        query = need_text(query)
    elif isinstance(query, Talent):
        query = " ".join(_talent_texts(query))
    if not isinstance(query, str):
        raise TypeError(f"a text query must be a str, Need or Talent, got {type(query).__name__}")
    return tokenize(query)


class SparseIndex(_IdIndex):
    """BM25 over talents: each whole profile (summary, skills, works) and each work on its own.

    ``score`` gives ``bm25_profile``, ``bm25_works_max`` and ``bm25_works_top3`` (the sum of the best three works'
    scores over three: a few strong works count for more than many weak ones, and a talent with one matching work
    is not averaged down by the rest of a long publication list), and the same as shares of the query's IDF mass
    (``Bm25Corpus.idf_mass``, the most the query can score): ``bm25_share_profile`` and ``bm25_share_works_top3``
    (the mean of the best ``TOP_WORKS`` works' shares). Raw BM25 grows with the query's length, so it ranks talents
    for one need but not needs for one talent; the shares lie in [0, 1] and compare across needs. On the reviewer
    gold standard (dev half) dividing by the IDF mass takes profile BM25 from loss 0.323 to 0.235.
    """

    kind = "talent"
    FEATURES = ("bm25_profile", "bm25_works_max", "bm25_works_top3", "bm25_share_profile", "bm25_share_works_top3")

    def __init__(self, talents: Sequence[Talent], processes: int | None = None) -> None:
        super().__init__([t.id for t in talents])
        self.vocab = Vocabulary()
        profiles, works, counts = [], [], []
        for start in range(0, len(talents), TOKENIZE_CHUNK):  # one chunk's token lists freed before the next
            texts = [_talent_texts(t) for t in talents[start : start + TOKENIZE_CHUNK]]
            encoded = [self.vocab.encode(toks) for toks in tokenize_many([x for g in texts for x in g], processes)]
            head = 0
            for group in texts:
                n = len(group) - 1
                profiles.append(np.concatenate(encoded[head : head + n + 1]))
                works += encoded[head + 1 : head + n + 1]
                counts.append(n)
                head += n + 1
        n_works = np.asarray(counts, dtype=np.int64)
        self.profile = Bm25Corpus.from_tokens(profiles, self.vocab)
        self.works = Bm25Corpus.from_tokens(works, self.vocab)
        self._work_count = GrowableVector(n_works)
        self._work_start = GrowableVector(np.concatenate([[0], np.cumsum(n_works)[:-1]]).astype(np.int64))

    @classmethod
    def build(cls, talents: Sequence[Talent], processes: int | None = None) -> SparseIndex:
        """Index talents (tokenising in ``processes`` workers for large batches; default up to 2)."""
        return cls(talents, processes)

    def _work_rows(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Work document rows of talent ``rows``: (flat work rows, owner position, position within the owner)."""
        starts = self._work_start.view[rows]
        counts = self._work_count.view[rows]
        owner = np.repeat(np.arange(len(rows)), counts)
        within = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
        return starts[owner] + within, owner, within

    def score(self, query: str | Need, rows: np.ndarray) -> dict[str, np.ndarray]:
        """BM25 features of ``query`` for talent rows (from ``rows()``; -1 scores 0), float32 aligned to rows."""
        rows = np.asarray(rows, dtype=np.int64)
        q = self.vocab.lookup(_query_tokens(query))
        ok = np.flatnonzero(rows >= 0)
        out = {k: np.zeros(len(rows), np.float32) for k in self.FEATURES}
        if not len(ok) or not len(q):
            return out
        r = rows[ok]
        out["bm25_profile"][ok] = self.profile.score_rows(q, r)
        out["bm25_share_profile"][ok] = out["bm25_profile"][ok] / max(self.profile.idf_mass(q), _TINY)
        wrows, owner, within = self._work_rows(r)
        if len(wrows):
            grid = np.zeros((len(r), int(within.max()) + 1), np.float32)
            grid[owner, within] = self.works.score_rows(q, wrows)
            works = self._works_features(grid, self._work_count.view[r], np.float32(self.works.idf_mass(q)))
            for k, v in works.items():
                out[k][ok] = v
        return out

    @staticmethod
    def _works_features(grid: np.ndarray, counts: np.ndarray, mass: np.ndarray) -> dict[str, np.ndarray]:
        """Works columns from a (queries or talents) × works grid of BM25 scores (zero padded), each row's number
        of works and the query IDF mass per row (or one for all)."""
        grid = -np.sort(-grid, axis=1)
        top = grid[:, :TOP_WORKS]
        decay = WORK_DECAY ** np.arange(top.shape[1], dtype=np.float32)
        share = (top @ decay) / _DECAY_SUM[np.minimum(counts, TOP_WORKS)] / np.maximum(mass, _TINY)
        return {"bm25_works_max": grid[:, 0], "bm25_works_top3": top.sum(axis=1) / 3, "bm25_share_works_top3": share}

    def query_terms(self, query: str | Need) -> np.ndarray:
        """Sorted unique term ids of a query kept for later scoring (``score_queries``). Unseen tokens join the
        vocabulary, so a talent added later that uses them still meets the query; no talent holds them yet, so no
        score changes."""
        return np.unique(self.vocab.encode(_query_tokens(query))).astype(np.int64)

    def score_queries(self, queries: sp.csr_matrix, row: int) -> dict[str, np.ndarray]:
        """``score`` turned around: one talent row against many queries (rows of 0/1 term presence over this
        vocabulary, from ``query_terms``), as mat-vecs of the talent's BM25 term weights instead of a gather of
        many talents' terms per query."""
        m, n_terms = queries.shape
        out = {k: np.zeros(m, np.float32) for k in self.FEATURES}
        _, cols, w = self.profile.term_weights(np.array([row]))
        vec = np.zeros(n_terms, np.float32)
        keep = cols < n_terms  # terms no query holds
        vec[cols[keep]] = w[keep]
        out["bm25_profile"] = queries @ vec
        out["bm25_share_profile"] = out["bm25_profile"] / np.maximum(queries @ self.profile.idf_vector(n_terms), _TINY)
        wrows = self._work_rows(np.array([row]))[0]
        if len(wrows):
            owner, cols, w = self.works.term_weights(wrows)
            keep = cols < n_terms
            weights = sp.csr_matrix((w[keep], (cols[keep], owner[keep])), shape=(n_terms, len(wrows)), dtype=np.float32)
            mass = queries @ self.works.idf_vector(n_terms)
            out.update(self._works_features((queries @ weights).toarray(), np.array([len(wrows)]), mass))
        return out

    def required_terms(self, skill: str) -> np.ndarray:
        """Sorted unique term ids of one required skill, kept for ``covers_skills`` (unseen tokens join the
        vocabulary, as in ``query_terms``)."""
        return np.unique(self.vocab.encode(sorted(set(tokenize(skill))))).astype(np.int64)

    def covers_skills(self, skills: sp.csr_matrix, row: int) -> np.ndarray:
        """Whether talent ``row``'s profile holds every term of each skill (rows of 0/1 term presence, from
        ``required_terms``): ``skill_coverage``'s token test, one talent against many skills. A skill without terms
        is not covered this way."""
        _, cols, _ = self.profile.tf.gather(np.array([row]))
        present = np.zeros(skills.shape[1], np.float32)
        present[cols[cols < len(present)]] = 1.0
        n_terms = np.diff(skills.indptr)
        return (n_terms > 0) & (skills @ present == n_terms)

    def search(self, query: str | Need, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` live talents by profile BM25 (score > 0 only): (talent ids, scores), best first. The order is
        that of ``bm25_share_profile`` (one query, one divisor). Ranking by the best works' share as well was
        measured and left out: scoring and grouping every matching work cost +17 ms a query at 20k talents."""
        rows, scores = self.search_rows(query, k)
        return self.ids[rows], scores

    def search_rows(self, query: str | Need, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``search`` as (rows, scores)."""
        q = self.vocab.lookup(_query_tokens(query))
        return top_rows(self.profile.score_all(q), self.profile.alive.view, k)

    def add(self, talent: Talent) -> int:
        """Index one talent (replacing an earlier version with the same id); returns its row."""
        if talent.id in self._row:
            self.remove(talent.id)
        encoded = [self.vocab.encode(tokenize(x)) for x in _talent_texts(talent)]
        self.profile.append(np.concatenate(encoded))
        self._work_start.extend(np.array([self.works.n_rows], np.int64))
        self._work_count.extend(np.array([len(encoded) - 1], np.int64))
        for w in encoded[1:]:
            self.works.append(w)
        return self._new_row(talent.id)

    def add_many(self, talents: Sequence[Talent]) -> list[int]:
        """``add`` for many talents (unique ids) in order; returns their rows."""
        return [self.add(t) for t in talents]

    def remove(self, talent_id: str) -> None:
        """Drop a talent from every score and search at once; its rows are reclaimed by ``compact``."""
        row = self._pop_row(talent_id)
        self.profile.kill(np.array([row]))
        self.works.kill(self._work_rows(np.array([row]))[0])

    def scrub(self, talent_id: str) -> int:
        """Erase every row ``talent_id`` ever had (earlier versions too) from memory: profile and works entries
        zeroed, id blanked, and the words no live talent uses forgotten. Call after ``remove``. Returns the talent
        rows scrubbed."""
        if talent_id in self._row:
            raise ValueError(f"talent {talent_id!r} is live; remove it before scrubbing its rows")
        rows = np.flatnonzero(self.ids == talent_id)
        if not len(rows):
            return 0
        terms = self.profile.scrub(rows)
        terms = np.union1d(terms, self.works.scrub(self._work_rows(rows)[0]))
        self.ids[rows] = ""
        unused = terms[(self.profile.doc_freq(terms) == 0) & (self.works.doc_freq(terms) == 0)]
        self.vocab.forget(set(unused.tolist()))
        return len(rows)

    def compact(self) -> None:
        """Drop removed rows and rebuild the column copies used by ``search`` (rows renumber: call ``rows()``
        again). Scores do not change: statistics are always those of the live talents."""
        self._check_owns_rows("compact alone")
        keep = np.flatnonzero(self.profile.alive.view)
        wrows = self._work_rows(keep)[0]
        counts = self._work_count.view[keep]
        ids = self.ids[keep]
        _IdIndex.__init__(self, list(ids))
        self.profile = Bm25Corpus(self.profile.tf.csr()[keep], self.vocab)
        self.works = Bm25Corpus(self.works.tf.csr()[wrows], self.vocab)
        self._work_count = GrowableVector(counts.copy())
        self._work_start = GrowableVector(np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64))

    def skill_coverage(
        self,
        need: Need,
        rows: np.ndarray,
        concepts: ConceptIndex | None = None,
        *,
        concept_rows: np.ndarray | None = None,
    ) -> np.ndarray:
        """Share of the need's required skills each talent row covers (0 when the need lists none).

        A skill is covered when all its tokens occur in the talent's text (an exact or normalised skill match is
        the special case where they come from the skills list), or — with ``concepts`` — when the talent's text
        names a concept the skill names (光刻 ↔ lithography). ``concept_rows`` are the same talents' rows in
        ``concepts`` when the caller already has them (indices kept in lockstep)."""
        rows = np.asarray(rows, dtype=np.int64)
        skills = need.required_skills
        if not skills:
            return np.zeros(len(rows), np.float32)
        skill_tokens = [set(tokenize(s)) for s in skills]
        tokens = [self.vocab.lookup(list(t)) for t in skill_tokens]
        union = np.unique(np.concatenate(tokens))
        present = np.zeros((len(rows), len(union)), dtype=bool)
        ok = np.flatnonzero(rows >= 0)
        if len(union) and len(ok):
            owner, cols, _ = self.profile.tf.gather(rows[ok])
            pos, hit = self.profile.positions(union, cols)
            present[ok[owner[hit]], pos[hit]] = True
        covered = np.zeros((len(rows), len(skills)), dtype=bool)
        for j, (t, wanted) in enumerate(zip(tokens, skill_tokens, strict=True)):
            if wanted and len(t) == len(wanted):
                covered[:, j] = present[:, np.searchsorted(union, t)].all(axis=1)
        if concepts is not None:
            cmap = concepts.mapper
            named = [np.unique(cmap.match(s)[0]) for s in skills]
            cols = np.unique(np.concatenate(named)).astype(np.int64)
            if len(cols):
                if concept_rows is None:
                    concept_rows = concepts.rows(list(self.ids[np.maximum(rows, 0)]))
                has = concepts.direct_presence(concept_rows, cols)
                has[rows < 0] = False
                for j, c in enumerate(named):
                    if len(c):
                        covered[:, j] |= has[:, np.searchsorted(cols, c)].any(axis=1)
        alive = np.zeros(len(rows), dtype=bool)
        alive[ok] = self.profile.alive.view[rows[ok]]
        return np.where(alive, covered.mean(axis=1), 0.0).astype(np.float32)


def skill_coverage(need: Need, talents: Sequence[Talent]) -> np.ndarray:
    """Required-skill coverage for a list of talents (builds small indices; for many calls build a
    ``SparseIndex`` and a ``ConceptIndex`` once and use ``SparseIndex.skill_coverage``)."""
    index = SparseIndex.build(talents, processes=1)
    return index.skill_coverage(need, np.arange(len(talents)), ConceptIndex.build(talents, mapper()))


class NeedIndex(_IdIndex):
    """BM25 over needs (title, description, required skills): the reciprocal direction, open needs for a talent."""

    kind = "need"

    def __init__(self, needs: Sequence[Need], processes: int | None = None) -> None:
        super().__init__([n.id for n in needs])
        self.vocab = Vocabulary()
        docs = [self.vocab.encode(t) for t in tokenize_many([need_text(n) for n in needs], processes)]
        self.corpus = Bm25Corpus.from_tokens(docs, self.vocab)

    @classmethod
    def build(cls, needs: Sequence[Need], processes: int | None = None) -> NeedIndex:
        return cls(needs, processes)

    def score(self, query: str | Talent, rows: np.ndarray) -> dict[str, np.ndarray]:
        """``bm25_need``: BM25 of a talent's text (or any text) against need rows (-1 scores 0)."""
        rows = np.asarray(rows, dtype=np.int64)
        out = np.zeros(len(rows), np.float32)
        ok = rows >= 0
        out[ok] = self.corpus.score_rows(self.vocab.lookup(_query_tokens(query)), rows[ok])
        return {"bm25_need": out}

    def search(self, query: str | Talent, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` live needs for a talent (or text): (need ids, scores), best first."""
        q = self.vocab.lookup(_query_tokens(query))
        return top_k(self.corpus.score_all(q), self.corpus.alive.view, self.ids, k)

    def add(self, need: Need) -> int:
        """Index one need (replacing an earlier version with the same id); returns its row."""
        if need.id in self._row:
            self.remove(need.id)
        self.corpus.append(self.vocab.encode(tokenize(need_text(need))))
        return self._new_row(need.id)

    def remove(self, need_id: str) -> None:
        """Drop a need (filled or closed) from every score and search at once."""
        self.corpus.kill(np.array([self._pop_row(need_id)]))

    def compact(self) -> None:
        """Drop removed rows (rows renumber); scores do not change."""
        keep = np.flatnonzero(self.corpus.alive.view)
        _IdIndex.__init__(self, list(self.ids[keep]))
        self.corpus = Bm25Corpus(self.corpus.tf.csr()[keep], self.vocab)
