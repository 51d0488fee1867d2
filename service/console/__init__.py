"""The console: server-rendered pages at ``/console`` for recruiters, enterprises and the data team, on the same
service functions and access rules as the API. One module per page group (``auth``, ``needs``, ``search``,
``talents``, ``pipeline``, ``searches``, ``compare``, ``enterprise``, ``models``, ``people``), each an ``APIRouter``;
``session`` holds who is asking and in which language, ``i18n`` every string, ``render`` the templates and error
pages. A new page group is a module with a ``router`` added to ``PAGES``, its strings in ``i18n.CATALOGUE``, its
templates extending ``base.html`` and, if it has a top-level page, a link in ``render.NAV``."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from service.console import (
    auth,
    compare,
    enterprise,
    models,
    needs,
    people,
    pipeline,
    render,
    search,
    searches,
    talents,
)
from service.console.session import PREFIX

PAGES = [auth.router, needs.router, search.router, talents.router, pipeline.router, searches.router, compare.router,
         enterprise.router, models.router, people.router]  # fmt: skip

router = APIRouter(prefix=PREFIX, include_in_schema=False)


@router.get("")
async def home() -> RedirectResponse:
    return RedirectResponse(f"{PREFIX}/needs", status_code=303)


for _page in PAGES:
    router.include_router(_page)


def install(app: FastAPI) -> None:
    """Mount the console on ``app``: pages, static files (``/console/static``) and HTML error pages."""
    app.mount(f"{PREFIX}/static", StaticFiles(directory=Path(__file__).parent / "static"), name="console-static")
    app.include_router(router)
    render.install(app)
