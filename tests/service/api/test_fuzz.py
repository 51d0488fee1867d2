"""The fuzzing guard, bounded: schemathesis requests generated from the OpenAPI document for every route and role
against a real server (``bench.fuzz``), on SQLite and PostgreSQL: no response ≥ 500, every status documented, every
body as documented. ``python -m bench fuzz`` runs the long pass."""

from __future__ import annotations

import pytest

from bench.fuzz import ROLES, fuzz

pytestmark = pytest.mark.slow

REQUESTS = 600
"""Enough to hit each (operation, role, valid/invalid) combination once or twice; ~15 s per database."""


def test_fuzzing_every_route_and_role_finds_no_server_error_or_schema_violation(db_url):
    report = fuzz(db_url, requests=REQUESTS, seed=11)
    assert report.requests >= REQUESTS and report.operations >= 40, report.summary()
    assert report.server_errors == 0 and not report.violations, "\n".join(report.examples)
    assert len(ROLES) == 5 and {401, 403, 422} <= set(report.statuses), report.summary()  # every role was tried
