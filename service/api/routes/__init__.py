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
    pipeline,
    platforms,
    ranking,
    relations,
    searches,
    subscriptions,
    talents,
)

ROUTERS = [
    talents.router,
    erasure.router,
    needs.router,
    ranking.router,
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
    health.router,
]
