"""Releasing the pages of replaced arrays of a memory-mapped snapshot: memory back, values intact."""

from __future__ import annotations

import mmap
from pathlib import Path

import numpy as np

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
    assert int(left.sum()) + int(right.sum()) > 0 and resident_kb(path) >= 64 * PAGE // 1024  # every page read
    assert release(right) == 31 * PAGE  # its pages after the shared one
    assert resident_kb(path) <= 33 * PAGE // 1024
    assert left[-1] == 7 and np.array_equal(np.frombuffer(right, np.int32, offset=28), values[8 * PAGE + 32 :])
    assert release(np.arange(10)) == 0  # not a mapped array: nothing to do
    del left, right, view
    mapping.close()
