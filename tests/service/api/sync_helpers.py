"""Helpers of the tests where one process's writes reach another's rankings (sync, replicas, snapshot starts): a
talent the ranking world's perovskite need ranks, a ranking's ids, and waiting for a bound."""

from __future__ import annotations

import time

import httpx

NEW_PV = {"id": "t-pv9", "name": "周新", "tier": "B", "nationality": "CN", "skills": ["perovskite", "thin films"],
          "summary": "perovskite thin films solar cells, 钙钛矿", "availability": {"mode": "short_term",
          "months_per_year": 4}}  # fmt: skip
"""A talent ``ranking_world``'s need ``n-pv`` ranks."""


def ranked(client: httpx.Client, need: str, h: dict) -> list[str]:
    got = client.get(f"/needs/{need}/candidates?k=20", headers=h)
    assert got.status_code == 200, got.text
    return [c["talent_id"] for c in got.json()["candidates"]]


def within(bound: float, check) -> float:
    """Seconds until ``check()`` holds, measured from now; fails past ``bound``."""
    t0 = time.monotonic()
    while not check():
        assert time.monotonic() - t0 < bound, f"not seen within {bound} s"
        time.sleep(0.05)
    return time.monotonic() - t0
