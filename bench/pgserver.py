"""A throwaway PostgreSQL server from Debian's binaries (``/usr/lib/postgresql/*/bin``), shared by the benchmarks and
the tests' ``postgres_server`` fixture so both start it the same way; not product code.

It trusts local connections: for measuring and testing only, never for data that matters. Tests run it without
fsync (quicker); a benchmark asks for ``durable=True`` so a commit costs what it costs in production.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PG_USER = "postgres"


class PostgresUnavailable(RuntimeError):
    """The server binaries are not installed (``apt-get install postgresql``)."""


def pg_bin() -> Path | None:
    """The newest installed PostgreSQL's ``bin`` folder, or ``None``."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_server_user(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: drop to the ``postgres`` user the Debian package creates."""
    if os.geteuid() != 0:
        return cmd
    if shutil.which("runuser"):
        return ["runuser", "-u", PG_USER, "--", *cmd]
    return ["su", PG_USER, "-s", "/bin/sh", "-c", " ".join(f"'{c}'" for c in cmd)]


@contextmanager
def throwaway_postgres(*, durable: bool = False) -> Iterator[str]:
    """Start a server on 127.0.0.1 in a temporary folder; yields a URL without a database name, then stops it and
    deletes the folder. Raises ``PostgresUnavailable`` without the binaries, ``RuntimeError`` (with the server's
    log) when it does not start."""
    bin_dir = pg_bin()
    if bin_dir is None:
        raise PostgresUnavailable(
            "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin (apt-get install postgresql)"
        )
    root = Path(tempfile.mkdtemp(prefix="talentmatch-pg-"))
    data, log = root / "data", root / "server.log"
    if os.geteuid() == 0:
        shutil.chown(root, PG_USER)
    run = {"check": True, "capture_output": True, "text": True}
    port = _free_port()
    try:
        initdb = [str(bin_dir / "initdb"), "-D", str(data), "-U", PG_USER, "-A", "trust", "-E", "UTF8"]
        subprocess.run(_as_server_user([*initdb, "--locale=C", *([] if durable else ["--no-sync"])]), **run)
        options = f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={root}"
        options += " -c max_connections=50"
        if not durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        subprocess.run(
            _as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "start"]),
            **run,
        )
    except subprocess.CalledProcessError as e:
        detail = e.stderr + (log.read_text() if log.exists() else "")
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"could not start the throwaway PostgreSQL: {detail}") from e
    try:
        yield f"postgresql+psycopg://{PG_USER}@127.0.0.1:{port}"
    finally:
        subprocess.run(
            _as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]),
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


def create_database(server_url: str, name: str) -> str:
    """Create database ``name`` on a server URL (as ``throwaway_postgres`` yields); returns the database's URL."""
    import psycopg

    admin = server_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(f"{admin}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{server_url}/{name}"
