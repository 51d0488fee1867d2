"""``talentmatch people``: which talent records are one person (``features.people``): counted, or stored with
``--apply`` (``service.people``), the review queue, the office's confirm/reject, and undo."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated

import typer

from service.cli.common import (
    JsonOption,
    UrlOption,
    WorldOption,
    database_errors,
    fail,
    load_records,
    open_store,
    out,
    print_json,
    progress_bar,
)

if TYPE_CHECKING:
    from service.people import Side

app = typer.Typer(help="People: talent records of one person, linked.", no_args_is_help=True)

ThresholdOption = Annotated[
    float | None,
    typer.Option("--threshold", min=0.01, max=0.99, help="Match probability from which two records are one person "
                 "(default 0.5); pairs from 0.1 up to it are listed for review."),
]  # fmt: skip


ApplyOption = Annotated[
    bool,
    typer.Option("--apply", help="Store the persons and the review queue in the database (all or nothing). A re-run "
                 "scores the whole pool again but places only records in no person yet, under the office's decisions."),
]  # fmt: skip
NewOption = Annotated[
    bool,
    typer.Option("--new", help="Link only the talents in no person yet (written since the last link), scored against "
                 "the existing people with the model the last --apply saved, and store them (what `db import` does)."),
]  # fmt: skip
PairArg = Annotated[str, typer.Argument(help="A talent id.", show_default=False)]


@app.command("link")
def link_command(
    world: WorldOption = None,
    url: UrlOption = None,
    threshold: ThresholdOption = None,
    apply: ApplyOption = False,
    new: NewOption = False,
    json_: JsonOption = False,
) -> None:
    """Link the talents into persons and print the counts (nothing is written without --apply or --new)."""
    from features.people import REVIEW_THRESHOLD, THRESHOLD, link

    if new:
        if world is not None or apply or threshold is not None:
            fail("--new links a database's new talents with the saved model and its thresholds: pass --url (or "
                 "TALENTMATCH_DATABASE_URL) alone, not --world, --apply or --threshold")  # fmt: skip
        _link_new(url, json_)
        return
    threshold = THRESHOLD if threshold is None else threshold
    if apply:
        if world is not None:
            fail("--apply stores persons in a database: pass --url (or TALENTMATCH_DATABASE_URL), not --world")
        _apply(url, threshold, min(REVIEW_THRESHOLD, threshold), json_)
        return
    talents = load_records(world, url).get("talent", [])
    with progress_bar(not json_) as progress:
        progress.add_task(f"linking {len(talents):,} talents", total=None)
        linkage = link(talents, threshold=threshold, review_threshold=min(REVIEW_THRESHOLD, threshold))
    people = linkage.people()
    doc = {
        "records": len(linkage.persons),
        "persons": len(people),
        "multi_record_persons": sum(len(r) > 1 for r in people.values()),
        "review_pairs": len(linkage.review),
        "threshold": threshold,
        "seconds": round(linkage.seconds, 2),
    }
    if json_:
        print_json(doc)
        return
    for key, value in doc.items():
        out.print(f"{key.replace('_', ' ')}: {value:,}", highlight=False)


def _apply(url: str | None, threshold: float, review_threshold: float, json_: bool) -> None:
    from service import people

    store = open_store(url)
    with database_errors(store):
        store.check_schema()
        talents = list(store.iter_records("talent"))
        with progress_bar(not json_) as progress:
            progress.add_task(f"linking {len(talents):,} talents", total=None)
            report = people.apply(store, talents, threshold, review_threshold)
    doc = {**asdict(report), "threshold": threshold, "applied": True}
    if json_:
        print_json(doc)
        return
    for key, value in doc.items():
        out.print(f"{key.replace('_', ' ')}: {value:,}" if not isinstance(value, bool) else f"{key}: yes",
                  highlight=False)  # fmt: skip


def _link_new(url: str | None, json_: bool) -> None:
    from service import people

    store = open_store(url)
    with database_errors(store):
        store.check_schema()
        with progress_bar(not json_) as progress:
            progress.add_task("linking the new talents into the people", total=None)
            report = people.link_new(store)
    if json_:
        print_json(report.to_dict())
        if not report.linked:
            raise typer.Exit(1)
        return
    if not report.linked:
        fail(str(report.reason))
    for key, value in report.to_dict().items():
        if key not in ("linked", "reason"):
            out.print(f"{key.replace('_', ' ')}: {value:,}", highlight=False)


@app.command("review")
def review_command(url: UrlOption = None, json_: JsonOption = False) -> None:
    """The pairs waiting for review, most probable first: both records side by side (e-mail masked)."""
    from service import people

    store = open_store(url)
    with database_errors(store):
        store.check_schema()
        items = people.review(store)
    if json_:
        print_json([i.to_dict() for i in items])
        return
    if not items:
        out.print("no pairs waiting for review", highlight=False)
        return
    from rich.table import Table

    table = Table(title=f"{len(items)} pair(s) to review")
    for column in ("p", "agreed", "left", "right"):
        table.add_column(column)
    for i in items:
        table.add_row(f"{i.probability:.2f}", ", ".join(i.agreed), _side(i.left), _side(i.right))
    out.print(table)


def _side(side: Side) -> str:
    names = " / ".join(dict.fromkeys(n for n in (side.name, side.name_zh, side.name_en) if n))
    return (f"{side.talent_id} (person {side.person_id})\n{names}\n{side.employer or '-'}\n{side.email or '-'}\n"
            f"{side.works} work(s)")  # fmt: skip


def _decide(left: str, right: str, decision: str, url: str | None, json_: bool) -> None:
    from service import people

    store = open_store(url)
    with database_errors(store):
        store.check_schema()
        doc = people.decide(store, left, right, decision)
    if json_:
        print_json(doc)
        return
    persons = ", ".join(f"{t} → {p}" for t, p in doc["persons"].items())
    out.print(f"{decision}ed {doc['left']} and {doc['right']} ({persons})", highlight=False)


@app.command("confirm")
def confirm_command(left: PairArg, right: PairArg, url: UrlOption = None, json_: JsonOption = False) -> None:
    """Confirm that two records are one person: their persons merge, and no re-link parts them."""
    _decide(left, right, "confirm", url, json_)


@app.command("reject")
def reject_command(left: PairArg, right: PairArg, url: UrlOption = None, json_: JsonOption = False) -> None:
    """Reject a pair: the two records are never merged again, not even through a third record."""
    _decide(left, right, "reject", url, json_)


@app.command("undo")
def undo_command(
    person: Annotated[str, typer.Argument(help="A person id.", show_default=False)],
    url: UrlOption = None,
    json_: JsonOption = False,
) -> None:
    """Split a person back into its records; recorded, so a re-link does not merge them again."""
    from service import people

    store = open_store(url)
    with database_errors(store):
        store.check_schema()
        doc = people.undo(store, person)
    if json_:
        print_json(doc)
        return
    out.print(f"person {person} split into {len(doc['records'])} records: {', '.join(doc['records'])}",
              highlight=False)  # fmt: skip
