"""Import throughput into a fresh SQLite file and a fresh PostgreSQL schema: parse + validate + reference check +
write, end to end, the same world into each.

The talents come from the demo world generator (realistic profiles with works, skills and education); generating
them is not timed. ``cpu_seconds`` is this process's CPU time, the figure to read on a busy machine; for PostgreSQL
``server_cpu_seconds`` adds the server's processes (read from ``/proc`` when the server runs on this machine).

PostgreSQL: a fresh schema in the database at ``BENCH_PG_URL`` (dropped afterwards), or else a throwaway server from
Debian's binaries (``bench.pgserver``, fsync on like a real server); without either the PostgreSQL rows are skipped.
``BENCH_IMPORT_TALENTS`` sets the number of talents (default 20,000).
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

from bench.pgserver import PostgresUnavailable, create_database, throwaway_postgres
from demo.world import generate_world
from service.store import Store

N = int(os.environ.get("BENCH_IMPORT_TALENTS", "20000"))
GOAL = 5_000


def run(n: int = N) -> list[dict]:
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        world = Path(tmp) / "world"
        generate_world(world, talents=n, seed=7)
        rows += _measure("sqlite", f"sqlite:///{Path(tmp) / 'bench.db'}", world, n, Path(tmp), lambda: None)
        with _postgres() as pg:
            if pg is None:
                print("bench import: no PostgreSQL (set BENCH_PG_URL or install postgresql); its rows are skipped")
            else:
                url, server_cpu = pg
                rows += _measure("postgresql", url, world, n, Path(tmp), server_cpu)
    return rows


def _measure(store_name: str, url: str, world: Path, n: int, tmp: Path, server_cpu: Callable[[], float | None]):
    rows = []

    def timed(fn):
        wall, cpu, server = time.perf_counter(), time.process_time(), server_cpu()
        result = fn()
        server_after = server_cpu()
        extra = {} if server is None or server_after is None else {"server_cpu_seconds": server_after - server}
        return result, time.perf_counter() - wall, time.process_time() - cpu, extra

    with Store(url) as store:
        store.upgrade()
        store.import_path(world / "incubators.jsonl")
        report, seconds, cpu, extra = timed(lambda: store.import_path(world / "talents.jsonl"))
        assert report.ok and report.inserted == {"talent": n}, report.issues[:5]
        ok = n / seconds >= GOAL
        rows.append(_row("db.import.talents", store_name, n, seconds, cpu, extra, f">= {GOAL}/s", ok))

        report, seconds, cpu, extra = timed(lambda: store.import_path(world))
        assert report.ok, report.issues[:5]
        rows.append(_row("db.import.world (rest of the world)", store_name, report.records, seconds, cpu, extra))

        report, seconds, cpu, extra = timed(lambda: store.import_path(world))
        assert report.ok and sum(report.unchanged.values()) == report.records
        rows.append(_row("db.reimport.world (all unchanged)", store_name, report.records, seconds, cpu, extra))

        written, seconds, cpu, extra = timed(lambda: store.export(tmp / f"export-{store_name}"))
        rows.append(_row("db.export.world", store_name, sum(c for _, c in written.values()), seconds, cpu, extra))
    return rows


def _row(name, store_name, size, seconds, cpu, extra, goal="", ok=True) -> dict:
    return {
        "bench": name,
        "store": store_name,
        "size": size,
        "seconds": round(seconds, 3),
        "cpu_seconds": round(cpu, 3),
        **{k: round(v, 3) for k, v in extra.items()},
        "per_second": round(size / seconds),
        "goal": goal,
        "ok": ok,
    }


@contextmanager
def _postgres() -> Iterator[tuple[str, Callable[[], float | None]] | None]:
    """(URL of a fresh schema, the server's CPU seconds so far), or ``None`` when there is no PostgreSQL."""
    given = os.environ.get("BENCH_PG_URL")
    server = nullcontext(None) if given else throwaway_postgres(durable=True)
    try:
        server_url = server.__enter__()
    except PostgresUnavailable:
        yield None
        return
    try:
        database = given or create_database(server_url, "bench_import")
        with _schema(database) as url:
            yield url, _server_cpu_reader(url)
    finally:
        server.__exit__(None, None, None)


@contextmanager
def _schema(database_url: str) -> Iterator[str]:
    """A fresh schema, first on the search path, dropped afterwards: the bench never touches existing tables."""
    import psycopg

    from service.db import normalize_url

    url = normalize_url(database_url)
    admin = url.replace("postgresql+psycopg://", "postgresql://")
    schema = f"bench_import_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def _server_cpu_reader(url: str) -> Callable[[], float | None]:
    """A function summing the CPU seconds of the server's postmaster and its children (backends, WAL writer,
    checkpointer) from ``/proc``; it returns ``None`` when the server is not a process this machine can see."""
    import psycopg

    admin = url.replace("postgresql+psycopg://", "postgresql://").split("?", 1)[0]
    with psycopg.connect(admin) as conn:
        backend = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    # the pid is the server's: only a process here named postgres is it (a remote server's pid means nothing here)
    found = _stat(backend)
    postmaster = found[1] if found and _comm(backend) == "postgres" == _comm(found[1]) else None
    tick = os.sysconf("SC_CLK_TCK")

    def total() -> float | None:
        if postmaster is None or _stat(postmaster) is None:
            return None
        cpu = 0
        for entry in os.scandir("/proc"):
            if entry.name.isdigit() and (s := _stat(int(entry.name))) and postmaster in (s[0], s[1]):
                cpu += s[2]
        return cpu / tick

    return total


def _comm(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return None


def _stat(pid: int) -> tuple[int, int, int] | None:
    """(pid, parent pid, user + system clock ticks) of a process, or ``None``."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return pid, int(fields[1]), int(fields[11]) + int(fields[12])


if __name__ == "__main__":
    for row in run():
        print(row)
