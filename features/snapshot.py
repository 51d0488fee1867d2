"""Versioned on-disk snapshots of :class:`features.indices.Indices`, memory-mapped on load.

A restart at 100k talents rebuilt every index from the database (~55 s). A snapshot is the indices pickled once
(protocol 5): every numpy buffer (table columns, BM25 and concept CSR arrays, dense vectors, the graph's CSR) is
written out of band into one aligned data file, and on load handed back as views of a private (copy-on-write)
memory map of it. Loading so costs the Python objects only, and several processes that load the same snapshot
share those pages through the page cache until one of them writes (an erasure's scrub then writes a private copy
of just the pages it touches). Talent records are pickled one by one into a second file, read (not mapped) and
unpickled on first access (``SnapshotRecords``): pydantic records unpickle at ~0.5 s per 10k, and most are never read.

Not pickled: the dense encoder (the caller passes it to ``load``, which refuses one of another name or version),
the vector cache (re-attached from ``cache_dir``), locks (new ones), faiss indices (``ProfileSearch`` serialises
them), caches (dropped by their classes' ``__getstate__``, rebuilt on use) but the answers the dense and concept
indices remember (``features._topk``) and the graph's memo, which a save prepares for the open needs.

A snapshot is a directory ``snapshot-<seq>-<UTC time>-<random>`` under a root, so names sort by the store's change
journal watermark ``seq`` and then by time. It is written under a temporary name (``.tmp-…``), every file fsynced,
then renamed: a directory with the final name is complete. ``meta.json`` records the format, the features schema,
the dense encoder, the concept vocabulary, counts, time, package version and each file's size and CRC-32, so a
snapshot of other code is refused (``SnapshotRefused``) and a truncated or damaged one is detected
(``SnapshotDamaged``). Pickles execute code when loaded: the snapshot directory must be as trusted as the code.
"""

from __future__ import annotations

import copyreg
import gc
import hashlib
import io
import json
import logging
import mmap
import os
import pickle
import secrets
import shutil
import threading
import weakref
import zlib
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, MutableMapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from features.concepts import ConceptMapper, mapper
from features.dense import NO_DENSE, Encoder, VectorCache, get_encoder
from features.indices import Indices
from features.schema import SCHEMA

log = logging.getLogger(__name__)

FORMAT = 9
"""Bump when the layout of a snapshot or the pickled classes change incompatibly (4: profiles' vectors in float16,
HNSW over fp16 codes; 5: the graph's nodes and edges in arrays, no networkx graph; 6: the graph's walk kept in its
adjacency's values, not in two more matrices; 7: the conflict ties' talents in arrays by table row; 8: the talent
table's incubator column; 9: the tables' columns growable, with spare rows; a snapshot of an older format is passed
over and the indices rebuilt)."""
PREFIX = "snapshot-"
TMP_PREFIX = ".tmp-snapshot-"
META, OBJECTS, BUFFERS, RECORDS = "meta.json", "objects.pkl", "buffers.bin", "records.bin"
ALIGN = 64
"""Every out-of-band buffer starts at a multiple of this (cache-line aligned numpy views)."""
_CHUNK = 16 << 20


class SnapshotError(Exception):
    """A snapshot that cannot be used; the message says which and why."""


class SnapshotRefused(SnapshotError):
    """Made by other code: another snapshot format, features schema, dense encoder or concept vocabulary."""


class SnapshotDamaged(SnapshotError):
    """Truncated, corrupted or unreadable."""


# ---------------------------------------------------------------- what a snapshot must match


def _encoder_of(encoder: str | Encoder | None) -> Encoder | None:
    if encoder is None or encoder == NO_DENSE:
        return None
    return get_encoder(encoder) if isinstance(encoder, str) else encoder


def _concept_vocabulary() -> str:
    """Hash of the concept columns: concept matrices are indexed by them, so a changed taxonomy or skill list
    makes a snapshot's concept rows meaningless."""
    return hashlib.sha256("\n".join(mapper().columns).encode()).hexdigest()[:16]


def expectation(encoder: str | Encoder | None) -> dict[str, Any]:
    """What a snapshot must match to serve this code with ``encoder`` (a name, ``"none"``/``None`` for no dense
    vectors, or an encoder object): format, features schema, encoder name and version, concept vocabulary."""
    enc = _encoder_of(encoder)
    return {
        "format": FORMAT,
        "schema": SCHEMA.version,
        "encoder": None if enc is None else {"name": enc.name, "version": enc.version},
        "concepts": _concept_vocabulary(),
    }


