"""Matching on arrival: a new or materially changed talent against every open subscribed need, in one pass.

Two stages, like ranking: the talent's feature rows against all subscribed needs come from one vectorised call
(``features.matrix.talent_matrix`` over a ``NeedSet`` of the subscribed open needs; the hard rules, consent first,
drop the needs it may not be matched to), the fixed text
blend keeps the needs it is relevant to at all (``alerts_min_relevance``), and the champion model (or the text blend
without one) scores those. A subscription fires where the score reaches its ``min_score`` or the talent enters the
need's current top ``top_n`` (the need's N-th best score, cached per need and model version).

Then the rules against spam, in one transaction with the alerts and their outbox rows: a (need, talent) pair alerts
again only when its score rose by more than ``alerts_score_margin`` — the talent's person counts, so another record
of a person the office linked (``service.people``) does not alert again for a need the person was alerted for, and
records of one person matched at once give one alert —; each need gets at most ``alerts_cap_per_need``
talents a day and each talent goes to at most ``alerts_cap_per_talent`` needs a day (best scores first). The card in
the payload is masked unless the talent consented to sharing.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from features.indices import Indices
from features.matrix import index_encoder, talent_matrix, text_relevance
from features.pairs import NeedSet
from features.records import Need, NeedStatus, Record, Talent
from features.schema import SCHEMA
from matcher.pipeline import TEXT_RELEVANCE, ScorerLike, rank
from matcher.reasons import reasons
from service import db, people
from service.alerts import subscriptions as subs_db
from service.alerts.subscriptions import Channel, Delivery, Subscription
from service.api.cards import talent_card
from service.disclosure import enterprise_reasons
from service.locking import IndexLock
from service.settings import Settings
from service.store import Store

log = logging.getLogger("talentmatch.alerts")

MATERIAL = frozenset({
    "summary", "skills", "works", "disciplines", "tier", "availability", "sites", "consent", "languages",
    "residence", "education", "employer", "honours", "h_index", "publication_count", "patent_count", "nationality",
    "salary_expectation", "incubator_id",
})  # fmt: skip
"""Talent fields that change matching; a change elsewhere (name, phone, e-mail, ``updated_at``) alerts nobody."""
INLINE_WARM = 8
"""Top-N cut-offs computed inside a match call at most; the rest are warmed by the dispatcher loop."""


def materially_changed(old: Talent | None, new: Talent) -> bool:
    return old is None or old.model_dump(include=MATERIAL) != new.model_dump(include=MATERIAL)


def day_start(now: datetime, tz: str) -> datetime:
    """Midnight (in ``tz``) of ``now``'s day, in UTC: the boundary of caps and digests."""
    local = now.astimezone(ZoneInfo(tz))
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


@dataclass
class Match:
    """One talent passing one need for some of its subscriptions."""

    need_id: str
    talent_id: str
    score: float
    reason: str
    subs: list[Subscription]
    x: np.ndarray | None = field(default=None, repr=False)
    contrib: np.ndarray | None = field(default=None, repr=False)
    model: ScorerLike | None = field(default=None, repr=False)
    """The model that gave ``score``: its contributions (``contrib``) are worked out only for matches written."""


@dataclass(frozen=True)
class CreatedAlert:
    id: int
    subscription_id: int
    need_id: str
    talent_id: str
    score: float
    reason: str


