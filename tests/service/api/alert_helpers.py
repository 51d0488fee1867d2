"""Alert test helpers: a real webhook receiver on loopback that can go down, come up or refuse, and a small world
where known talents match known needs."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from api_helpers import seed, settings_for

from features.indices import Indices
from features.records import RECORD_TYPES, Talent
from service.alerts import subscriptions as subs_db
from service.alerts.matching import AlertMatcher
from service.alerts.signing import HEADER, verify_signature
from service.store import Store

SECRET = "whsec_test_secret_0123456789"


class Receiver:
    """A webhook endpoint on 127.0.0.1: records every request (verifying its signature), answers ``status``, can
    stop and start again on the same port (``down``/``up``) and delay each answer (``delay`` seconds)."""

    def __init__(self, status: int = 200, delay: float = 0.0) -> None:
        self.status, self.delay = status, delay
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        self.port = 0
        self._server: ThreadingHTTPServer | None = None
        self.up()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def up(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                try:
                    verify_signature(SECRET, self.headers.get(HEADER), body)
                    valid = True
                except ValueError:
                    valid = False
                with receiver.lock:
                    receiver.requests.append({"key": self.headers.get("Idempotency-Key"), "body": body, "valid": valid,
                                              "at": time.monotonic()})  # fmt: skip
                time.sleep(receiver.delay)
                self.send_response(receiver.status)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def keys(self) -> list[str]:
        with self.lock:
            return [r["key"] for r in self.requests]


def perovskite_talents(n: int, *, sharing: bool = False, prefix: str = "tp") -> list[Talent]:
    """Talents that fit need n1 of the small world (perovskite, tier B, four months a year)."""
    return [
        Talent(id=f"{prefix}{i}", name=f"研究员{i}", email=f"r{i}@example.org",
               summary=f"Perovskite thin films solar cells researcher {'with tandem devices' if i % 2 else ''}",
               skills=["perovskite", "thin films"], tier="B",
               availability={"mode": "short_term", "months_per_year": 4}, consent={"sharing": sharing})
        for i in range(n)
    ]  # fmt: skip


class World:
    """A seeded SQLite store, its indices and an ``AlertMatcher`` over them (no API server)."""

    def __init__(self, tmp: Path, world_dir: Path, url: str | None = None, **settings) -> None:
        self.url = url or f"sqlite:///{tmp / 'alerts.db'}"
        self.keys = seed(self.url, world_dir)
        self.settings = settings_for(self.url, tmp, **{"alerts_min_relevance": 0.0, **settings})
        self.store = Store(self.url)
        records = {kind: list(self.store.iter_records(kind)) for kind in RECORD_TYPES}
        self.idx = Indices.build(records, encoder=None)
        self.matcher = AlertMatcher(self.store, self.settings, self.idx)

    def subscribe(self, **fields) -> subs_db.Subscription:
        fields = {"enterprise_id": "e1", "need_id": "n1", "min_score": 0.0, **fields}
        sub = subs_db.create(self.store, settings=self.settings, **fields)
        self.matcher.refresh()
        return sub

    def arrive(self, talents: list[Talent], **kwargs):
        """Store and index talents, then match them (what the API's writer does)."""
        self.store.upsert(talents)
        for t in talents:
            self.idx.add_talent(t)
        return self.matcher.match(talents, **kwargs)
