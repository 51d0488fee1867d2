"""``talentmatch report``: the data team's HTML report (``service.report``) — drift, feedback rates, exposure and
whether to retrain — written to one self-contained file."""

from __future__ import annotations

import os
import re
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from service.cli.common import JsonOption, UrlOption, WorldOption, err, fail, load_records, open_store, out, print_json

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([dhw])\s*$")
_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}


def parse_since(value: str, now: datetime) -> datetime:
    """``--since``: a duration back from now (``30d``, ``12h``, ``2w``) or an ISO 8601 date or time (UTC unless it
    says otherwise)."""
    if m := _DURATION.match(value):
        return now - float(m.group(1)) * _UNITS[m.group(2)]
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is neither a duration (30d, 12h, 2w) nor an ISO date (2026-11-01)", param_hint="--since"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def report_command(
    url: UrlOption = None,
    world: WorldOption = None,
    out_file: Annotated[Path, typer.Option("--out", dir_okay=False, help="The HTML file to write.")] = Path(
        "report.html"
    ),
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="Window of rankings and feedback: a duration (30d, 12h, 2w) or an ISO date (default: 30d; all of a "
            "--world folder).",
        ),
    ] = None,
    psi: Annotated[
        float | None, typer.Option("--psi", min=0.0, help="PSI that flags a feature (default 0.25).")
    ] = None,
    new_feedback: Annotated[
        int | None,
        typer.Option(
            "--new-feedback",
            min=1,
            help="Feedback events since the champion's data that call for a retrain (default 500).",
        ),
    ] = None,
    max_age_days: Annotated[
        float | None,
        typer.Option("--max-age-days", min=0.0, help="Champion age that calls for a retrain (default 30)."),
    ] = None,
    json_: JsonOption = False,
) -> None:
    """Write an HTML report: feature drift (PSI) against the champion's training rows, feedback rates by post kind
    and stage, the exposure table, and whether to retrain and why."""
    from sqlalchemy.exc import SQLAlchemyError

    from matcher.monitor import RetrainRule
    from service.db import safe_url
    from service.report import gather, render
    from service.store import StoreError

    now = datetime.now(UTC)
    start = None if since is None and world is not None else parse_since(since or "30d", now)
    if start is not None and start >= now:
        raise typer.BadParameter(f"{since!r} is in the future; the window must start before now", param_hint="--since")
    d = RetrainRule()
    rule = RetrainRule(
        psi=d.psi if psi is None else psi,
        new_feedback=d.new_feedback if new_feedback is None else new_feedback,
        max_age_days=d.max_age_days if max_age_days is None else max_age_days,
    )
    database_error = None
    if world is not None:
        from service.report import gather_world

        report = gather_world(load_records(world, None), str(world), since=start, rule=rule, now=now)
    else:
        store = open_store(url)
        try:
            store.check_schema()
            report = gather(store, since=start, rule=rule, now=now)
        except (StoreError, SQLAlchemyError) as e:
            reason = str(getattr(e, "orig", None) or e).strip().splitlines()[0]
            database_error = reason if isinstance(e, StoreError) else f"database {safe_url(store.url)}: {reason}"
            report = gather(None, since=start, rule=rule, now=now, database_error=database_error)
        finally:
            store.close()
    _write(out_file, render(report))
    flagged = [] if report.psi is None else report.psi.loc[report.psi["flagged"], "feature"].tolist()
    if json_:
        print_json({"out": str(out_file), "retrain": report.advice.retrain, "line": report.advice.line,
                    "flagged": flagged, "notes": report.notes, "rankings": report.rankings})  # fmt: skip
    else:
        out.print(f"wrote {out_file}", highlight=False)
        out.print(report.advice.line, highlight=False, soft_wrap=True)
    for note in report.notes:
        if not note.startswith("No database"):  # said once, as the error below
            err.print(f"note: {note}", highlight=False, soft_wrap=True)
    if database_error:
        fail(f"{database_error} (the report at {out_file} says what is missing)")


def _write(path: Path, html: str) -> None:
    """Write ``path`` whole or not at all (a temporary file beside it, renamed)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(html)
        os.replace(tmp, path)
    except OSError as e:
        fail(f"--out {path}: {e.strerror or e}")
