"""Readers share the indices (``service.locking``): a first read after a write appends the table's pending rows,
and readers doing that side by side must never see columns of two lengths."""

from __future__ import annotations

import threading

import numpy as np

from features.records import Talent
from features.table import TalentTable


def test_concurrent_first_reads_after_a_write_see_one_table():
    talents = [Talent(id=f"t{i}", summary="s", tier="BCD"[i % 3], salary_expectation=float(i % 50) or None)
               for i in range(20_000)]  # fmt: skip
    table = TalentTable.build(talents)
    rows = np.arange(0, 20_000, 7)
    errors: list[BaseException] = []
    for round_ in range(30):
        table.add(Talent(id=f"new{round_}", summary="s", tier="B"))  # a writer: one pending row
        start = threading.Barrier(6)

        def read(start: threading.Barrier) -> None:
            start.wait()
            try:
                assert len(table.salary_estimate(rows)) == len(rows)
                assert len({len(v) for v in table.gather(rows, ["alive", "salary", "tier_rank"]).values()}) == 1
            except BaseException as e:
                errors.append(e)

        readers = [threading.Thread(target=read, args=(start,)) for _ in range(6)]
        for t in readers:
            t.start()
        for t in readers:
            t.join()
    assert errors == []
    assert len(table.alive) == 20_030


def test_a_write_appends_into_spare_rows_that_a_snapshot_keeps():
    """A loaded snapshot's columns have spare rows: a write fills one in place, where a concatenation copied every
    column (and every mapped page of it) into private memory; readers' views keep their length."""
    import pickle

    table = pickle.loads(pickle.dumps(TalentTable.build(Talent(id=f"t{i}", summary="s") for i in range(800)), 5))
    alive, tiers = table.alive, table.tier_rank
    table.add(Talent(id="new", summary="s", tier="A"))
    table.remove("t3")
    assert np.shares_memory(table.alive, alive) and np.shares_memory(table.tier_rank, tiers)
    assert len(alive) == 800 and len(table.alive) == 801 and table.tier_rank[800] == 5
    assert not table.alive[3] and not alive[3] and table.alive[[0, 800]].all()
    again = pickle.loads(pickle.dumps(table, 5))
    assert len(again.alive) == 801 and again.tier_rank[800] == 5 and not again.alive[3]