def _package_version() -> str:
    try:
        return metadata.version("talentmatch")
    except metadata.PackageNotFoundError:
        return "unknown"


# ---------------------------------------------------------------- records, unpickled on first access


READ_HELD = 4096
"""Records read most recently that a loaded snapshot keeps unpickled even when nothing else holds them (~20 MB): a
ranking reads its page's talents several times, and nearby rankings share candidates."""


class SnapshotRecords(MutableMapping):
    """``Indices.talents`` of a loaded snapshot: a dict-like mapping (same keys and order) whose records are read
    from the file (``os.pread``) and unpickled when read. A read record stays the same object while anything holds it
    (a weak map) and the last ``READ_HELD`` read are held here; the rest go back to the file, so a day of rankings
    does not unpickle the whole pool into memory (~5 KB a talent). The file is read, not mapped: a mapped page read
    brings its neighbours into the process's resident set with it (the kernel maps 64 kB around a fault), so the
    ~1,000 records 50 rankings read held ~50 MB of it, and a day's rankings would hold the whole file. ``stamp``
    tells whether a record changed without reading it. Assigning, replacing and deleting work as on a dict; a
    deleted stored record (erasure) can no longer be read, and no copy of its bytes is held."""

    def __init__(self, file: io.FileIO, ids: list[str], offsets: np.ndarray) -> None:
        self._file = file
        self._offsets = offsets
        self._items: dict[str, Any] = dict(zip(ids, range(len(ids)), strict=True))  # int: its stored bytes' slot
        self._read: weakref.WeakValueDictionary[str, Any] = weakref.WeakValueDictionary()
        self._held: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def __getitem__(self, key: str):
        value = self._items[key]
        if type(value) is not int:
            return value
        record = self._read.get(key)
        if record is None:
            record = pickle.loads(self._bytes(value))
        with self._lock:  # two first reads at once: both get the object stored first
            record = self._read.setdefault(key, record)
            self._held[key] = record
            self._held.move_to_end(key)
            if len(self._held) > READ_HELD:
                self._held.popitem(last=False)
        return record

    def stamp(self, key: str) -> Any:
        """What the indexed record under ``key`` is, without unpickling it (None when absent): its slot in the file
        until a write replaces it, then the written record. Compare with ``is``."""
        return self._items.get(key)

    def __setitem__(self, key: str, value) -> None:
        with self._lock:
            self._read.pop(key, None)
            self._held.pop(key, None)
        self._items[key] = value

    def __delitem__(self, key: str) -> None:
        del self._items[key]
        with self._lock:
            self._read.pop(key, None)
            self._held.pop(key, None)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def share_keys(self, ids: Sequence[str], row_of: Mapping[str, int]) -> None:
        """Key the records by the talent table's id strings (``ids[row_of[key]]``: the same objects), not by the
        copies split from the snapshot's list of ids: ~57 bytes a talent (57 MB at 1M talents)."""
        self._items = {ids[row] if (row := row_of.get(k)) is not None else k: v for k, v in self._items.items()}

    def raw(self, key: str) -> bytes:
        """The record's pickle: its stored bytes until a write replaced it."""
        value = self._items[key]
        return self._bytes(value) if type(value) is int else pickle.dumps(value, protocol=5)

    def _bytes(self, slot: int) -> bytes:
        start, end = int(self._offsets[slot]), int(self._offsets[slot + 1])
        return os.pread(self._file.fileno(), end - start, start)


def stamps(records: Mapping, keys: Iterable[str]) -> list[Any]:
    """What the record indexed under each key is (None when absent), without unpickling a snapshot's: a write
    replaces it, so an unchanged stamp (``is``) means an unchanged record."""
    return list(map(records.stamp if isinstance(records, SnapshotRecords) else records.get, keys))


# ---------------------------------------------------------------- saving


def _fresh_lock(_lock) -> tuple:
    return threading.Lock, ()


def _fresh_rlock(_lock) -> tuple:
    return threading.RLock, ()


def _process_mapper(_m) -> tuple:
    return mapper, ()


