"""``talentmatch retrain`` against the database: read the feedback and the decision receipts it names; tell the new
feedback (journalled after the last run's watermark) and the needs the champion trained on from the store's change
journal; read the people (``person_members``: feedback on any record of a person teaches about the person); then plan
(``--dry-run`` stops there, writing nothing) or build the indices and run ``matcher.retrain.retrain_and_register``."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC
from typing import Any

import orjson
import sqlalchemy as sa

from features.records import FeedbackEvent
from matcher import registry
from matcher.labels import DEFAULT_LABELS
from matcher.receipt_rows import ShownPage
from matcher.retrain import ChampionNeeds, Since, plan, retrain_and_register
from matcher.train import DEFAULT_TREATMENT, LabelTreatment
from service import db
from service.indexing import INDEXED_KINDS, build_indices, store_records
from service.people import person_map
from service.settings import Settings
from service.store import Store, StoreError

CHUNK = 500
"""Ranking ids per ``IN`` query (well under SQLite's and PostgreSQL's parameter limits)."""
JOURNAL_PAGE = 20_000
"""Journal rows per ``changes_since`` call."""


def feedback_written_since(store: Store, seq: int) -> frozenset[str] | None:
    """Ids of the feedback records written after journal ``seq``, or ``None`` when the journal no longer reaches back
    to ``seq`` (pruned past it): then nobody can tell which feedback is older.

    Relies on ``Store.changes_since`` alone: every row after ``seq``, or a ``StoreError`` when rows after it were
    pruned. A pruning that leaves no such trace is caught too: ``seq`` was the head when a run read it, so its row
    existed, and reading from just before it must return that row first; a refusal there (with none after ``seq``)
    means the journal was cut exactly at ``seq`` and keeps everything after it."""
    ids: set[str] = set()
    at = seq
    try:
        while page := store.changes_since(at, limit=JOURNAL_PAGE):
            ids.update(c.record_id for c in page if c.kind == "feedback" and c.op == "put")
            at = page[-1].seq
    except StoreError:
        return None
    if seq > 0:
        try:
            first = store.changes_since(seq - 1, limit=1)
        except StoreError:
            first = None
        if first is not None and (not first or first[0].seq != seq):
            return None
    return frozenset(ids)


WrittenSince = Callable[[int], frozenset[str] | None]
"""``feedback_written_since`` of one store, remembered per seq (the last run is usually the champion's)."""


def since_last_run(written_since: WrittenSince, store_id: str, head: int) -> Since:
    """Which feedback is new: what the journal holds after the last run's seq on this store (every event when there
    is no such run or the journal was pruned past it)."""
    last = registry.last_watermark(store_id)
    if last is None or last.seq is None:
        return Since(head=head, store_id=store_id)
    new_ids = written_since(last.seq)
    note = "" if new_ids is not None else f"the change journal was pruned past the last run's seq {last.seq}"
    return Since(new_ids, last.seq, last.time, head, store_id, note)


def champion_needs(written_since: WrittenSince, store_id: str, feedback: list[FeedbackEvent]) -> ChampionNeeds:
    """The needs the champion trained on: those with feedback it could read (journalled up to its seq on this store;
    by event time when it logged no seq here or the journal no longer reaches back), less its own held-out needs."""
    champion = registry.champion_watermark()
    if champion is None:
        return ChampionNeeds()
    seq = champion.seq_in(store_id)
    newer = written_since(seq) if seq is not None else None
    if newer is not None:
        seen, basis = {ev.need_id for ev in feedback if ev.id not in newer}, f"journal seq {seq}"
    elif champion.time is not None:
        seen = {ev.need_id for ev in feedback if ev.time is None or ev.time <= champion.time}
        why = "it logged no journal seq of this store" if seq is None else f"the journal was pruned past its seq {seq}"
        basis = f"event time {champion.time.isoformat()} ({why})"
    else:
        return ChampionNeeds(basis="the champion's run logged no watermark")
    return ChampionNeeds(frozenset(seen - champion.heldout), basis)


def read_pages(store: Store, ranking_ids: Iterable[str]) -> dict[str, ShownPage]:
    """The receipts of ``ranking_ids`` that exist and ranked a need, with each shown candidate's feature row (``None``
    where erased)."""
    r = db.RankingRow.__table__
    ids = sorted(set(ranking_ids))
    heads: dict[str, Any] = {}
    rows: dict[str, list[tuple[int, str | None, Any]]] = {}
    names = ("ranking_id", "position", "talent_id", "erased_at")
    with store.engine.connect() as conn:
        for i in range(0, len(ids), CHUNK):
            chunk = ids[i : i + CHUNK]
            for h in conn.execute(
                sa.select(r.c.id, r.c.need_id, r.c.created_at, r.c.schema_version, r.c.model_version).where(
                    r.c.id.in_(chunk), r.c.need_id.is_not(None)
                )
            ):
                heads[h.id] = h
            arms = [
                sa.select(*(cols[n].label(n) for n in names), sa.cast(cols["detail"], sa.Text).label("detail"))
                .select_from(src)
                .where(cols["ranking_id"].in_(chunk))
                for src, cols in db.shown_candidates(r)
            ]
            for row in conn.execute(sa.union_all(*arms).order_by("ranking_id", "position")):
                detail = orjson.loads(row[4]) if row[4] else None
                features = detail.get("features") if isinstance(detail, dict) and row.erased_at is None else None
                rows.setdefault(row.ranking_id, []).append((row.position, row.talent_id, features))
    out = {}
    for rid, h in heads.items():
        cands = rows.get(rid, [])
        out[rid] = ShownPage(
            ranking_id=rid,
            need_id=h.need_id,
            # SQLite hands back naive UTC, PostgreSQL the session's zone: the same instant in UTC on both
            created_at=h.created_at.astimezone(UTC) if h.created_at.tzinfo else h.created_at.replace(tzinfo=UTC),
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
    require_online_win: bool = False,
    encoder: str | None = None,
    random_state: int = 0,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Plan a retrain from the store's feedback and receipts; unless ``dry_run``, build the indices, train, log and
    gate. Returns the summary. ``matcher.retrain.NothingNew`` / ``ValueError`` say why nothing can be done."""
    say = progress or (lambda _: None)
    say("reading feedback")
    store_id, head = store.identity(), store.change_head()  # the head before the feedback: nothing read is missed
    feedback: list[FeedbackEvent] = list(store.iter_records("feedback"))
    pages = read_pages(store, (ev.ranking_id for ev in feedback if ev.ranking_id))
    with store.engine.connect() as conn:
        known = set(conn.scalars(sa.select(db.NeedRow.__table__.c.id)))
    written_since = functools.cache(functools.partial(feedback_written_since, store))
    the_plan = plan(
        feedback, pages, since=since_last_run(written_since, store_id, head), known_needs=known,
        champion=champion_needs(written_since, store_id, feedback), label_map=label_map, random_state=random_state,
        persons=person_map(store),
    )  # fmt: skip
    if dry_run:
        return {**the_plan.summary(), "treatment": (treatment or DEFAULT_TREATMENT).to_dict(), "dry_run": True}
    say("indexing")
    idx = build_indices(store_records(store, INDEXED_KINDS), settings, encoder=encoder)
    return retrain_and_register(
        idx, the_plan, feedback, label_map=label_map, treatment=treatment, params=params, margin=margin,
        require_online_win=require_online_win, random_state=random_state, progress=progress,
    )  # fmt: skip