class AlertMatcher:
    """Subscriptions, the ``NeedSet`` of their open needs and the top-N cut-offs for one ``Indices``.

    Writers call ``on_write`` with the shared side of the index lock held; ``refresh`` (after a subscription
    changes) takes ``index_lock`` itself. ``scorer`` returns the serving model (``None``: text relevance)."""

    def __init__(self, store: Store, settings: Settings, indices: Indices,
                 scorer: Callable[[], ScorerLike | None] = lambda: None,
                 index_lock: IndexLock | None = None) -> None:  # fmt: skip
        self.store, self.settings, self.idx, self.scorer = store, settings, indices, scorer
        self.index_lock = index_lock or IndexLock()
        self._lock = threading.RLock()
        self.batch = NeedSet(indices)
        self._by_need: dict[str, list[Subscription]] = {}
        self._all_needs: dict[str, list[Subscription]] = {}
        self._top: dict[str, np.ndarray] = {}
        self._top_model: str | None = None
        with self.index_lock:
            self._reload()

    # --- subscriptions and the need set ------------------------------------------------------------------------

    def refresh(self) -> None:
        """Re-read the subscriptions and bring the need set in line (after a subscription is created or ended)."""
        with self.index_lock:
            self._reload()

    def follow(self, need_ids: Iterable[str] = ()) -> None:
        """Another API process wrote these needs, or subscriptions (``service.sync``): the needs leave the need set
        and the subscriptions are re-read, which brings back those still subscribed and open, as they are now. No
        alerts: the writing process sent them."""
        with self.index_lock, self._lock:
            for nid in need_ids:
                self._top.pop(nid, None)
                self.batch.remove(nid)
            self._reload()

    def move_to(self, indices: Indices) -> None:
        """The process moved onto other indices holding the same records (a newer snapshot, ``service.sync``): the
        need set is prepared against them anew (it holds their rows, IDF and graph links); the top-N cut-offs, scores
        of the same rankings, stay. The caller holds ``index_lock``."""
        with self._lock:
            self.idx, self.batch = indices, NeedSet(indices)
            self._reload()

    def _reload(self) -> None:
        with self._lock:
            by_need: dict[str, list[Subscription]] = {}
            all_needs: dict[str, list[Subscription]] = {}
            for s in subs_db.active(self.store):  # keys are checked when alerts are written (they change elsewhere)
                group = by_need.setdefault(s.need_id, []) if s.need_id else all_needs.setdefault(s.enterprise_id, [])
                group.append(s)
            self._by_need, self._all_needs = by_need, all_needs
            wanted = {nid for nid in by_need if self._open(nid) and self.subscriptions_for(self.idx.needs[nid])}
            if all_needs:
                wanted |= {n.id for n in self.idx.needs.values() if n.enterprise_id in all_needs and self._open(n.id)}
            for nid in [nid for nid in self.batch.row_of if nid not in wanted]:
                self.batch.remove(nid)
            for nid in sorted(wanted - set(self.batch.row_of)):
                self.batch.add(self.idx.needs[nid])

    def _open(self, need_id: str) -> bool:
        need = self.idx.needs.get(need_id)
        return need is not None and need.status is NeedStatus.open

    def subscriptions_for(self, need: Need) -> list[Subscription]:
        """The subscriptions about ``need`` as it is now (one naming it stops when it moves to another enterprise)."""
        named = [s for s in self._by_need.get(need.id, []) if s.covers(need)]
        return named + self._all_needs.get(need.enterprise_id or "", [])

    # --- hooks -------------------------------------------------------------------------------------------------

    def on_write(self, changes: Sequence[tuple[Record | None, Record]], *, now: datetime | None = None) -> None:
        """After records were stored and indexed (``live.Writer``): keep the need set in step with needs, send the
        posted-need digest, and match new or materially changed talents."""
        talents = []
        with self._lock:
            for old, new in changes:
                if isinstance(new, Need):
                    self._top.pop(new.id, None)
                    if self.subscriptions_for(new) and new.status is NeedStatus.open:
                        self.batch.add(new)
                        if old is None:
                            self.need_posted(new, now=now)
                    else:
                        self.batch.remove(new.id)
                elif isinstance(new, Talent) and materially_changed(old, new):  # type: ignore[arg-type]
                    talents.append(new)
            if talents:
                self.match(talents, now=now)

    def catch_up(self, batch: int = 200, *, now: datetime | None = None) -> int:
        """Match what a crash left pending (``service.store.PENDING``): new needs' posted digests and written
        talents, in batches under the writers' lock, clearing each flag once matched. Dedup makes a repeat
        harmless. Returns the records matched."""
        done = 0
        for kind in ("need", "talent"):
            while pending := self.store.pending(kind, batch):
                with self.index_lock:
                    current = [r for r in pending if r.id in (self.idx.needs if kind == "need" else self.idx.talents)]
                    if kind == "need":
                        for need in current:
                            self.on_write([(None, need)], now=now)
                    else:
                        self.match(current, now=now)
                    cleared = self.store.matched(pending)  # records no longer indexed have nothing to match
                done += len(current)
                if len(pending) < batch or not cleared:  # not cleared: rewritten meanwhile, a later pass takes it
                    break
        if done:
            log.info("alerts catch-up: matched %d record(s) left pending by an interrupted write", done)
        return done

    # --- scoring -----------------------------------------------------------------------------------------------

    def _model(self) -> ScorerLike | None:
        scorer = self.scorer()
        if scorer is not None and scorer.schema_version != SCHEMA.version:
            return None
        version = scorer.version if scorer is not None else TEXT_RELEVANCE
        if version != self._top_model:
            self._top, self._top_model = {}, version
        return scorer

    def cutoffs(self, need_id: str, scorer: ScorerLike | None) -> np.ndarray:
        """The need's best current scores, best first, as many as its largest ``top_n`` (computed by ranking)."""
        if (hit := self._top.get(need_id)) is not None:
            return hit
        need = self.idx.needs[need_id]
        n = max((s.top_n or 0 for s in self.subscriptions_for(need)), default=0)
        if n == 0:
            return np.zeros(0, np.float32)
        ranking = rank(self.idx, need, scorer=scorer, k=n, persons=self._persons)
        self._top[need_id] = np.array([c.score for c in ranking.candidates], np.float32)
        return self._top[need_id]

    def _persons(self, talent_ids: Sequence[str]) -> dict[str, str]:
        """One card per person in the rankings alerts are cut from (``matcher.pipeline.PersonsOf``)."""
        return people.persons_of(self.store, talent_ids)

    def warm(self, limit: int = 50) -> int:
        """Compute up to ``limit`` missing top-N cut-offs (the dispatcher loop calls this); returns how many."""
        with self.index_lock.read(), self._lock:
            scorer = self._model()
            missing = [nid for nid in self.batch.row_of if nid not in self._top
                       and any(s.top_n for s in self.subscriptions_for(self.idx.needs[nid]))][:limit]  # fmt: skip
            for nid in missing:
                self.cutoffs(nid, scorer)
        return len(missing)

    def score(self, talent: Talent, *, now: datetime | None = None) -> list[Match]:
        """Which subscriptions this (indexed) talent fires, before dedup and caps."""
        with self._lock:
            if not len(self.batch):
                return []
            scorer = self._model()
            rows = talent_matrix(self.idx, self.batch, talent.id, now=now)
            relevance = text_relevance(rows.X, index_encoder(self.idx))
            keep = np.flatnonzero(relevance >= self.settings.alerts_min_relevance)
            if not len(keep):
                return []
            X = rows.X[keep]
            scores = scorer.predict(X) if scorer is not None else relevance[keep]
            out: list[Match] = []
            warmed = 0
            for j, i in enumerate(keep.tolist()):
                need = self.idx.needs[rows.need_ids[i]]
                s = float(scores[j])
                by_score, by_rank = [], []
                for sub in self.subscriptions_for(need):
                    if sub.min_score is not None and s >= sub.min_score:
                        by_score.append(sub)
                    elif sub.top_n and (need.id in self._top or warmed < INLINE_WARM):
                        warmed += need.id not in self._top
                        top = self.cutoffs(need.id, scorer)
                        if len(top) < sub.top_n or s >= top[sub.top_n - 1]:
                            by_rank.append(sub)
                if by_score or by_rank:
                    why = "threshold" if by_score else "top_n"
                    out.append(Match(need.id, talent.id, round(s, 6), why, by_score + by_rank, X[j], model=scorer))
            return out

    # --- alerts ------------------------------------------------------------------------------------------------

    def match(self, talents: Sequence[Talent], *, now: datetime | None = None) -> list[CreatedAlert]:
        """Score each talent against the subscribed needs and write the alerts that pass dedup and caps."""
        now = now or datetime.now(UTC)
        with self._lock:
            matches = [m for t in talents if t.id in self.idx.talents for m in self.score(t, now=now)]
            if not matches:
                return []
            created = self._write(matches, now, capped=True)
            for m in {(c.need_id, c.score) for c in created}:
                if (top := self._top.get(m[0])) is not None:
                    self._top[m[0]] = -np.sort(-np.append(top, m[1]))[: len(top)]
        return created

    def need_posted(self, need: Need, *, now: datetime | None = None) -> list[CreatedAlert]:
        """A new need: its enterprise's subscriptions get one digest of the current best matches."""
        now = now or datetime.now(UTC)
        with self._lock:
            targets = [s for s in self.subscriptions_for(need) if s.need_id is None or s.need_id == need.id]
            if not targets or need.status is not NeedStatus.open:
                return []
            scorer = self._model()
            n = max([self.settings.alerts_posted_matches, *(s.top_n or 0 for s in targets)])
            ranking = rank(self.idx, need, scorer=scorer, k=n, persons=self._persons)
            if any(s.top_n for s in targets):
                self._top[need.id] = np.array([c.score for c in ranking.candidates], np.float32)
            best = ranking.candidates[: self.settings.alerts_posted_matches]
            matches = [Match(need.id, c.talent_id, c.score, "posted", targets) for c in best]
            reasons_by = {c.talent_id: [r.to_dict() for r in c.reasons] for c in best}
            return self._write(matches, now, capped=False, digest=True, given_reasons=reasons_by)

    def _write(self, matches: list[Match], now: datetime, *, capped: bool, digest: bool = False,
               given_reasons: dict[str, list[dict]] | None = None) -> list[CreatedAlert]:  # fmt: skip
        """Dedup, caps, then alerts + outbox rows + dedup state in one transaction."""
        margin = self.settings.alerts_score_margin
        with self.store.engine.begin() as conn:
            others = people.kin(conn, (m.talent_id for m in matches))
            matches = _best_per_person(matches, others)
            last = _last_scores(conn, matches, others)
            fresh = [
                m for m in matches if (prev := last.get((m.need_id, m.talent_id))) is None or m.score > prev + margin
            ]
            # only subscriptions in force now: keys are revoked and issued elsewhere too (the CLI), not refreshed here
            live = subs_db.still_in_force(conn, {sub.id for m in fresh for sub in m.subs})
            for m in fresh:
                m.subs = [sub for sub in m.subs if sub.id in live]
            fresh = [m for m in fresh if m.subs]
            if capped:
                fresh = self._capped(conn, fresh, now)
            if not fresh:
                return []
            _explain(fresh)
            created: list[CreatedAlert] = []
            digests: dict[int, int] = {}
            for m in fresh:
                payload = self._payload(m, now, given_reasons)
                for sub in m.subs:
                    created.append(_insert_alert(conn, sub, m, payload, now, digest, digests))
            _remember(conn, fresh, now)
        log.info("alerts: %d created for %d (need, talent) pairs", len(created), len(fresh))
        return created

    def _capped(self, conn: Connection, matches: list[Match], now: datetime) -> list[Match]:
        """Best scores first, at most the daily caps per need (talents) and per talent (needs)."""
        a = db.AlertRow.__table__
        since = day_start(now, self.settings.alerts_timezone)
        need_ids = sorted({m.need_id for m in matches})
        talent_ids = sorted({m.talent_id for m in matches})
        today = a.c.created_at >= since
        talents_per_need = sa.select(a.c.need_id, sa.func.count(sa.distinct(a.c.talent_id)))
        needs_per_talent = sa.select(a.c.talent_id, sa.func.count(sa.distinct(a.c.need_id)))
        per_need = dict(
            conn.execute(talents_per_need.where(today, a.c.need_id.in_(need_ids)).group_by(a.c.need_id)).all()
        )
        per_talent = dict(
            conn.execute(needs_per_talent.where(today, a.c.talent_id.in_(talent_ids)).group_by(a.c.talent_id)).all()
        )
        kept = []
        for m in sorted(matches, key=lambda m: (-m.score, m.need_id, m.talent_id)):
            if per_need.get(m.need_id, 0) >= self.settings.alerts_cap_per_need:
                continue
            if per_talent.get(m.talent_id, 0) >= self.settings.alerts_cap_per_talent:
                continue
            per_need[m.need_id] = per_need.get(m.need_id, 0) + 1
            per_talent[m.talent_id] = per_talent.get(m.talent_id, 0) + 1
            kept.append(m)
        return kept

    def _payload(self, m: Match, now: datetime, given: dict[str, list[dict]] | None) -> dict[str, Any]:
        need = self.idx.needs[m.need_id]
        talent = self.idx.talents[m.talent_id]
        card = talent_card(talent, reveal=False)
        if given is not None:
            why = given.get(m.talent_id, [])
        else:
            why = [r.to_dict() for r in reasons(need, m.x, m.contrib, SCHEMA, self.idx, talent.id)]
        scorer = self._model()
        return {
            "need": {"id": need.id, "title": need.title, "enterprise_id": need.enterprise_id, "kind": need.kind.value},
            "talent": card.model_dump(mode="json"),
            "score": m.score,
            "reason": m.reason,
            "reasons": enterprise_reasons(why),  # an alert goes to an enterprise: nothing a card hides
            "model_version": scorer.version if scorer is not None else TEXT_RELEVANCE,
            "created_at": now.isoformat(),
            "console_url": f"{self.settings.console_url.rstrip('/')}/needs/{need.id}/candidates",
        }


