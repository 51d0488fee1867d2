"""API test helpers: seed a store with the small world and keys, settings for tests, a real uvicorn server."""

from __future__ import annotations

import importlib.util
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from service.keys import create_key
from service.settings import Settings
from service.store import Store

ROLES = ("recruiter", "data_team", "admin", "e1", "e2")
"""Key names: the three office roles, and enterprise keys for e1 and e2 of the small world."""


def seed(url: str, world_dir: Path) -> dict[str, str]:
    """Import the small world into ``url`` and create one key per name in ``ROLES``."""
    with Store(url) as store:
        assert store.import_path(world_dir).ok
        return {
            name: create_key(store, "enterprise", name, label=name) if name.startswith("e") else create_key(store, name)
            for name in ROLES
        }


def settings_for(url: str, tmp: Path, **overrides) -> Settings:
    """Test settings: no dense encoder (fast start), a small body cap, the secret key file and index snapshots in
    ``tmp``."""
    defaults = {"secret_key_file": tmp / "secret.key", "snapshot_dir": tmp / "snapshots"}
    return Settings(database_url=url, encoder="none", vector_cache_dir=tmp / "vectors", max_body_bytes=64_000,
                    **{**defaults, **overrides})  # fmt: skip


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@contextmanager
def run_server(app: FastAPI) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a thread on a free loopback port; yields the base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError("uvicorn did not start; see the log")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def _root_conftest():
    """tests/conftest.py loaded under its own name: module-scoped fixtures need its ``write_world`` (pytest's own
    copy is not importable by name, every conftest is called ``conftest``)."""
    spec = importlib.util.spec_from_file_location("talentmatch_tests_root", Path(__file__).parents[2] / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_small_world(directory: Path) -> Path:
    return _root_conftest().write_world(directory)
