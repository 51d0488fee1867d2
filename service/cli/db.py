"""``talentmatch db``: migrate, import (then alert subscribed enterprises to the new talents), export, stats."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from features.records import RECORD_TYPES
from service.cli.common import (
    JsonOption,
    UrlOption,
    count_table,
    database_errors,
    fail,
    open_store,
    out,
    print_errors,
    print_json,
    progress_bar,
    settings,
)

app = typer.Typer(help="The talent database: migrate, import, export, stats.", no_args_is_help=True)


@app.command("upgrade")
def db_upgrade(url: UrlOption = None, json_: JsonOption = False) -> None:
    """Create or migrate the database schema to the latest revision."""
    from service.db import safe_url

    store = open_store(url)
    with database_errors(store):
        before = store.revision()
        after = store.upgrade()
    doc = {"database": safe_url(store.url), "from_revision": before, "revision": after}
    if json_:
        print_json(doc)
    else:
        change = "already at" if before == after else f"upgraded from {before or 'empty'} to"
        out.print(f"{doc['database']}: {change} revision {after}", highlight=False)


@app.command("import")
def db_import(
    path: Annotated[
        Path, typer.Argument(exists=True, help="A world directory, or one .jsonl/.csv file.", show_default=False)
    ],
    kind: Annotated[
        str | None,
        typer.Option(
            "--kind",
            help=f"Record kind of a single file ({', '.join(RECORD_TYPES)}); inferred from names like talents.csv.",
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Validate and count; write nothing.")] = False,
    no_link: Annotated[
        bool,
        typer.Option("--no-link", help="Leave the new talents unlinked (each its own person until the next link)."),
    ] = False,
    url: UrlOption = None,
    json_: JsonOption = False,
) -> None:
    """Import records (upsert by id): all of them, or none if any is invalid. New talents are then linked into the
    existing people with the saved linkage model (after a first `people link --apply`), unless --no-link."""
    from features.io import kind_of_file
    from service.db import safe_url
    from service.importing import alert_imported_talents

    cfg = settings()
    if kind is not None and kind not in RECORD_TYPES:
        raise typer.BadParameter(f"unknown kind {kind!r}; use one of {', '.join(RECORD_TYPES)}", param_hint="--kind")
    if path.is_dir() and kind is not None:
        raise typer.BadParameter("--kind applies to a single file, not a world directory", param_hint="--kind")
    if not path.is_dir() and kind is None and kind_of_file(path) is None:
        raise typer.BadParameter(
            f"cannot tell the record kind of {path.name}; pass --kind ({', '.join(RECORD_TYPES)})", param_hint="--kind"
        )
    store = open_store(url or cfg.database_url)
    with database_errors(store), progress_bar(not json_) as progress:
        tasks: dict[str, Any] = {}

        def on_read(file: str, n: int) -> None:
            if file not in tasks:
                tasks[file] = progress.add_task(f"reading {Path(file).name}", total=Path(file).stat().st_size)
            progress.advance(tasks[file], n)

        def on_write(k: str, done: int, total: int) -> None:
            if k not in tasks:
                tasks[k] = progress.add_task(f"writing {k}", total=total)
            progress.update(tasks[k], completed=done)

        report = store.import_path(
            path,
            kind,
            dry_run=dry_run,
            max_line_bytes=cfg.max_line_bytes,
            read_progress=on_read,
            write_progress=on_write,
        )
    talents = not dry_run and report.ok and report.inserted.get("talent", 0) + report.updated.get("talent", 0) > 0
    linked, link_failed = _link_imported(store, json_) if talents and not no_link else (None, None)
    if json_:
        print_json({**report.to_dict(max_issues=cfg.max_errors_shown),
                    **({"people": linked.to_dict()} if linked else {})})  # fmt: skip
    if not report.ok:
        print_errors(report.issues, cfg.max_errors_shown)
        files = len({i.file for i in report.issues})
        fail(f"import failed: {len(report.issues)} error(s) in {files} file(s); nothing was written")
    if talents:
        alerted = alert_imported_talents(store, path, kind, cfg)
        if alerted and not json_:
            out.print(f"{alerted} match alert(s) queued for subscribed enterprises", highlight=False)
    if link_failed:
        fail(link_failed)
    if json_:
        return
    table = Table(title=f"{'dry run — would import' if dry_run else 'imported'} {path}")
    for col in ("kind", "inserted", "updated", "unchanged"):
        table.add_column(col, justify="left" if col == "kind" else "right")
    for k in report.inserted:
        table.add_row(k, *(f"{getattr(report, c)[k]:,}" for c in ("inserted", "updated", "unchanged")))
    out.print(table)
    rate = report.records / report.seconds if report.seconds else 0
    tail = "dry run: nothing was written" if dry_run else f"into {safe_url(store.url)}"
    out.print(f"{report.records:,} records in {report.seconds:.2f} s ({rate:,.0f}/s); {tail}", highlight=False)


def _link_imported(store: Any, json_: bool) -> tuple[Any, str | None]:
    """Link the talents in no person yet with the saved model (``service.people.link_new``) after the import
    committed: the report, or ``None`` and the message of a failure (which leaves the import written and the people
    as they were; the command still queues the alerts, then exits 1 with it)."""
    from service import people

    try:
        with progress_bar(not json_) as progress:
            progress.add_task("linking the new talents into the people", total=None)
            linked = people.link_new(store)
    except Exception as e:  # the import is committed: say so, whatever failed
        reason = (str(getattr(e, "orig", None) or e).strip().splitlines() or [type(e).__name__])[0]
        return None, (f"imported, but linking the new talents failed ({reason}); nothing of the linking was written: "
                      "run `talentmatch people link --new` (or --apply) to link them")  # fmt: skip
    finally:
        store.close()
    if not json_:
        if not linked.linked:
            out.print(f"people: new talents not linked ({linked.reason})", highlight=False)
        elif linked.new_records:
            out.print(
                f"people: {linked.new_records:,} new talent(s) linked in {linked.seconds:.1f} s — {linked.joined:,} "
                f"joined an existing person, {linked.new_persons:,} new person(s) of several records, "
                f"{linked.review_pairs:,} pair(s) added to the review queue",
                highlight=False,
            )
    return linked, None


@app.command("export")
def db_export(
    out_dir: Annotated[Path, typer.Argument(file_okay=False, help="Folder to write <kind>.jsonl files into.")],
    url: UrlOption = None,
    json_: JsonOption = False,
) -> None:
    """Export every record as canonical JSONL (sorted by id): re-importing it gives the same database."""
    store = open_store(url)
    with database_errors(store):
        store.check_schema()
        written = store.export(out_dir)
    if json_:
        print_json(
            {"out_dir": str(out_dir), "files": {k: {"path": str(p), "records": n} for k, (p, n) in written.items()}}
        )
        return
    table = Table(title=f"exported to {out_dir}")
    table.add_column("kind")
    table.add_column("file")
    table.add_column("records", justify="right")
    for k, (p, n) in written.items():
        table.add_row(k, p.name, f"{n:,}")
    out.print(table)


@app.command("stats")
def db_stats(url: UrlOption = None, json_: JsonOption = False) -> None:
    """Record counts per kind."""
    from service.db import safe_url

    store = open_store(url)
    with database_errors(store):
        store.check_schema()
        counts = store.counts()
        revision = store.revision()
    if json_:
        print_json({"database": safe_url(store.url), "revision": revision, "counts": counts})
        return
    out.print(count_table(f"{safe_url(store.url)} (revision {revision})", "kind", "records", counts))


@app.command("prune-journal")
def db_prune_journal(
    keep_days: Annotated[
        float | None,
        typer.Option(
            "--keep-days",
            min=0,
            help="Days of changes kept (default: TALENTMATCH_JOURNAL_KEEP_DAYS).",
            show_default=False,
        ),
    ] = None,
    url: UrlOption = None,
    json_: JsonOption = False,
) -> None:
    """Delete change-journal rows older than the retention window that no index snapshot on disk still needs (run
    it nightly, after `talentmatch index snapshot`). A process whose indices are older than the rows kept rebuilds
    them from the records instead of catching up."""
    from service import sync
    from service.db import safe_url

    store = open_store(url)
    with database_errors(store):
        store.check_schema()
        horizon, deleted = sync.prune(store, settings(), keep_days=keep_days)
    doc = {"database": safe_url(store.url), "horizon": horizon, "deleted": deleted}
    if json_:
        print_json(doc)
    else:
        out.print(f"{doc['database']}: {deleted:,} journal rows deleted, pruned up to change {horizon}",
                  highlight=False)  # fmt: skip