def _explain(matches: list[Match]) -> None:
    """The feature contributions behind each match's reasons, one call per model, for the matches being written
    only: the model's per-feature attribution is the dearest step of scoring, and dedup and the caps drop most
    matches."""
    todo: dict[int, list[Match]] = {}
    for m in matches:
        if m.model is not None and m.x is not None and m.contrib is None:
            todo.setdefault(id(m.model), []).append(m)
    for group in todo.values():
        for m, c in zip(group, group[0].model.contributions(np.stack([m.x for m in group])), strict=True):
            m.contrib = c


def _best_per_person(matches: list[Match], others: dict[str, list[str]]) -> list[Match]:
    """One match per (need, person): the best-scoring of a person's records that matched at once (an import
    bringing two records of one person)."""
    keys = [(m.need_id, min([m.talent_id, *others.get(m.talent_id, ())])) for m in matches]
    best: dict[tuple[str, str], Match] = {}
    for key, m in zip(keys, matches, strict=True):
        if key not in best or m.score > best[key].score:
            best[key] = m
    return [m for key, m in zip(keys, matches, strict=True) if best[key] is m]


def _last_scores(conn: Connection, matches: list[Match], others: dict[str, list[str]]) -> dict[tuple[str, str], float]:
    """The score each (need, talent) was last alerted at: the highest of any record of the talent's person."""
    ms = db.MatchStateRow.__table__
    talent_ids = sorted({t for m in matches for t in (m.talent_id, *others.get(m.talent_id, ()))})
    need_ids = sorted({m.need_id for m in matches})
    rows = conn.execute(sa.select(ms.c.need_id, ms.c.talent_id, ms.c.last_score)
                        .where(ms.c.talent_id.in_(talent_ids), ms.c.need_id.in_(need_ids))).all()  # fmt: skip
    seen = {(r.need_id, r.talent_id): r.last_score for r in rows}
    out = {}
    for m in matches:
        scores = [seen[k] for t in (m.talent_id, *others.get(m.talent_id, ())) if (k := (m.need_id, t)) in seen]
        if scores:
            out[(m.need_id, m.talent_id)] = max(scores)
    return out


