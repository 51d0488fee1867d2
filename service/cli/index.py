"""``talentmatch index``: the ranking indices' snapshots on disk (``service.snapshots``)."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.table import Table

from service.cli.common import JsonOption, UrlOption, database_errors, fail, open_store, out, print_json, settings

app = typer.Typer(help="Index snapshots: what a start loads instead of rebuilding every index.", no_args_is_help=True)


@app.command("snapshot")
def index_snapshot(
    url: UrlOption = None,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Build every index from the records instead.")] = False,
    json_: JsonOption = False,
) -> None:
    """Save the indices at the journal's head as the newest snapshot (older ones pruned to the last two): the newest
    usable snapshot caught up from the change journal (seconds), or built from every record when there is none or
    with --rebuild. Run it after a large import or every hour or night: a start then catches up only what was
    written since, and running API processes move onto it (TALENTMATCH_SNAPSHOT_POLL_SECONDS)."""
    from service import snapshots, sync

    cfg = settings()
    if snapshots.root(cfg) is None:
        fail("index snapshots are off (TALENTMATCH_SNAPSHOT_DIR is empty); set it to a directory")
    store = open_store(url)
    with database_errors(store):
        opened = snapshots.build(store, cfg) if rebuild else sync.fresh_snapshot(store, cfg)
        t0 = time.perf_counter()
        path = snapshots.save(store, cfg, opened)
        saved = time.perf_counter() - t0
    if path is None:
        fail("a talent was erased while the snapshot was written, so it was deleted again; run the command again")
    size = sum(f.stat().st_size for f in path.iterdir())
    doc = {"path": str(path), "seq": opened.seq, "talents": len(opened.indices.talents),
           "needs": len(opened.indices.needs), "bytes": size, "build_seconds": round(opened.seconds, 1),
           "caught_up_from": opened.path.name if opened.path else None,
           "save_seconds": round(saved, 1)}  # fmt: skip
    if json_:
        print_json(doc)
        return
    how = f"caught up from {opened.path.name}" if opened.path else "built"
    took = f"{how} in {opened.seconds:.1f} s, saved in {saved:.1f} s"
    out.print(f"snapshot {path} at change {opened.seq}: {doc['talents']:,} talents, {doc['needs']:,} needs, "
              f"{size / 2**20:,.0f} MB ({took})", highlight=False)  # fmt: skip


@app.command("list")
def index_list(json_: JsonOption = False) -> None:
    """The snapshots on disk, newest first, and whether this code and encoder can load each (and why not)."""
    from features import snapshot
    from service import snapshots

    cfg = settings()
    where = snapshots.root(cfg)
    expect = snapshot.expectation(snapshots.encoder(cfg))
    rows = []
    for path in snapshot.snapshots(where) if where is not None else ():
        try:
            meta, why = snapshot.check(path, expect=expect), ""
        except snapshot.SnapshotError as e:
            meta, why = {}, str(e)
        rows.append({"name": path.name, "seq": meta.get("seq"), "created": meta.get("created"),
                     "talents": meta.get("talents"), "encoder": meta.get("encoder"), "usable": not why,
                     "why_not": why})  # fmt: skip
    if json_:
        print_json(rows)
        return
    table = Table(title=f"index snapshots in {where}")
    for column in ("name", "change", "created", "talents", "usable"):
        table.add_column(column)
    for r in rows:
        table.add_row(r["name"], str(r["seq"] or ""), r["created"] or "", f"{r['talents'] or 0:,}",
                      "yes" if r["usable"] else f"no: {r['why_not']}")  # fmt: skip
    out.print(table)
