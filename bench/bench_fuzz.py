"""Fuzzing benchmark: ``bench.fuzz`` for ``REQUESTS`` requests on SQLite and on PostgreSQL; the row's figures are the
requests sent, responses ≥ 500 and schema or status violations (goal: 0 and 0), and the rate.

PostgreSQL: an empty database at ``TALENTMATCH_BENCH_POSTGRES_URL``, or else a throwaway server from Debian's
binaries (``/usr/lib/postgresql/*/bin``) in a temporary folder; without either the PostgreSQL row is skipped."""

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

from bench.fuzz import fuzz

REQUESTS = 10_000


def run() -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="talentmatch-fuzz-") as tmp:
        rows.append(_row("sqlite", fuzz(f"sqlite:///{tmp}/fuzz.db", requests=REQUESTS)))
    with _postgres() as url:
        if url:
            rows.append(_row("postgresql", fuzz(url, requests=REQUESTS)))
    return rows


def _row(database: str, report) -> dict:
    s = report.summary()
    for line in report.examples:
        print(line)
    return {
        "bench": "fuzz",
        "size": f"{database}, {s['operations']} operations × {s['roles']} roles",
        "requests": s["requests"],
        "server_errors": s["server_errors"],
        "violations": s["violations"],
        "positive_rejected": s["positive_rejected"],
        "req_per_s": s["requests_per_second"],
        "goal": f"≥ {REQUESTS:,} requests, 0 responses ≥ 500, 0 violations",
        "ok": s["requests"] >= REQUESTS and s["server_errors"] == 0 and s["violations"] == 0,
        "note": s,
    }


@contextmanager
def _postgres() -> Iterator[str | None]:
    if url := os.environ.get("TALENTMATCH_BENCH_POSTGRES_URL"):
        yield url
        return
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        yield None
        return
    bin_dir = Path(found[-1]).parent
    root = Path(tempfile.mkdtemp(prefix="talentmatch-fuzz-pg-"))
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_user:
        shutil.chown(root, "postgres")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = root / "data"
    run = {"check": True, "capture_output": True}
    try:
        subprocess.run([*as_user, str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E",
                        "UTF8", "--locale=C", "--no-sync"], **run)  # fmt: skip
        options = f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={root} -c fsync=off"
        subprocess.run([*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-o", options,
                        "-w", "start"], **run)  # fmt: skip
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                       capture_output=True)  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)