def _remember(conn: Connection, matches: list[Match], now: datetime) -> None:
    ms = db.MatchStateRow.__table__
    ins = (sqlite.insert(ms) if conn.dialect.name == "sqlite" else postgresql.insert(ms)).values(
        [{"need_id": m.need_id, "talent_id": m.talent_id, "last_score": m.score, "alerted_at": now} for m in matches]
    )
    conn.execute(ins.on_conflict_do_update(index_elements=[ms.c.need_id, ms.c.talent_id],
                                           set_={"last_score": ins.excluded.last_score,
                                                 "alerted_at": ins.excluded.alerted_at}))  # fmt: skip


def new_outbox(conn: Connection, sub: Subscription, kind: str, key: str, now: datetime) -> int:
    o = db.OutboxRow.__table__
    return conn.execute(sa.insert(o).values(
        subscription_id=sub.id, kind=kind, channel=sub.channel.value, idempotency_key=key, status="pending",
        attempts=0, next_attempt_at=now, created_at=now).returning(o.c.id)).scalar_one()  # fmt: skip


def _insert_alert(conn: Connection, sub: Subscription, m: Match, payload: dict, now: datetime, digest: bool,
                  digests: dict[int, int]) -> CreatedAlert:  # fmt: skip
    """The alert row, and for webhook / e-mail its outbox row: its own (immediate), the digest of a posted need
    (``digest``: one per subscription, shared), or none yet (daily digest: flushed by the dispatcher)."""
    key = f"alert-{db.new_id()}"
    outbox_id, status = None, "inbox"
    if sub.channel is not Channel.inbox:
        if digest:
            if sub.id not in digests:
                posted = f"posted-{m.need_id[:32]}-{sub.id}-{uuid.uuid4().hex[:8]}"  # fits the 80-character key
                digests[sub.id] = new_outbox(conn, sub, "digest", posted, now)
            outbox_id, status = digests[sub.id], "queued"
        elif sub.delivery is Delivery.immediate:
            outbox_id, status = new_outbox(conn, sub, "alert", key, now), "queued"
        else:
            status = "digest"
    a = db.AlertRow.__table__
    alert_id = conn.execute(sa.insert(a).values(
        subscription_id=sub.id, enterprise_id=sub.enterprise_id, need_id=m.need_id, talent_id=m.talent_id,
        score=m.score, reason=m.reason, created_at=now, status=status, idempotency_key=key,
        masked=payload["talent"]["masked"], payload={**payload, "idempotency_key": key}, outbox_id=outbox_id,
    ).returning(a.c.id)).scalar_one()  # fmt: skip
    return CreatedAlert(alert_id, sub.id, m.need_id, m.talent_id, m.score, m.reason)