class _Pickler(pickle.Pickler):
    """Locks become new locks, the concept mapper the process-wide one (it is built from packaged data alone), and
    the encoder, the vector cache and the talent records references that ``_Unpickler`` resolves."""

    dispatch_table: ClassVar[dict] = {
        **copyreg.dispatch_table,
        type(threading.Lock()): _fresh_lock,
        type(threading.RLock()): _fresh_rlock,
        ConceptMapper: _process_mapper,
    }

    def __init__(self, file, buffer_callback, refs: dict[int, tuple]) -> None:
        super().__init__(file, protocol=5, buffer_callback=buffer_callback)
        self._refs = refs

    def persistent_id(self, obj):
        return self._refs.get(id(obj))


def _fsync_write(path: Path, chunks) -> tuple[int, int]:
    """Write ``chunks`` (bytes-likes) to a new file, fsync it; returns (size, CRC-32)."""
    size, crc = 0, 0
    with open(path, "wb") as f:
        for c in chunks:
            f.write(c)
            size += memoryview(c).nbytes
            crc = zlib.crc32(c, crc)
        f.flush()
        os.fsync(f.fileno())
    return size, crc


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _records(talents: Mapping) -> Iterator[bytes]:
    raw = talents.raw if isinstance(talents, SnapshotRecords) else None
    for key, value in talents.items() if raw is None else ((k, None) for k in talents):
        yield raw(key) if raw is not None else pickle.dumps(value, protocol=5)


def save(indices: Indices, root: str | os.PathLike, *, seq: int, meta: Mapping | None = None) -> Path:
    """Write a snapshot of ``indices`` into a new directory under ``root`` and return its path.

    ``seq`` is the store's change-journal watermark the indices reflect (``latest`` returns it in the metadata, so
    the caller catches up from there); ``meta`` adds caller fields (JSON-serialisable) to ``meta.json``. The
    indices must not change while this runs (it only reads them): no writer, and no reader that grows them — alert
    matching adds unseen query words to the BM25 vocabulary, and pickling a dict another thread grows fails with
    ``RuntimeError`` (nothing is left behind; save again later). Caches and scratch space readers use are not
    saved. Nothing appears under the final name unless every file was written and fsynced; a failure removes the
    temporary directory and raises."""
    if not isinstance(seq, int) or seq < 0:
        raise ValueError(f"seq must be a non-negative int (the change journal's watermark), got {seq!r}")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    name = f"{PREFIX}{seq:020d}-{now:%Y%m%dT%H%M%S.%f}Z-{secrets.token_hex(3)}"
    tmp = root / f"{TMP_PREFIX}{os.getpid()}-{name.removeprefix(PREFIX)}"
    tmp.mkdir()
    enabled = gc.isenabled()
    gc.disable()  # pickling allocates many short-lived containers; collections would only slow it down
    try:
        files: dict[str, dict] = {}
        offsets = np.zeros(len(indices.talents) + 1, np.int64)

        def records() -> Iterator[bytes]:
            for i, blob in enumerate(_records(indices.talents)):
                offsets[i + 1] = offsets[i] + len(blob)
                yield blob

        size, crc = _fsync_write(tmp / RECORDS, records())
        files[RECORDS] = {"bytes": size, "crc32": crc}

        refs = {id(indices.talents): ("talents", "\n".join(indices.talents), offsets)}
        for dense in (indices.dense, indices.need_dense):
            if dense is not None:
                refs[id(dense.encoder)] = ("encoder", dense.encoder.name, dense.encoder.version)
                if dense.cache is not None:
                    refs[id(dense.cache)] = ("vector-cache",)
        layout: list[tuple[int, int]] = []
        with open(tmp / BUFFERS, "wb") as data:
            state = {"end": 0, "crc": 0}

            def out_of_band(buf: pickle.PickleBuffer) -> bool:
                raw = buf.raw()
                pad = -state["end"] % ALIGN
                if pad:
                    data.write(bytes(pad))
                    state["crc"] = zlib.crc32(bytes(pad), state["crc"])
                start = state["end"] + pad
                data.write(raw)
                state["crc"] = zlib.crc32(raw, state["crc"])
                state["end"] = start + raw.nbytes
                layout.append((start, raw.nbytes))
                return False

            objects = io.BytesIO()
            _Pickler(objects, out_of_band, refs).dump(indices)
            data.flush()
            os.fsync(data.fileno())
        files[BUFFERS] = {"bytes": state["end"], "crc32": state["crc"]}
        size, crc = _fsync_write(tmp / OBJECTS, [objects.getbuffer()])
        files[OBJECTS] = {"bytes": size, "crc32": crc}

        doc = {
            **expectation(indices.dense.encoder if indices.dense is not None else None),
            "seq": seq,
            "created": now.isoformat(),
            "package_version": _package_version(),
            "talents": len(indices.talents),
            "needs": len(indices.needs),
            "files": files,
            "buffers": layout,
            "meta": dict(meta or {}),
        }
        _fsync_write(tmp / META, [json.dumps(doc, ensure_ascii=False, indent=1).encode()])
        _fsync_dir(tmp)
        final = root / name
        os.rename(tmp, final)
        _fsync_dir(root)
        return final
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        if enabled:
            gc.enable()


