"""One router per resource; ``ROUTERS`` is the order they are matched and appear in the OpenAPI document. Health
comes first: FastAPI builds an included router's routes (dependants, model fields) on the first request matched
through it, so a start's first ``/readyz`` answer builds only its own router, not all the others (~1 s at load 5).
Ranking comes next: each request is matched against the routes in this order, and the hot route's (``GET
/needs/{id}/candidates``) scan past 16 others cost ~0.1 ms of a lone page's wall time (stop 49, 100k). The order
changes no dispatch while no two routers answer the same method and path (``tests/service/api/test_app.py``)."""

from service.api.routes import (
    alerts,
    audit,
    enterprises,
    erasure,
    health,
    incubators,
    keys,
    models,
    needs,
    people,
    pipeline,
    platforms,
    ranking,
    relations,
    searches,
    subscriptions,
    talents,
)

ROUTERS = [
    health.router,
    ranking.router,
    talents.router,
    erasure.router,
    people.router,
    needs.router,
    pipeline.router,
    searches.router,
    subscriptions.router,
    alerts.router,
    enterprises.router,
    platforms.router,
    incubators.router,
    relations.router,
    models.router,
    keys.router,
    audit.router,
]
