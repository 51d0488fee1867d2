"""The golden record of a person: one card built from the talent records of one person (``features.people``).

Per field, the most recent record (``updated_at``; a record without one counts as oldest, ties go to the smaller
id) with a non-empty value wins; lists are the union of every record's, most recent first, deduplicated (works by
normalised title, so "Perovskite  Cells." and "perovskite cells" are one work). Provenance says which record each
field — and each list item — came from, so a recruiter can check a value at its source. Pure: records in, no store.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from features.records import Talent

LISTS = ("skills", "languages", "honours", "disciplines", "sites", "education", "works")
"""Fields whose values are unioned across the records."""
_SKIP = frozenset(("id", "updated_at"))
_OLDEST = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Golden:
    """``fields``: the card (field → value, JSON-ready); ``provenance``: field → the record id it came from, or for
    a list, one record id per item."""

    person_id: str
    records: list[str]
    fields: dict[str, Any]
    provenance: dict[str, str | list[str]]


def normalise_title(title: str) -> str:
    """A work title for comparison: NFKC, case folded, punctuation dropped, spaces single."""
    text = unicodedata.normalize("NFKC", title).casefold()
    return " ".join(re.sub(r"[^\w\s]", " ", text).split())


def _key(field: str, item: Any) -> Any:
    if field == "works":
        return normalise_title(item["title"])
    if isinstance(item, dict):
        return tuple(sorted((k, str(v).casefold()) for k, v in item.items() if v not in (None, "", [])))
    return str(item).casefold()


def _empty(value: Any, default: Any) -> bool:
    return value is None or value == "" or value == [] or value == {} or value == default


def golden(person_id: str, talents: Iterable[Talent]) -> Golden:
    """The golden record of ``talents`` (the records of one person), most recent value first (module docstring)."""
    newest_first = sorted(talents, key=lambda t: (-(t.updated_at or _OLDEST).timestamp(), t.id))
    if not newest_first:
        raise ValueError(f"person {person_id!r} has no records")
    defaults = Talent(id="_", summary="_").model_dump(mode="json")
    fields: dict[str, Any] = {}
    provenance: dict[str, str | list[str]] = {}
    for talent in newest_first:
        data = talent.model_dump(mode="json")
        for name, value in data.items():
            if name in _SKIP or name in LISTS or name in fields or _empty(value, defaults.get(name)):
                continue
            fields[name], provenance[name] = value, talent.id
    for name in LISTS:
        items, sources, seen = [], [], set()
        for talent in newest_first:
            for item in talent.model_dump(mode="json")[name]:
                if (key := _key(name, item)) not in seen:
                    seen.add(key)
                    items.append(item)
                    sources.append(talent.id)
        fields[name], provenance[name] = items, sources
    stamped = [t.updated_at for t in newest_first if t.updated_at]
    fields["updated_at"] = stamped[0].isoformat() if stamped else None
    return Golden(person_id, sorted(t.id for t in newest_first), fields, provenance)