def flush_digests(store: Store, settings: Settings, *, now: datetime | None = None) -> int:
    """Batch the daily-digest alerts of days that have ended into one outbox message per subscription and day;
    returns how many messages were queued. Safe to run from several dispatchers (a unique key per batch)."""
    now = now or datetime.now(UTC)
    a = db.AlertRow.__table__
    since = day_start(now, settings.alerts_timezone)
    queued = 0
    with store.engine.connect() as conn:
        waiting = conn.execute(sa.select(a.c.id, a.c.subscription_id, a.c.created_at)
                               .where(a.c.status == "digest", a.c.outbox_id.is_(None), a.c.created_at < since)
                               .order_by(a.c.id)).all()  # fmt: skip
    groups: dict[tuple[int, str], list[int]] = {}
    for r in waiting:
        created = r.created_at if r.created_at.tzinfo else r.created_at.replace(tzinfo=UTC)
        day = day_start(created, settings.alerts_timezone).date().isoformat()
        groups.setdefault((r.subscription_id, day), []).append(r.id)
    for (sub_id, day), ids in groups.items():
        sub = subs_db.get(store, sub_id) or _any_subscription(store, sub_id)
        try:
            with store.engine.begin() as conn:
                outbox_id = new_outbox(conn, sub, "digest", f"digest-{sub_id}-{day}-{ids[0]}", now)
                done = conn.execute(sa.update(a).where(a.c.id.in_(ids), a.c.outbox_id.is_(None))
                                    .values(outbox_id=outbox_id, status="queued")).rowcount  # fmt: skip
                if done != len(ids):
                    raise sa.exc.IntegrityError("digest", {}, Exception("another dispatcher flushed these alerts"))
            queued += 1
        except sa.exc.IntegrityError:
            continue  # another dispatcher got there first
    return queued