# ---------------------------------------------------------------- reading


def read_meta(path: str | os.PathLike) -> dict:
    """The snapshot's metadata, with every file present at its recorded size; ``SnapshotDamaged`` if not."""
    path = Path(path)
    try:
        meta = json.loads((path / META).read_bytes())
        files = meta["files"]
        for name in (OBJECTS, BUFFERS, RECORDS):
            size = (path / name).stat().st_size
            if size != files[name]["bytes"]:
                raise SnapshotDamaged(f"snapshot {path}: {name} has {size} bytes, {files[name]['bytes']} were written")
    except SnapshotDamaged:
        raise
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise SnapshotDamaged(f"snapshot {path} is unreadable or incomplete ({type(e).__name__}: {e})") from None
    return meta


def check(path: str | os.PathLike, *, expect: Mapping[str, Any]) -> dict:
    """The metadata of the snapshot at ``path`` if it can serve ``expect`` (from ``expectation``); else
    ``SnapshotRefused`` naming what differs, or ``SnapshotDamaged``. Checks sizes, not checksums (``load`` does)."""
    meta = read_meta(path)
    names = {"format": "snapshot format", "schema": "features schema", "encoder": "dense encoder",
             "concepts": "concept vocabulary"}  # fmt: skip
    for key, what in names.items():
        if meta.get(key) != expect[key]:
            raise SnapshotRefused(
                f"snapshot {path} was made with {what} {_show(meta.get(key))}, this process uses {_show(expect[key])}:"
                " rebuild the indices from the store (and save a new snapshot)"
            )
    return meta


def _show(value) -> str:
    if isinstance(value, dict):
        return f"{value['name']} {value['version']}"
    return "none" if value is None else repr(value)


def _verify(path: Path, name: str, want: int) -> None:
    crc, buf = 0, bytearray(_CHUNK)
    with open(path / name, "rb", buffering=0) as f:
        while n := f.readinto(buf):
            crc = zlib.crc32(memoryview(buf)[:n], crc)
    if crc != want:
        raise SnapshotDamaged(f"snapshot {path}: {name} fails its checksum (damaged on disk?)")


def _map(path: Path) -> memoryview:
    """A private copy-on-write mapping of the file (shared with other processes' until written)."""
    with open(path, "rb") as f:
        if os.fstat(f.fileno()).st_size == 0:
            return memoryview(bytearray())
        return memoryview(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY))


class _Unpickler(pickle.Unpickler):
    def __init__(self, data: bytes, buffers, resolve) -> None:
        super().__init__(io.BytesIO(data), buffers=buffers)
        self._resolve = resolve

    def persistent_load(self, pid):
        return self._resolve(pid)


