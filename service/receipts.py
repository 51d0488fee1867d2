"""Decision receipts: every ranking served is kept (who asked, for which need, with which filters, model and feature
schema, which rules removed how many, and each returned candidate's score, reasons, feature row and contributions),
so a talent's PIPL request to know why an automated decision was made can be answered later.

A receipt is written once and read by id. Its candidates are stored once per computed page (``ranking_details``:
score, team, reasons, feature row and contributions), however often that page is served (cached, or ranked again
and come out the same: ``service.ranking._carry_pages``); every request writes only its head, which names the page
(``rankings.page_id``), committed with other requests' rows (``service.group_commit``). A need ranked again with
nothing written serves its last page again, so on a 100k store ranked for hours ~68 receipts named each page: one
candidate row each had been 7.87M rows for 116,160 details. Receipts from before version 0017 keep their candidate
rows (``db.shown_candidates`` reads both shapes). Erasing a talent redacts its rows everywhere (id, score,
features, contributions and reasons nulled, the position kept and marked erased), so the receipt still says a
candidate was shown there but no longer who; a receipt made after the erasure never showed them, and does not list
the position.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from features.schema import SCHEMA
from service import audit, db
from service.group_commit import Part
from service.keys import Principal
from service.people import persons_of
from service.ranking import FullRanking, PageRow
from service.store import Store


@dataclass(frozen=True)
class Receipt:
    id: str
    route: str
    need_id: str | None
    created_at: datetime
    key_id: int | None
    model_version: str | None
    personalized: bool
    schema_version: str
    params: dict[str, Any]
    summary: dict[str, Any]
    candidates: list[dict[str, Any]]
    challenger_version: str | None = None


def _rankings() -> sa.Table:
    return db.RankingRow.__table__  # type: ignore[return-value]


def _details() -> sa.Table:
    return db.RankingDetailRow.__table__  # type: ignore[return-value]


@cache
def _inserts(dialect: str) -> tuple[sa.Insert, sa.Insert]:
    """``rows``' two statements (head, details skipping rows already there), built once per dialect: built per
    request (``values``, a new statement's cache key) they cost SQLAlchemy as much as running some."""
    details = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(_details())
    return sa.insert(_rankings()), details.on_conflict_do_nothing(index_elements=["page_id", "position"])


def rows(
    ranking_id: str,
    *,
    dialect: str,
    route: str,
    need_id: str | None,
    principal: Principal,
    full: FullRanking,
    shown: Sequence[PageRow],
    params: dict[str, Any],
) -> tuple[list[Part], set[str]]:
    """The receipt of one served page as rows to insert (``service.group_commit``): its head, naming the page; plus
    the page's rows (score, team, features, contributions, reasons) unless a receipt already stored them; and the
    page ids whose rows they hold, which the caller marks in ``full.stored_pages`` once they are committed (a page's
    rows are written once; two receipts racing to be first skip each other's rows)."""
    summary = {
        "removed": full.removed,
        "filtered": full.filtered,
        "pool": full.pool,
        "ranked": len(full.ids),
        "computed_at": full.computed_at.isoformat(),
    }
    if full.ties:  # the relations behind conflict removals and internal flags, without naming the talents
        summary["conflicts"] = sorted((t.to_json() for t in full.ties.values()), key=lambda t: sorted(t.items()))
    head, details = _inserts(dialect)
    parts: list[Part] = [(head, [{
        "id": ranking_id,
        "route": route,
        "need_id": need_id,
        "created_at": datetime.now(UTC),
        "key_id": principal.key_id,
        "model_version": full.model_version,
        "personalized": full.personalized,
        "schema_version": SCHEMA.version,
        "params": params,
        "summary": summary,
        "challenger_version": full.challenger.version if full.teams is not None and full.challenger else None,
        "page_id": shown[0].page_id if shown else None,
    }])]  # fmt: skip
    new = [r for r in shown if r.page_id not in full.stored_pages]
    if new:  # two first requests for a page may race here: the second one's rows are skipped
        parts.append((details, [{"page_id": r.page_id, "position": r.position, "talent_id": r.talent_id,
                                 "detail": db.RawJSON(r.receipt_detail), "erased_at": None, "score": r.score,
                                 "team": r.team} for r in new]))  # fmt: skip
    return parts, {r.page_id for r in new}


def get(store: Store, ranking_id: str) -> Receipt | None:
    """The receipt with its candidates in position order (features and contributions named), or ``None``. Each
    candidate names its person (``person_id``) when the office has linked the record with others, as the store
    says now (``service.people.persons_of``): an erased record's id never lives on there."""
    r = _rankings()
    with store.engine.connect() as conn:
        head = conn.execute(sa.select(r).where(r.c.id == ranking_id)).first()
        if head is None:
            return None
        names = ("position", "talent_id", "score", "erased_at", "team", "detail")
        cands = conn.execute(db.select_shown(r, *names, where=lambda c: c["ranking_id"] == ranking_id)
                             .order_by("position")).all()  # fmt: skip
    out = []
    for row in cands:
        item: dict[str, Any] = {"position": row.position, "talent_id": row.talent_id, "score": row.score,
                                "team": row.team}  # fmt: skip
        if row.erased_at is not None:
            item |= {"erased": True, "erased_at": row.erased_at}
        else:
            d = row.detail or {}
            item |= {
                "erased": False,
                "reasons": d.get("reasons", []),
                "human_review": d.get("human_review", False),
                "features": d.get("features", {}),
                "contributions": d.get("contributions", {}),
            }
        out.append(item)
    persons = persons_of(store, [c["talent_id"] for c in out if c["talent_id"] is not None])
    for c in out:
        c["person_id"] = persons.get(c["talent_id"]) if c["talent_id"] is not None else None
    return Receipt(
        id=head.id,
        route=head.route,
        need_id=head.need_id,
        created_at=head.created_at,
        key_id=head.key_id,
        model_version=head.model_version,
        personalized=head.personalized,
        schema_version=head.schema_version,
        params=head.params,
        summary=head.summary,
        candidates=out,
        challenger_version=head.challenger_version,
    )


def candidate(store: Store, ranking_id: str, talent_id: str) -> int | None:
    """The position ``talent_id`` was shown at in ranking ``ranking_id``, or ``None`` if it was not shown there."""
    shown = db.select_shown(
        _rankings(), "position", where=lambda c: (c["ranking_id"] == ranking_id) & (c["talent_id"] == talent_id)
    )
    with store.engine.connect() as conn:
        return conn.scalar(shown.limit(1))


def head(store: Store, ranking_id: str) -> tuple[str, str | None, str | None] | None:
    """(route, need id, model version) of a receipt, or ``None``."""
    r = _rankings()
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(r.c.route, r.c.need_id, r.c.model_version).where(r.c.id == ranking_id)).first()
    return None if row is None else (row.route, row.need_id, row.model_version)