def _any_subscription(store: Store, sub_id: int) -> Subscription:
    """A subscription ended since its alerts were made still gets the digest it was promised."""
    t = db.SubscriptionRow.__table__
    with store.engine.connect() as conn:
        return subs_db._from_row(conn.execute(sa.select(t).where(t.c.id == sub_id)).one())


def erase_talent_alerts(store: Store, talent_id: str) -> int:
    """PIPL erasure: the talent's alerts (inbox included), their undelivered messages and dedup state go; a digest
    still pending simply no longer carries them. Returns the alerts deleted."""
    a, o, ms = db.AlertRow.__table__, db.OutboxRow.__table__, db.MatchStateRow.__table__
    with store.engine.begin() as conn:
        own = sa.select(a.c.outbox_id).where(a.c.talent_id == talent_id, a.c.outbox_id.is_not(None))
        conn.execute(sa.delete(o).where(o.c.id.in_(own), o.c.kind == "alert", o.c.status == "pending"))
        n = conn.execute(sa.delete(a).where(a.c.talent_id == talent_id)).rowcount
        conn.execute(sa.delete(ms).where(ms.c.talent_id == talent_id))
    return n


def still_to_send(store: Store, outbox_id: int, token: str) -> list[dict] | None:
    """Re-read a claimed message just before it is sent: the payloads of the alerts it still carries, or ``None``
    when it is no longer this claim's to send (erased, cancelled, or the lease lost). An erasure after the claim
    deletes the talent's alerts and messages, so this is what keeps it from going out anyway."""
    o, a = db.OutboxRow.__table__, db.AlertRow.__table__
    with store.engine.connect() as conn:
        mine = conn.scalar(sa.select(sa.literal(1)).where(o.c.id == outbox_id, o.c.lease_token == token,
                                                          o.c.status == "pending"))  # fmt: skip
        if not mine:
            return None
        return list(conn.scalars(sa.select(a.c.payload).where(a.c.outbox_id == outbox_id).order_by(a.c.id)))


def utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything here is stored in UTC."""
    return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)
