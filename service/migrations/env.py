"""Alembic environment: runs on the connection ``service.db.upgrade`` passes in, or on the configured URL
(``alembic -c service/alembic.ini …`` reads ``TALENTMATCH_DATABASE_URL``)."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from service.db import Base, make_engine
from service.settings import Settings, ensure_sqlite_dir

config = context.config


def _configure(**kwargs: object) -> None:
    context.configure(target_metadata=Base.metadata, compare_type=True, **kwargs)


def _run(connection: Connection) -> None:
    _configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


def _url() -> str:
    return config.get_main_option("sqlalchemy.url") or Settings().database_url


if context.is_offline_mode():
    _configure(url=_url(), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
elif (connection := config.attributes.get("connection")) is not None:
    _run(connection)
else:
    url = _url()
    ensure_sqlite_dir(url)
    engine = make_engine(url)
    with engine.begin() as conn:
        _run(conn)
    engine.dispose()
