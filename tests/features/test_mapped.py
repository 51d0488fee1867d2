"""Releasing the pages of replaced arrays of a memory-mapped snapshot: memory back, values intact."""

from __future__ import annotations

import mmap
import pickle
import struct
from pathlib import Path

import numpy as np

from features._growable import GrowableVector
from features._mapped import release

PAGE = mmap.PAGESIZE


def resident_kb(path: Path) -> int:
    """This process's resident kB of its mappings of ``path`` (/proc/self/smaps)."""
    total, inside = 0, False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = line.split()
        if head and "-" in head[0] and len(head) >= 5 and not head[0].endswith(":"):
            inside = head[-1] == str(path)
        elif inside and head[0] == "Rss:":
            total += int(head[1])
    return total


def present_pages(mapping: mmap.mmap) -> list[int]:
    """The pages of ``mapping`` in this process's page tables (/proc/self/pagemap's present bit): unlike the
    mapping's Rss, blind to the pages the kernel maps around a fault outside the range a test asks about."""
    start = np.frombuffer(mapping, np.uint8, count=1).ctypes.data // PAGE
    with open("/proc/self/pagemap", "rb") as f:
        f.seek(8 * start)
        entries = f.read(8 * (len(mapping) // PAGE))
    return [i for i, (entry,) in enumerate(struct.iter_unpack("<Q", entries)) if entry >> 63]


def loaded_on_a_mapping(obj, tmp_path: Path):
    """``obj`` pickled with its one array out of band, as an index snapshot saves it, and loaded back onto a private
    file mapping of that array's bytes; returns (the loaded object, the mapping)."""
    buffers: list[pickle.PickleBuffer] = []
    data = pickle.dumps(obj, protocol=5, buffer_callback=buffers.append)
    path = tmp_path / "buffers.bin"
    path.write_bytes(buffers[0].raw())
    with path.open("rb") as f:
        mapping = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)
    return pickle.loads(data, buffers=[memoryview(mapping)]), mapping


def test_release_drops_whole_pages_of_a_mapped_array_and_keeps_values_and_neighbours_writes(tmp_path):
    path = tmp_path / "buffers.bin"
    values = np.arange(64 * PAGE // 4, dtype=np.int32)
    path.write_bytes(values.tobytes())
    with path.open("rb") as f:
        mapping = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)
    view = memoryview(mapping)
    left = np.frombuffer(view[: 32 * PAGE + 100], np.uint8)  # shares a page with ``right``
    right = np.frombuffer(view[32 * PAGE + 100 :], np.uint8)
    left[-1] = 7  # written (copy-on-write): the edge page must not be released with ``right``
    assert int(left.sum()) + int(right.sum()) > 0 and present_pages(mapping) == list(range(64))  # every page read
    assert release(right) == 31 * PAGE  # its pages after the shared one
    assert not set(present_pages(mapping)) & set(range(33, 64))
    assert left[-1] == 7 and np.array_equal(np.frombuffer(right, np.int32, offset=28), values[8 * PAGE + 32 :])
    assert release(np.arange(10)) == 0  # not a mapped array: nothing to do
    del left, right, view
    mapping.close()


def test_a_loaded_vector_hands_back_its_loaded_pages_and_keeps_what_was_appended(tmp_path):
    """A vector unpickled onto a private file mapping (as an index snapshot loads) and appended to: ``release`` may
    drop only the whole pages of the values it was loaded with; a page an append wrote would go back to the file's
    zeros (the spare room)."""
    n = 64 * PAGE // 4 + 100  # the last loaded page is shared with the appended values
    loaded, mapping = loaded_on_a_mapping(GrowableVector(np.arange(n, dtype=np.int32)), tmp_path)
    loaded.extend(np.full(2 * PAGE // 4, -1, dtype=np.int32))  # into the mapped spare room: written pages
    assert not loaded._buf.flags.owndata and int(loaded.view.sum()) and set(range(67)) <= set(present_pages(mapping))
    assert loaded.release() == 64 * PAGE
    assert not set(present_pages(mapping)) & set(range(64))  # the written pages 64..66 are the process's own
    assert np.array_equal(loaded.view[:n], np.arange(n)) and (loaded.view[n:] == -1).all()
    assert GrowableVector(np.arange(n)).release() == 0  # built, not loaded: nothing mapped
    del loaded
    mapping.close()


def test_loaded_dense_rows_hand_back_their_pages_but_those_an_erasure_or_an_append_wrote(tmp_path):
    """A dense index's vectors unpickled onto a private file mapping, as a snapshot loads them: a ranking reads a few
    rows and the kernel maps ~64 kB around each, so ``release`` hands the pages back after a search, all but the
    pages holding a row written since the load (an erasure's zeros, an appended talent), whose private copy is the
    only one."""
    from features.dense import _Grow

    rows_per_page = PAGE // 512
    values = np.random.default_rng(0).standard_normal((64 * rows_per_page, 256)).astype(np.float16)
    grow = _Grow((256,), np.float16)
    grow.extend(values)  # 512 rows and 64 spare: 72 pages
    loaded, mapping = loaded_on_a_mapping(grow, tmp_path)
    erased, appended = 100, np.ones((3, 256), dtype=np.float16)
    loaded.zero(erased, erased + 1)  # on page 12
    assert loaded.extend(appended) == len(values)  # rows 512–514: page 64, in the mapped spare room
    assert float(loaded.data.astype(np.float32).sum()) and present_pages(mapping) == list(range(72))  # all read
    assert loaded.release() > 0
    assert present_pages(mapping) == [erased // rows_per_page, len(values) // rows_per_page]
    kept = np.ones(len(values), dtype=bool)
    kept[erased] = False
    assert np.array_equal(loaded.view[: len(values)][kept], values[kept])  # read again from the file
    assert not loaded.view[erased].any() and np.array_equal(loaded.view[len(values) :], appended)
    assert grow.release() == 0  # built, not loaded: nothing mapped
    del loaded
    mapping.close()
