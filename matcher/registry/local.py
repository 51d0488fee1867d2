"""A SQLite MLflow store's alias, version tags and booster file read with the standard library, for serving: MLflow
and the modules it pulls in (pandas, alembic, its store's set-up) took ~2.5 s of every server start, to answer three
small queries and find one file.

Only what MLflow itself would answer the same way is read here; anything else raises ``NotLocal`` and the caller
asks MLflow: a store several workspaces share, a version whose artifacts are not on this disk, a model not saved as
a plain LightGBM booster, a missing or unreadable ``MLmodel`` (MLflow then says what is wrong).
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

BOOSTER = "lightgbm.basic.Booster"


class NotLocal(Exception):
    """The store cannot be read without MLflow; the message says why (for the log)."""


@dataclass(frozen=True)
class Found:
    """The version an alias points at (``None``: no such alias), its tags (the model contract) and its booster file."""

    version: str | None
    tags: dict[str, str] = field(default_factory=dict)
    model_file: str = ""


def alias(path: Path, name: str, alias: str) -> str | None:
    """The version ``alias`` of registered model ``name`` points at, ``None`` when it points nowhere."""
    with closing(_connect(path)) as conn:
        return _alias(conn, name, alias)


def champion(path: Path, name: str, alias: str) -> Found:
    """The version ``alias`` points at, with its tags and the booster file to load."""
    with closing(_connect(path)) as conn:
        version = _alias(conn, name, alias)
        if version is None:
            return Found(None)
        rows = conn.execute(
            "SELECT storage_location, source FROM model_versions WHERE name = ? AND version = ?", (name, version)
        ).fetchall()
        if len(rows) != 1:
            raise NotLocal(f"{name} version {version}: {len(rows)} rows")
        tags = dict(conn.execute("SELECT key, value FROM model_version_tags WHERE name = ? AND version = ?",
                                 (name, version)).fetchall())  # fmt: skip
    location = rows[0][0] or rows[0][1] or ""
    return Found(version, tags, _booster_file(location))


def _connect(path: Path) -> sqlite3.Connection:
    try:
        return sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True, timeout=30)
    except sqlite3.Error as e:
        raise NotLocal(f"{path}: {e}") from e


def _alias(conn: sqlite3.Connection, name: str, alias: str) -> str | None:
    try:
        rows = conn.execute(
            "SELECT version FROM registered_model_aliases WHERE name = ? AND alias = ?", (name, alias)
        ).fetchall()
    except sqlite3.Error as e:  # not (yet) an MLflow store, or another layout
        raise NotLocal(str(e)) from e
    if len(rows) > 1:
        raise NotLocal(f"alias {alias!r} of {name} is set in {len(rows)} workspaces")
    return str(rows[0][0]) if rows else None


def _booster_file(location: str) -> str:
    """The booster file of a logged model at ``location`` (a ``file:`` URI of its directory)."""
    parsed = urlparse(location)
    if parsed.scheme != "file" or parsed.netloc not in ("", "localhost"):
        raise NotLocal(f"artifacts at {location!r} are not a local directory")
    directory = Path(unquote(parsed.path))
    try:
        import yaml

        flavor = yaml.safe_load((directory / "MLmodel").read_text(encoding="utf-8"))["flavors"]["lightgbm"]
    except Exception as e:
        raise NotLocal(f"{directory / 'MLmodel'}: {type(e).__name__}: {e}") from e
    if flavor.get("model_class", BOOSTER) != BOOSTER or not flavor.get("data"):
        raise NotLocal(f"{directory} holds a {flavor.get('model_class')}, not a plain booster")
    return str(directory / flavor["data"])
