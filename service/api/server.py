"""Run the API under uvicorn (``talentmatch serve``)."""

from __future__ import annotations

from functools import partial

import uvicorn

from service.api.app import create_app
from service.settings import Settings
from service.store import Store


def serve(host: str | None = None, port: int | None = None, *, settings: Settings | None = None,
          log_level: str = "info") -> None:  # fmt: skip
    """Serve until interrupted. The schema is checked first so a missing or old one fails with one clear
    ``StoreError`` ("run `talentmatch db upgrade`") instead of a start-up traceback."""
    settings = settings or Settings()
    with Store(settings.database_url) as store:
        store.check_schema()
    config = uvicorn.Config(
        partial(create_app, settings),
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        log_level=log_level,
    )
    server = uvicorn.Server(config)
    server.run()
    if not server.started:
        raise RuntimeError("the server did not start; the log above says why")
