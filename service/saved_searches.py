"""Saved searches: a key's named free-text searches (``POST /search`` requests) that re-run on demand and say which
talents are new since that key's last visit.

"New" is kept as the ids a visit showed, not as a time: comparing a last-visit time with talents' write times would
call every edited talent new and miss one that only now matches (an edit, a new need in the graph), while the ids
say exactly what the recruiter was shown. Each visit replaces them with what it showed. A search belongs to its key:
another key gets a 404. An erased talent leaves every search's ids with their row (a cascading foreign key), and
erasure (``service.erasure``) deletes the searches whose query or name names them, as receipts lose such queries.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, Field, ValidationError

from service import db
from service.api.errors import ApiError, not_found
from service.api.limits import SAVED_SEARCH_NAME_MAX, text
from service.api.ranking_schemas import RankingOut, SearchIn
from service.api.rankings import search_page
from service.api.schemas import UtcDatetime
from service.keys import Principal
from service.store import Store

SAVED_MAX = 100
"""Saved searches a key may keep (a bound on what one key stores; delete one to save another)."""


class SavedSearchIn(SearchIn):
    """A search to save: its name and the `POST /search` body it re-runs."""

    name: text(strip_whitespace=True, min_length=1, max_length=SAVED_SEARCH_NAME_MAX) = Field(
        description="What to call it / 名称"
    )


class SavedSearch(BaseModel):
    id: int
    name: str
    search: dict[str, Any] = Field(description="The `POST /search` body it re-runs.")
    created_at: UtcDatetime
    visited_at: UtcDatetime | None = Field(description="Its last visit (`GET /searches/{id}`); null before the first.")


class SavedSearchRun(BaseModel):
    search: SavedSearch = Field(description="The saved search, with this visit as its last.")
    previous_visit: UtcDatetime | None = Field(description="The visit before this one; null on the first.")
    new: list[str] = Field(description="Talent ids on this page the previous visit did not show (all on the first).")
    ranking: RankingOut


def _searches() -> sa.Table:
    return db.SavedSearchRow.__table__  # type: ignore[return-value]


def _seen() -> sa.Table:
    return db.SavedSearchSeenRow.__table__  # type: ignore[return-value]


def _out(row: Any) -> SavedSearch:
    return SavedSearch(id=row.id, name=row.name, search=row.params, created_at=row.created_at,
                       visited_at=row.visited_at)  # fmt: skip


def create(store: Store, principal: Principal, body: SavedSearchIn) -> SavedSearch:
    """Save a search for this key (409 once it keeps ``SAVED_MAX``)."""
    s = _searches()
    params = body.model_dump(mode="json", exclude={"name"}, exclude_none=True)
    with store.engine.begin() as conn:
        kept = conn.scalar(sa.select(sa.func.count()).select_from(s).where(s.c.key_id == principal.key_id)) or 0
        if kept >= SAVED_MAX:
            raise ApiError(409, f"this key keeps {kept} saved searches, the most allowed; delete one first")
        row = conn.execute(
            sa.insert(s)
            .values(key_id=principal.key_id, name=body.name, params=params, created_at=datetime.now(UTC))
            .returning(*s.c)
        ).one()
    return _out(row)


def list_own(store: Store, principal: Principal) -> list[SavedSearch]:
    """This key's saved searches, newest first."""
    s = _searches()
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(s).where(s.c.key_id == principal.key_id).order_by(s.c.id.desc())).all()
    return [_out(r) for r in rows]


def get(store: Store, principal: Principal, search_id: int) -> SavedSearch:
    """One of this key's saved searches; 404 for another key's (or none)."""
    s = _searches()
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(s).where(s.c.id == search_id, s.c.key_id == principal.key_id)).first()
    if row is None:
        raise not_found("saved search", search_id)
    return _out(row)


def delete(store: Store, principal: Principal, search_id: int) -> None:
    """Delete one of this key's saved searches (its seen ids go with it); 404 for another key's."""
    s = _searches()
    with store.engine.begin() as conn:
        if not conn.execute(sa.delete(s).where(s.c.id == search_id, s.c.key_id == principal.key_id)).rowcount:
            raise not_found("saved search", search_id)


def run(state: Any, principal: Principal, search_id: int) -> SavedSearchRun:
    """Re-run one of this key's saved searches exactly as ``POST /search`` would (receipt and audit included), say
    which talents shown are new since the last visit, and make this visit the last. Database work and ranking: call
    it from the thread pool."""
    store: Store = state.store
    saved = get(store, principal, search_id)
    try:
        body = SearchIn.model_validate(saved.search)
    except ValidationError as e:  # saved under rules this version no longer accepts
        raise ApiError(409, f"saved search {search_id} is no longer a valid search ({e.errors()[0]['msg']}); save it "
                       "again", field="search") from None  # fmt: skip
    ranking = search_page(state, principal, body)
    s, seen = _searches(), _seen()
    now = datetime.now(UTC)
    # Under the lock an erasure holds alone: no erased talent's id is stored after the erasure cleared them.
    with state.receipt_lock.read(), store.engine.begin() as conn:
        mine = (s.c.id == search_id) & (s.c.key_id == principal.key_id)
        # write first: the row lock (PostgreSQL) or the write lock (SQLite) orders concurrent visits of one search
        if not conn.execute(sa.update(s).where(mine).values(name=s.c.name)).rowcount:
            raise not_found("saved search", search_id)  # deleted meanwhile
        previous = conn.scalar(sa.select(s.c.visited_at).where(mine))
        before = set(conn.scalars(sa.select(seen.c.talent_id).where(seen.c.search_id == search_id)))
        shown = list(
            dict.fromkeys(c["talent_id"] for c in ranking["candidates"] if c["talent_id"] in state.indices.talents)
        )
        conn.execute(sa.delete(seen).where(seen.c.search_id == search_id))
        if shown:
            conn.execute(sa.insert(seen), [{"search_id": search_id, "talent_id": t} for t in shown])
        row = conn.execute(sa.update(s).where(mine).values(visited_at=now).returning(*s.c)).one()
    new = [t for t in shown if previous is None or t not in before]
    return SavedSearchRun(search=_out(row), previous_visit=previous, new=new, ranking=RankingOut(**ranking))


def erase_talent(store: Store, talent_id: str, names: Sequence[str] = ()) -> int:
    """Erasure: a saved search whose query or name names the talent (their id or any of ``names``, as
    ``receipts.redact_talent`` matches) is deleted; returns how many. The talent's seen ids in the others go with
    the talent's row (``ON DELETE CASCADE``), so no path that deletes a talent can leave them behind."""
    s = _searches()
    terms = sorted({t.strip().lower() for t in (talent_id, *names) if t and len(t.strip()) >= 2})
    query = sa.func.lower(s.c.params["query"].as_string())
    naming = sa.or_(*(c.contains(t, autoescape=True) for t in terms for c in (query, sa.func.lower(s.c.name))))
    if not terms:
        return 0
    with store.engine.begin() as conn:
        return conn.execute(sa.delete(s).where(naming)).rowcount
