"""Run the API under uvicorn (``talentmatch serve``): one process by default, or ``workers`` processes sharing the
port, each with its own indices, sync poller (``service.sync``), model watch and alert dispatcher."""

from __future__ import annotations

from functools import partial

import uvicorn
from fastapi import FastAPI

from service import snapshots
from service.api.app import create_app
from service.settings import Settings
from service.store import Store


def app_from_environment() -> FastAPI:
    """The app of one worker process of ``serve --workers N``: its settings come from the ``TALENTMATCH_*``
    environment (and ``.env``), which every worker inherits."""
    return create_app(Settings())


def serve(host: str | None = None, port: int | None = None, *, settings: Settings | None = None,
          log_level: str = "info", workers: int = 1) -> None:  # fmt: skip
    """Serve until interrupted. The schema is checked first so a missing or old one fails with one clear
    ``StoreError`` ("run `talentmatch db upgrade`") instead of a start-up traceback. With ``workers`` > 1 uvicorn
    starts that many processes from ``app_from_environment`` (``settings`` must then be the environment's) and
    restarts one that dies; an index snapshot is made first when there is none, so they all load it."""
    settings = settings or Settings()
    with Store(settings.database_url) as store:
        store.check_schema()
    host, port = host or settings.host, port or settings.port
    if workers > 1:
        snapshots.ensure(settings)  # the workers map one snapshot instead of each building its own indices
        uvicorn.run("service.api.server:app_from_environment", factory=True, host=host, port=port, workers=workers,
                    log_level=log_level)  # fmt: skip
        return
    config = uvicorn.Config(partial(create_app, settings), factory=True, host=host, port=port, log_level=log_level)
    server = uvicorn.Server(config)
    server.run()
    if not server.started:
        raise RuntimeError("the server did not start; the log above says why")
