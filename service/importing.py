"""After a file import outside the API (``talentmatch db import``): match the imported talents against the
enterprises' subscriptions, as the API does for each write. Only when any subscription is active: it costs an index
build over the whole store."""

from __future__ import annotations

from pathlib import Path

from features.io import kind_of_file, load_world, read_records
from service.alerts import match_talents
from service.alerts.subscriptions import active
from service.indexing import build_indices, store_records
from service.settings import Settings
from service.store import Store


def alert_imported_talents(store: Store, path: Path, kind: str | None, settings: Settings) -> int:
    """Queue match alerts for the talents imported from ``path`` (a world folder, or one file of ``kind``); returns
    how many. The champion scores them when it matches the indices, else text relevance does (the registry logs why)."""
    if not active(store):
        return 0
    if path.is_dir():
        talents = list(load_world(path, max_line_bytes=settings.max_line_bytes).get("talent", []))
    else:
        talents = read_records(path, kind or kind_of_file(path), max_line_bytes=settings.max_line_bytes).records
    if not talents:
        return 0
    from matcher.registry import load_champion  # MLflow: seconds to import, needed only here

    idx = build_indices(store_records(store), settings)
    return len(match_talents(store, idx, talents, settings=settings, scorer=load_champion(indices=idx)))