def recently_ranked(store: Store, since: datetime) -> list[str]:
    """The needs ranked since ``since``, the most recently ranked first (``service.snapshots.prepare`` prepares
    them before the rest)."""
    r = _rankings()
    query = (
        sa.select(r.c.need_id)
        .where(r.c.created_at >= since, r.c.need_id.is_not(None))
        .group_by(r.c.need_id)
        .order_by(sa.func.max(r.c.created_at).desc(), r.c.need_id)
    )
    with store.engine.connect() as conn:
        return list(conn.execute(query).scalars())


def appearances(store: Store, talent_id: str, limit: int = 5) -> list[dict[str, Any]]:
    """The latest rankings ``talent_id`` was shown in, newest first, one per computed page (a cached page served
    again writes another receipt of the same decision): each receipt's head with the talent's position, score,
    reasons and contributions there. A talent's "why was I ranked so" answer, and the console's talent page."""
    r = _rankings()
    names = ("id", "route", "need_id", "created_at", "model_version", "personalized", "schema_version", "summary")
    arms = [
        sa.select(*(r.c[n] for n in names), *(cols[n].label(n) for n in ("page_id", "position", "score", "detail")))
        .select_from(src)
        .where(cols["talent_id"] == talent_id, cols["erased_at"].is_(None))
        for src, cols in db.shown_candidates(r)
    ]
    with store.engine.connect() as conn:
        rows = conn.execute(sa.union_all(*arms).order_by(sa.desc("created_at")).limit(limit * 20)).all()
    out: list[dict[str, Any]] = []
    pages: set[str] = set()
    for row in rows:
        if row.page_id in pages:
            continue
        pages.add(row.page_id)
        detail = row.detail or {}
        out.append({"ranking_id": row.id, "route": row.route, "need_id": row.need_id, "created_at": row.created_at,
                    "model_version": row.model_version, "personalized": row.personalized,
                    "schema_version": row.schema_version, "removed": (row.summary or {}).get("removed", {}),
                    "position": row.position, "score": row.score, "reasons": detail.get("reasons", []),
                    "human_review": detail.get("human_review", False),
                    "contributions": detail.get("contributions") or {}})  # fmt: skip
        if len(out) == limit:
            break
    return out


def redact_talent(store: Store, talent_id: str, names: Sequence[str] = ()) -> int:
    """Erase a talent from every receipt (PIPL erasure): the audit log's rows of the pages that showed them written
    out first (``audit.keep_shown``), then the pages' rows and the older receipts' candidate rows lose their id,
    score and content, and a free-text search whose stored query names them (their id or any of ``names``: names,
    e-mail, phone) loses its query. Returns the number of shown rows redacted."""
    c, d, r = db.RankingCandidateRow.__table__, _details(), _rankings()
    now = datetime.now(UTC)
    terms = sorted({t.strip().lower() for t in (talent_id, *names) if t and len(t.strip()) >= 2})
    query = r.c.params["query"].as_string()
    with store.engine.begin() as conn:
        audit.keep_shown(conn, talent_id)  # the audit log reads whom a page showed here, until now
        redacted = conn.execute(
            sa.update(d)
            .where(d.c.talent_id == talent_id)
            .values(talent_id=None, score=None, detail=None, erased_at=now)
        ).rowcount
        naming = sa.or_(*(sa.func.lower(query).contains(t, autoescape=True) for t in terms))
        for rid, params in conn.execute(sa.select(r.c.id, r.c.params).where(r.c.route == "search", naming)).all():
            erased = {**params, "query": None, "query_erased": True}
            conn.execute(sa.update(r).where(r.c.id == rid).values(params=erased))
        return (
            redacted
            + conn.execute(
                sa.update(c).where(c.c.talent_id == talent_id).values(talent_id=None, score=None, erased_at=now)
            ).rowcount
        )
