"""``talentmatch people``: which talent records are one person (``features.people``), counted."""

from __future__ import annotations

from typing import Annotated

import typer

from service.cli.common import JsonOption, UrlOption, WorldOption, load_records, out, print_json, progress_bar

app = typer.Typer(help="People: talent records of one person, linked.", no_args_is_help=True)

ThresholdOption = Annotated[
    float | None,
    typer.Option("--threshold", min=0.01, max=0.99, help="Match probability from which two records are one person "
                 "(default 0.5); pairs from 0.1 up to it are listed for review."),
]  # fmt: skip


@app.command("link")
def link_command(
    world: WorldOption = None, url: UrlOption = None, threshold: ThresholdOption = None, json_: JsonOption = False
) -> None:
    """Link the talents into persons and print the counts (nothing is written)."""
    from features.people import REVIEW_THRESHOLD, THRESHOLD, link

    talents = load_records(world, url).get("talent", [])
    threshold = THRESHOLD if threshold is None else threshold
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
