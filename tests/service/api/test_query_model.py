"""A route whose query is validated by one model (``service.api.query_model``) answers every query string exactly as
FastAPI's own validation does (values, defaults, each 422's ``loc``, type and message), with the same OpenAPI
document, for async and plain endpoints, with and without a ``Request`` parameter, and through an app's own
dependencies; a query model is left to FastAPI."""

from __future__ import annotations

from typing import Annotated

import pytest
from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field

from service.api.deps import no_unknown_query
from service.api.errors import ApiError
from service.api.query_model import QueryModelRoute
from service.api.routes import ranking
from service.api.routes.ranking import (
    IncubatorQuery,
    KQuery,
    LanguageQuery,
    NationalityQuery,
    OffsetQuery,
    PersonalizedQuery,
    ResidenceQuery,
    SiteQuery,
    TierQuery,
)

Code = Annotated[str, Path(pattern=r"^[a-z]+$")]


async def asking(
    code: Code,
    request: Request,
    k: KQuery = 20,
    offset: OffsetQuery = 0,
    tier: TierQuery = None,
    nationality: NationalityQuery = None,
    residence: ResidenceQuery = None,
    site: SiteQuery = None,
    language: LanguageQuery = None,
    incubator: IncubatorQuery = None,
    personalized: PersonalizedQuery = True,
) -> dict:
    return {"code": code, "k": k, "offset": offset, "tier": tier, "nationality": nationality, "residence": residence,
            "site": site, "language": language, "incubator": incubator, "personalized": personalized,
            "path": request.url.path}  # fmt: skip


def plain(code: Code, k: KQuery = 20, tier: TierQuery = None, personalized: PersonalizedQuery = True) -> dict:
    return {"code": code, "k": k, "tier": tier, "personalized": personalized}


class Paging(BaseModel):
    k: int = Field(3, ge=1)


def modelled(code: Code, paging: Annotated[Paging, Query()]) -> dict:  # a query model: left to FastAPI
    return {"code": code} | paging.model_dump()


def app(route_class: type[APIRoute]) -> FastAPI:
    router = APIRouter(route_class=route_class)
    router.get("/a/{code}")(asking)
    router.get("/p/{code}")(plain)
    router.get("/m/{code}")(modelled)
    made = FastAPI(dependencies=[Depends(no_unknown_query)])
    made.include_router(router)
    made.add_exception_handler(ApiError, lambda _, e: JSONResponse({"field": e.field}, e.status))
    return made  # FastAPI's own 422 bodies (every error's loc, type, message, input and context)


QUERIES = [
    "", "k=5", "k=0", "k=abc", "k=", "k=1&k=7", "k=100000", "offset=-1", "offset=3&k=2", "tier=A&tier=B", "tier=Z",
    "tier=A&tier=Q&k=0", "tier=", "nationality=CN&nationality=DE", "nationality=cn", "residence=XXX", "site=jiaxing",
    "site=mars", "language=zh&language=en", "language=Z", "incubator=inc-1", "incubator=", "personalized=false",
    "personalized=0", "personalized=maybe", "unknown=1", "k=3&unknown=1", "k=%00", "tier=%F0%9F%98%80",
]  # fmt: skip


@pytest.fixture(scope="module")
def clients():
    with TestClient(app(APIRoute)) as fastapi_own, TestClient(app(QueryModelRoute)) as one_pass:
        yield fastapi_own, one_pass


@pytest.mark.parametrize("path", ["/a/abc", "/p/abc", "/m/abc"])
def test_every_query_gets_fastapis_own_answer(clients, path):
    fastapi_own, one_pass = clients
    statuses = set()
    for query in QUERIES:
        want, got = fastapi_own.get(f"{path}?{query}"), one_pass.get(f"{path}?{query}")
        assert (got.status_code, got.json()) == (want.status_code, want.json()), query
        statuses.add(want.status_code)
    assert statuses == {200, 422}  # the corpus has both


def test_a_bad_path_is_still_fastapis_422(clients):
    fastapi_own, one_pass = clients
    want, got = fastapi_own.get("/a/ABC?k=5"), one_pass.get("/a/ABC?k=5")
    assert got.status_code == want.status_code == 422 and got.json() == want.json()


def test_the_openapi_document_is_fastapis_own(clients):
    fastapi_own, one_pass = clients
    assert one_pass.get("/openapi.json").json() == fastapi_own.get("/openapi.json").json()
    parameters = one_pass.get("/openapi.json").json()["paths"]["/a/{code}"]["get"]["parameters"]
    assert [p["name"] for p in parameters] == ["code", "k", "offset", "tier", "nationality", "residence", "site",
                                               "language", "incubator", "personalized"]  # fmt: skip


def test_the_ranking_routes_take_their_query_in_one_pass():
    served = {r.path: type(r) for r in ranking.router.routes}
    assert served["/needs/{need_id}/candidates"] is QueryModelRoute
