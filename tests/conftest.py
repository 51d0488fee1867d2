"""Shared fixtures: a throwaway PostgreSQL server for the session, a ``db_url`` over SQLite and PostgreSQL, and a small
handmade world with a known shape.

The PostgreSQL server uses Debian's binaries (``/usr/lib/postgresql/*/bin``; ``make test`` installs them when
missing). Without them the PostgreSQL tests are skipped on a developer machine but fail under CI, so CI can never
pass by skipping them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from bench.pgserver import PostgresUnavailable, create_database, throwaway_postgres


@pytest.fixture(autouse=True)
def snapshots_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Index snapshots (``TALENTMATCH_SNAPSHOT_DIR``) of every app, CLI and subprocess a test starts go to its own
    folder, never the checkout's ``data/snapshots``."""
    monkeypatch.setenv("TALENTMATCH_SNAPSHOT_DIR", str(tmp_path / "snapshots"))


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A PostgreSQL server on 127.0.0.1 for this session (``bench.pgserver``); yields a URL without a database name."""
    server = throwaway_postgres()
    try:
        url = server.__enter__()
    except PostgresUnavailable as e:
        if os.environ.get("CI"):
            pytest.fail(f"{e} — required under CI")
        pytest.skip(str(e))
    except RuntimeError as e:
        pytest.fail(str(e))
    try:
        yield url
    finally:
        server.__exit__(None, None, None)


@pytest.fixture(scope="session")
def postgres_database(postgres_server: str) -> str:
    """One database for the session's tests (each test gets its own schema in it: far quicker than a database)."""
    return create_database(postgres_server, "talentmatch_test")


@pytest.fixture
def postgres_url(postgres_database: str) -> Iterator[str]:
    """A fresh, empty schema (first on the search path) in the session's database, dropped afterwards."""
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = postgres_database.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    yield f"{postgres_database}?options=-csearch_path%3D{schema}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The store's URL, once for a real SQLite file and once for a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'talentmatch.db'}"
    return request.getfixturevalue("postgres_url")


# --- a small handmade world ----------------------------------------------------------------------------------------


def small_world() -> dict[str, list[dict]]:
    """Two platforms, an incubator, two enterprises, three needs, four talents, three feedback events, two
    relations: every kind and every reference, sparse and full records, Chinese and English text."""
    return {
        "platform": [
            {"id": "p-sci", "name": "嘉兴科技城", "name_en": "Jiaxing Science City", "industries": ["software", "ai"]},
            {"id": "p-xiu", "name": "秀洲国家高新区"},
        ],
        "incubator": [
            {"id": "inc-1", "name": "海纳孵化器一号", "country": "DE", "city": "Synthburg", "city_synthetic": True},
        ],
        "enterprise": [
            {"id": "e1", "name": "嘉光新能源", "platform_id": "p-xiu", "industries": ["photovoltaics"]},
            {"id": "e2", "name": "Acme Chips"},
        ],
        "need": [
            {"id": "n1", "title": "钙钛矿电池研发负责人", "enterprise_id": "e1", "kind": "special_researcher",
             "months_per_year": 3, "min_tier": "C", "required_skills": ["perovskite", "thin films"]},
            {"id": "n2", "title": "IC design lead", "description": "RISC-V SoC", "enterprise_id": "e2"},
            {"id": "n3", "title": "Remote adviser"},
        ],
        "talent": [
            {"id": "t1", "name": "李伟", "name_en": "Li Wei", "tier": "B", "nationality": "CN",
             "residence": {"country": "CN", "city": "上海", "in_yrd": True}, "skills": ["perovskite", "钙钛矿"],
             "works": [{"title": "Stable perovskite cells", "year": 2021, "kind": "paper"}],
             "availability": {"mode": "short_term", "months_per_year": 4}, "consent": {"sharing": True},
             "updated_at": "2024-05-01T10:00:00+08:00"},
            {"id": "t2", "summary": "RISC-V processor architect, 12 years at a fab"},
            {"id": "t3", "name": "Anna Schmidt", "nationality": "DE", "incubator_id": "inc-1", "tier": "D",
             "education": [{"degree": "phd", "institution": "TU Synth", "year": 2015}]},
            {"id": "t4", "name_zh": "王芳", "languages": ["zh", "en"], "sites": ["jiaxing", "shanghai_enclave"]},
        ],
        "feedback": [
            {"need_id": "n1", "talent_id": "t1", "action": "shortlist", "time": "2024-05-02T09:00:00Z"},
            {"id": "fb-2", "need_id": "n2", "talent_id": "t2", "action": "contact", "actor": "recruiter-7"},
            {"id": "fb-3", "need_id": "n1", "talent_id": "t3", "action": "reject", "position": 4},
        ],
        "relation": [
            {"talent_id": "t3", "person": "Li Wei", "kind": "co_author", "source": "self-declared"},
            {"id": "rel-2", "talent_id": "t2", "enterprise_id": "e2", "kind": "former_employee",
             "start": "2009-09-01", "end": "2015-01-31", "source": "office import"},
        ],
    }  # fmt: skip


def write_world(directory: Path, world: dict[str, list[dict]] | None = None) -> Path:
    """Write a world (default: ``small_world()``) as JSONL files named as ``WORLD_FILES`` says."""
    from features.records import WORLD_FILES

    directory.mkdir(parents=True, exist_ok=True)
    for kind, rows in (world or small_world()).items():
        (directory / WORLD_FILES[kind]).write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return directory


@pytest.fixture
def world_data() -> dict[str, list[dict]]:
    """A fresh copy of ``small_world()`` to modify."""
    return small_world()


@pytest.fixture
def world_dir(tmp_path: Path) -> Path:
    """``small_world()`` written as JSONL files in a world directory."""
    return write_world(tmp_path / "world")


@pytest.fixture
def make_world(tmp_path: Path):
    """``make_world(data, name="world") -> Path``: write a world directory of your own."""
    return lambda data, name="world": write_world(tmp_path / name, data)