def load(
    path: str | os.PathLike,
    *,
    encoder: str | Encoder | None,
    cache_dir: str | os.PathLike | None = None,
    verify: bool = True,
) -> Indices:
    """The indices saved at ``path``, with ``encoder`` (a name, ``"none"``/``None``, or an encoder object) attached
    to its dense indices and a ``VectorCache(cache_dir)`` when they had one.

    Refuses (``SnapshotRefused``) a snapshot of another format, schema, concept vocabulary or encoder (name and
    version) and detects (``SnapshotDamaged``) a missing, truncated or, with ``verify``, corrupted file (CRC-32 of
    every file, checked alongside the unpickling)."""
    path = Path(path)
    enc = _encoder_of(encoder)
    meta = check(path, expect=expectation(enc))
    files = meta["files"]
    try:
        objects = (path / OBJECTS).read_bytes()
    except OSError as e:
        raise SnapshotDamaged(f"snapshot {path}: {OBJECTS} unreadable ({e})") from None
    if zlib.crc32(objects) != files[OBJECTS]["crc32"]:
        raise SnapshotDamaged(f"snapshot {path}: {OBJECTS} fails its checksum (damaged on disk?)")
    with ThreadPoolExecutor(2) as pool:
        checks = [pool.submit(_verify, path, name, files[name]["crc32"]) for name in (BUFFERS, RECORDS) if verify]
        data = _map(path / BUFFERS)
        buffers = [data[start : start + size] for start, size in meta["buffers"]]
        cache = VectorCache(cache_dir) if cache_dir is not None else None

        def resolve(pid: tuple):
            match pid:
                case ("talents", ids, offsets):
                    records = open(path / RECORDS, "rb", buffering=0)  # noqa: SIM115 (open while the records live)
                    return SnapshotRecords(records, ids.split("\n") if ids else [], offsets)
                case ("encoder", _, _):
                    return enc
                case ("vector-cache",):
                    return cache
            raise SnapshotDamaged(f"snapshot {path}: unknown reference {pid!r} in {OBJECTS}")

        enabled = gc.isenabled()
        gc.disable()  # millions of new long-lived objects: generational collections would only walk them again
        try:
            indices = _Unpickler(objects, buffers, resolve).load()
        except SnapshotError:
            raise
        except Exception as e:
            raise SnapshotDamaged(f"snapshot {path}: {OBJECTS} does not unpickle ({type(e).__name__}: {e})") from e
        finally:
            if enabled:
                gc.enable()
        for c in checks:
            c.result()
    if not isinstance(indices, Indices):
        raise SnapshotDamaged(f"snapshot {path} holds a {type(indices).__name__}, not Indices")
    indices.talents.share_keys(indices.table.ids, indices.table.row_of)
    return indices


# ---------------------------------------------------------------- choosing and pruning


def snapshots(root: str | os.PathLike) -> list[Path]:
    """Snapshot directories under ``root`` (temporary ones excluded), newest first (highest seq, then time)."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted((p for p in root.iterdir() if p.name.startswith(PREFIX) and p.is_dir()), reverse=True)


def latest(root: str | os.PathLike, *, expect: Mapping[str, Any]) -> tuple[Path, dict] | None:
    """The newest snapshot under ``root`` that can serve ``expect`` (from ``expectation``), with its metadata, or
    None. Snapshots of other code and damaged ones (wrong sizes, unreadable metadata) are passed over, each with a
    logged reason; checksums are checked by ``load``."""
    for path in snapshots(root):
        try:
            return path, check(path, expect=expect)
        except SnapshotError as e:
            log.warning("index snapshot passed over: %s", e)
    return None


def load_latest(
    root: str | os.PathLike, *, encoder: str | Encoder | None, cache_dir: str | os.PathLike | None = None
) -> tuple[Indices, dict] | None:
    """``latest`` then ``load``, newest first, passing over (with a logged reason) snapshots that are refused or
    fail their checksums: the newest usable indices and their metadata, or None (the caller rebuilds)."""
    expect = expectation(encoder)
    for path in snapshots(root):
        try:
            meta = check(path, expect=expect)
            return load(path, encoder=encoder, cache_dir=cache_dir), meta
        except SnapshotError as e:
            log.warning("index snapshot passed over: %s", e)
    return None


def prune(root: str | os.PathLike, keep: int = 2) -> list[Path]:
    """Delete all but the newest ``keep`` snapshots, and temporary directories whose writing process is gone;
    returns what was deleted. A process that has a deleted snapshot mapped keeps reading it (the files live on
    until unmapped)."""
    if keep < 0:
        raise ValueError(f"keep must be at least 0, got {keep}")
    root = Path(root)
    gone = snapshots(root)[keep:]
    if root.is_dir():
        for p in root.iterdir():
            if p.name.startswith(TMP_PREFIX) and not _alive(p.name.removeprefix(TMP_PREFIX).partition("-")[0]):
                gone.append(p)
    for p in gone:
        shutil.rmtree(p, ignore_errors=True)
    return gone


def _alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True
