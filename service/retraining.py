"""``talentmatch retrain`` against the database: read the feedback and the decision receipts it names, read the last
run's watermark from the registry, then plan (``--dry-run`` stops there, writing nothing) or build the indices and
run ``matcher.retrain.retrain_and_register``."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import orjson
import sqlalchemy as sa

from features.records import FeedbackEvent
from matcher import registry
from matcher.labels import DEFAULT_LABELS
from matcher.receipt_rows import ShownPage
from matcher.retrain import plan, retrain_and_register
from matcher.train import LabelTreatment
from service import db
from service.indexing import INDEXED_KINDS, build_indices, store_records
from service.settings import Settings
from service.store import Store

CHUNK = 500
"""Ranking ids per ``IN`` query (well under SQLite's and PostgreSQL's parameter limits)."""


def read_pages(store: Store, ranking_ids: Iterable[str]) -> dict[str, ShownPage]:
    """The receipts of ``ranking_ids`` that exist and ranked a need, with each shown candidate's feature row (``None``
    where erased)."""
    r, c, d = (t.__table__ for t in (db.RankingRow, db.RankingCandidateRow, db.RankingDetailRow))
    ids = sorted(set(ranking_ids))
    heads: dict[str, Any] = {}
    rows: dict[str, list[tuple[int, str | None, Any]]] = {}
    with store.engine.connect() as conn:
        for i in range(0, len(ids), CHUNK):
            chunk = ids[i : i + CHUNK]
            for h in conn.execute(
                sa.select(r.c.id, r.c.need_id, r.c.created_at, r.c.schema_version, r.c.model_version).where(
                    r.c.id.in_(chunk), r.c.need_id.is_not(None)
                )
            ):
                heads[h.id] = h
            for row in conn.execute(
                sa.select(c.c.ranking_id, c.c.position, c.c.talent_id, c.c.erased_at, sa.cast(d.c.detail, sa.Text))
                .select_from(c.outerjoin(d, (d.c.page_id == c.c.page_id) & (d.c.position == c.c.position)))
                .where(c.c.ranking_id.in_(chunk))
                .order_by(c.c.ranking_id, c.c.position)
            ):
                detail = orjson.loads(row[4]) if row[4] else None
                features = detail.get("features") if isinstance(detail, dict) and row.erased_at is None else None
                rows.setdefault(row.ranking_id, []).append((row.position, row.talent_id, features))
    out = {}
    for rid, h in heads.items():
        cands = rows.get(rid, [])
        out[rid] = ShownPage(
            ranking_id=rid,
            need_id=h.need_id,
            created_at=h.created_at,
            schema_version=h.schema_version,
            model_version=h.model_version,
            positions=[p for p, _, _ in cands],
            talent_ids=[t for _, t, _ in cands],
            features=[f for _, _, f in cands],
        )
    return out


def retrain(
    store: Store,
    settings: Settings,
    *,
    dry_run: bool = False,
    label_map: Mapping[str, int] = DEFAULT_LABELS,
    treatment: LabelTreatment | None = None,
    params: Mapping[str, object] | None = None,
    margin: float = 0.0,
    encoder: str | None = None,
    random_state: int = 0,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Plan a retrain from the store's feedback and receipts; unless ``dry_run``, build the indices, train, log and
    gate. Returns the summary. ``matcher.retrain.NothingNew`` / ``ValueError`` say why nothing can be done."""
    say = progress or (lambda _: None)
    say("reading feedback")
    feedback: list[FeedbackEvent] = list(store.iter_records("feedback"))
    pages = read_pages(store, (ev.ranking_id for ev in feedback if ev.ranking_id))
    with store.engine.connect() as conn:
        known = set(conn.scalars(sa.select(db.NeedRow.__table__.c.id)))
    the_plan = plan(
        feedback, pages, watermark=registry.last_watermark(), known_needs=known, label_map=label_map,
        random_state=random_state,
    )  # fmt: skip
    if dry_run:
        return {**the_plan.summary(), "dry_run": True}
    say("indexing")
    idx = build_indices(store_records(store, INDEXED_KINDS), settings, encoder=encoder)
    return retrain_and_register(
        idx, the_plan, feedback, label_map=label_map, treatment=treatment, params=params, margin=margin,
        random_state=random_state, progress=progress,
    )  # fmt: skip
