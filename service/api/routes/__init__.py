"""One router per resource; ``ROUTERS`` is the order they appear in the OpenAPI document."""

from service.api.routes import audit, enterprises, health, incubators, keys, needs, platforms, talents

ROUTERS = [
    talents.router,
    needs.router,
    enterprises.router,
    platforms.router,
    incubators.router,
    keys.router,
    audit.router,
    health.router,
]
