"""Prometheus metrics: request latency by route template and status (bounded label sets: the template, never the
raw path), and ranking counters the ranking routes increment. One registry per app, so several apps (tests) can
live in one process."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Seconds; dense around the 30 ms p99 goal of the candidates route."""


class Metrics:
    """The app's metrics. Ranking routes count each ranking served and the candidates each rule removed from it
    (``ranked``)."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.request_seconds = Histogram(
            "talentmatch_http_request_duration_seconds",
            "HTTP request latency by method, route template and status.",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.rankings = Counter(
            "talentmatch_rankings",
            "Rankings served, by route and whether the learned (personalised) model was used.",
            ["route", "personalized"],
            registry=self.registry,
        )
        self.removed_by_rule = Counter(
            "talentmatch_candidates_removed",
            "Candidates removed by each eligibility rule while ranking.",
            ["rule"],
            registry=self.registry,
        )

        self._rankings: dict[tuple[str, bool], Any] = {}
        self._removed: dict[str, Any] = {}

    def ranked(self, route: str, personalized: bool, removed: Mapping[str, int]) -> None:
        """One ranking served (``talentmatch_rankings``) and the candidates each rule removed from it. The counters'
        labelled children are kept here: looking one up by its labels costs ~4 µs, ~40 µs for a page's rules."""
        if (served := self._rankings.get((route, personalized))) is None:
            served = self._rankings[route, personalized] = self.rankings.labels(
                route=route, personalized=str(personalized).lower()
            )
        served.inc()
        for rule, n in removed.items():
            if (counter := self._removed.get(rule)) is None:
                counter = self._removed[rule] = self.removed_by_rule.labels(rule=rule)
            counter.inc(n)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class RequestMetrics:
    """ASGI middleware timing every HTTP request; unmatched paths share one label so scanners cannot blow up
    the series count."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "<unmatched>"
            self.metrics.request_seconds.labels(scope["method"], template, str(status)).observe(
                time.perf_counter() - start
            )
