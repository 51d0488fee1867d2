"""One router per resource; ``ROUTERS`` is the order they appear in the OpenAPI document."""

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
    searches,
    subscriptions,
    talents,
)

ROUTERS = [
    talents.router,
    erasure.router,
    people.router,
    needs.router,
    ranking.router,
    pipeline.router,
    searches.router,
    subscriptions.router,
    alerts.router,
    enterprises.router,
    platforms.router,
    incubators.router,
    models.router,
    keys.router,
    audit.router,
    health.router,
]
