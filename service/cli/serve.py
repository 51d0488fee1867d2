"""``talentmatch serve``: the API with the champion and live indices built from the database."""

from __future__ import annotations

from typing import Annotated

import typer

from service.cli.common import err, fail, settings


def serve_command(
    host: Annotated[str | None, typer.Option("--host", help="Interface (default TALENTMATCH_HOST, 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option("--port", min=1, max=65535, help="Port (default 8000).")] = None,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=1,
            max=64,
            help="Worker processes sharing the port, each with its own indices kept in step through the store's "
            "change journal (TALENTMATCH_SYNC_SECONDS); use PostgreSQL as the store for more than one.",
        ),
    ] = 1,
) -> None:
    """Serve the API (docs at /docs) with the champion model and live indices built from the database."""
    from service.api.server import serve
    from service.store import StoreError

    cfg = settings()
    base = f"http://{host or cfg.host}:{port or cfg.port}"
    err.print(f"talentmatch API: {base}/docs (OpenAPI), {base}/healthz, {base}/metrics", highlight=False)
    if workers > 1 and cfg.database_url.startswith("sqlite"):
        err.print(f"{workers} workers on one SQLite file: writes queue on its file lock; PostgreSQL serves several "
                  "workers or hosts better", highlight=False)  # fmt: skip
    try:
        serve(host, port, settings=cfg, workers=workers)
    except (StoreError, RuntimeError) as e:
        fail(str(e))
