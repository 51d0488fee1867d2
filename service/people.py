"""People in the store: ``features.people.link`` applied, the review queue, the office's decisions, undo, and the
golden record (``features.golden``).

``apply`` scores the whole pool (one ``link``: the model learns from every record) but changes only records that
belong to no person yet: existing persons change by the office's hand alone (confirm, reject, undo), never because
a re-run scored a little differently. New records join persons greedily, most probable pair first, under the
decisions: a confirmed pair is always one person, a rejected (or undone) pair never is, not even through a third
record; a new record that would join two existing persons joins the more probable one and the other pair goes to
review, as does a pair of two existing persons scored above the threshold. Pairs between thresholds of two different
persons, undecided, are the review queue too; it is rewritten each run. ``apply`` saves the model it scored with
(``person_models``), and ``link_new`` links records in no person yet with it — an import's new talents — scoring only
pairs with a new record, placing them by the same rules and appending to the review queue.
Everything is written in one transaction, or nothing.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from features.golden import Golden, golden
from features.records import Talent
from service import db
from service.store import Store, StoreError, journal, lock_journal

if TYPE_CHECKING:
    import pandas as pd

    from features.people import Linkage, Model, ReviewPair

CHUNK = 1000
"""Ids per ``IN (…)`` list."""
APART = ("reject", "split")
"""Decisions that keep a pair apart: ``reject`` (reviewed) and ``split`` (every pair of an undone person)."""


class PeopleError(StoreError):
    """A people request the store cannot carry out: ``status`` 404 (unknown id) or 409 (conflicts with the state)."""

    def __init__(self, message: str, status: int = 409, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.field = status, field


@dataclass(frozen=True)
class ApplyReport:
    records: int
    persons: int
    multi_record_persons: int
    new_records: int
    review_pairs: int
    link_seconds: float
    """Scoring the pool (``features.people.link``)."""
    seconds: float
    """Linking and writing."""


def _members() -> sa.Table:
    return db.PersonMemberRow.__table__  # type: ignore[return-value]


def _pairs() -> sa.Table:
    return db.PersonPairRow.__table__  # type: ignore[return-value]


def _decisions() -> sa.Table:
    return db.PersonDecisionRow.__table__  # type: ignore[return-value]


def _pair(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a < b else (b, a)


def _lock(conn: Connection) -> None:
    """Writers of people one at a time, and reads after this see the latest commit (PostgreSQL: a transaction
    advisory lock, after the journal's: a writer journals the persons it changed, ``_journal``; SQLite: a first
    write statement takes the file's write lock)."""
    if conn.dialect.name == "postgresql":
        lock_journal(conn)
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(8115013)"))
    else:
        conn.execute(sa.update(_members()).where(sa.false()).values(how=_members().c.how))


def _journal(conn: Connection, person_ids: Iterable[str]) -> None:
    """The persons this transaction changed, in the store's change journal (kind ``person``): every API process
    then forgets the person links its rankings remembered (``service.sync``; ``RankCache.clear``)."""
    if ids := sorted(set(person_ids)):
        journal(conn, "person", ids, "put")


class _Clusters:
    """Union–find over record ids with cannot-link pairs: a union that would put an apart pair in one component is
    refused."""

    def __init__(self, ids: Iterable[str], apart: Iterable[tuple[str, str]]) -> None:
        self.parent = {i: i for i in ids}
        self.members = {i: {i} for i in self.parent}
        self.apart: dict[str, set[str]] = {}
        for a, b in apart:
            self.apart.setdefault(a, set()).add(b)
            self.apart.setdefault(b, set()).add(a)

    def root(self, x: str) -> str:
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def can_join(self, a: str, b: str) -> bool:
        ra, rb = self.root(a), self.root(b)
        if ra == rb:
            return True
        small, big = sorted((self.members[ra], self.members[rb]), key=len)
        return not any(self.apart.get(x, set()) & big for x in small)

    def join(self, a: str, b: str) -> None:
        ra, rb = self.root(a), self.root(b)
        if ra != rb:
            keep, gone = min(ra, rb), max(ra, rb)
            self.parent[gone] = keep
            self.members[keep] |= self.members.pop(gone)


def apply(
    store: Store, talents: Sequence[Talent], threshold: float | None = None, review_threshold: float | None = None
) -> ApplyReport:
    """Link ``talents`` (the whole pool) and store the result as the module docstring says, with the model it was
    scored with (for ``link_new``); returns the counts. Thresholds default to ``features.people``'s (imported here:
    it loads pandas, which the API need not at start)."""
    from features.people import REVIEW_THRESHOLD, THRESHOLD, link

    t0 = time.perf_counter()
    threshold = THRESHOLD if threshold is None else threshold
    review_threshold = REVIEW_THRESHOLD if review_threshold is None else review_threshold
    linkage = link(talents, threshold=threshold, review_threshold=review_threshold)
    ids = sorted(linkage.persons)
    now = datetime.now(UTC)
    m, p = _members(), _pairs()
    with store.engine.begin() as conn:
        _lock(conn)
        existing, decided = _state(conn)
        review = {(r.left, r.right): r for r in linkage.review}
        persons, queued = _place(existing, decided, ids, linkage.scores, review, threshold)
        queue = _queue_rows(queued, review, now)
        new = [t for t in ids if t not in existing]
        if new:
            conn.execute(sa.insert(m), [{"talent_id": t, "person_id": persons[t], "how": "linked", "at": now,
                                         "key_id": None} for t in new])  # fmt: skip
        conn.execute(sa.delete(p))
        if queue:
            conn.execute(sa.insert(p), queue)
        _save_model(conn, linkage, threshold, review_threshold, _digests(conn, ids), now)
        _journal(conn, (persons[t] for t in new))
    sizes: dict[str, int] = {}
    for person in persons.values():
        sizes[person] = sizes.get(person, 0) + 1
    return ApplyReport(len(ids), len(sizes), sum(n > 1 for n in sizes.values()), len(new), len(queue),
                       round(linkage.seconds, 2), round(time.perf_counter() - t0, 2))  # fmt: skip


def _state(conn: Connection) -> tuple[dict[str, str], dict[tuple[str, str], str]]:
    """Every record's person, and the office's decisions by pair."""
    m, d = _members(), _decisions()
    existing = {t: p for t, p in conn.execute(sa.select(m.c.talent_id, m.c.person_id))}
    decided = {(a, b): x for a, b, x in conn.execute(sa.select(d.c.left_id, d.c.right_id, d.c.decision))}
    return existing, decided


def _place(
    existing: dict[str, str],
    decided: dict[tuple[str, str], str],
    ids: Sequence[str],
    scores: Iterable[tuple[str, str, float]],
    review: dict[tuple[str, str], ReviewPair],
    threshold: float,
) -> tuple[dict[str, str], dict[tuple[str, str], float]]:
    """Place the records of ``ids`` in no person yet (``existing``: every record's person) by the scored pairs, as
    the module docstring says; returns every record's person and the pairs for the review queue with their
    probability."""
    present = set(ids)
    clusters = _Clusters(ids, [k for k, x in decided.items() if x in APART and set(k) <= present])
    by_person: dict[str, str] = {}  # existing person -> one of its records
    for talent_id, person_id in existing.items():
        if talent_id in present:
            if person_id in by_person:
                clusters.join(by_person[person_id], talent_id)
            by_person.setdefault(person_id, talent_id)
    person_of = {clusters.root(t): person for person, t in by_person.items()}  # component root -> its person
    edges = [(a, b, 1.0) for (a, b), x in decided.items() if x == "confirm" and {a, b} <= present]
    edges += sorted((e for e in scores if e[2] >= threshold), key=lambda e: (-e[2], e[0], e[1]))
    held_back: dict[tuple[str, str], float] = {}
    for a, b, prob in edges:
        if a in existing and b in existing and (a, b) not in decided:
            if existing[a] != existing[b]:  # existing persons change by the office's hand only: it reviews
                held_back[(a, b)] = prob
            continue
        ra, rb = clusters.root(a), clusters.root(b)
        if ra == rb:
            continue
        pa, pb = person_of.get(ra), person_of.get(rb)
        if (pa and pb and pa != pb and (a, b) not in decided) or not clusters.can_join(a, b):
            held_back[(a, b)] = prob
            continue
        clusters.join(a, b)
        person_of[clusters.root(a)] = pa or pb  # type: ignore[assignment]
        if person_of[clusters.root(a)] is None:
            person_of.pop(clusters.root(a))
    persons = {t: person_of.get(clusters.root(t)) or clusters.root(t) for t in ids}
    queued = {
        (a, b): prob
        for (a, b), prob in {**{k: r.probability for k, r in review.items()}, **held_back}.items()
        if (a, b) not in decided and persons[a] != persons[b]
    }
    return persons, queued


def _queue_rows(
    queued: dict[tuple[str, str], float], review: dict[tuple[str, str], ReviewPair], now: datetime
) -> list[dict[str, Any]]:
    return [{"left_id": a, "right_id": b, "probability": prob, "at": now,
             "agreed": list(review[(a, b)].agreed) if (a, b) in review else []}
            for (a, b), prob in sorted(queued.items())]  # fmt: skip


def _model_table() -> sa.Table:
    return db.PersonModelRow.__table__  # type: ignore[return-value]


def _frames() -> sa.Table:
    return db.PersonFrameRow.__table__  # type: ignore[return-value]


def _save_model(
    conn: Connection, linkage: Linkage, threshold: float, review_threshold: float, digests: dict[str, str], at: datetime
) -> None:
    """Replace the saved model with the linkage's (none for a pool of fewer than two records: nothing to link with)
    and the saved frames with its records'."""
    from features.people import frame_version

    conn.execute(sa.delete(_model_table()))
    conn.execute(sa.delete(_frames()))
    if linkage.model is None or linkage.frame is None:
        return
    conn.execute(sa.insert(_model_table()).values(id=1, model=linkage.model.splink, records=linkage.model.records,
                                                  threshold=threshold, review_threshold=review_threshold,
                                                  frame_version=frame_version(), at=at))  # fmt: skip
    _save_frames(conn, [linkage.frame], digests)


def _save_frames(
    conn: Connection, frames: Sequence[pd.DataFrame], digests: dict[str, str], replace: Sequence[str] = ()
) -> None:
    """Save the frame rows of the records of ``frames`` as of their ``digests`` (a record without one is gone: no
    row), replacing those of ``replace``."""
    from features.people import frame_rows

    f = _frames()
    for i in range(0, len(replace), CHUNK):
        conn.execute(sa.delete(f).where(f.c.talent_id.in_(replace[i : i + CHUNK])))
    rows = [{"talent_id": i, "digest": digests[i], "row": row}
            for df in frames for row in frame_rows(df) if (i := row.pop("unique_id")) in digests]  # fmt: skip
    for i in range(0, len(rows), 5 * CHUNK):
        conn.execute(sa.insert(f), rows[i : i + 5 * CHUNK])


def _digests(conn: Connection, ids: Sequence[str]) -> dict[str, str]:
    """The stored digest of each of ``ids`` whose talent record exists."""
    t = db.table("talent")
    out: dict[str, str] = {}
    for i in range(0, len(ids), CHUNK):
        out.update((r, d) for r, d in conn.execute(sa.select(t.c.id, t.c.digest).where(t.c.id.in_(ids[i : i + CHUNK]))))
    return out


def _records_with_digests(conn: Connection, ids: Iterable[str]) -> dict[str, tuple[Talent, str]]:
    """Talent id → (the record, its stored digest)."""
    t = db.table("talent")
    ids = sorted(ids)
    out: dict[str, tuple[Talent, str]] = {}
    for i in range(0, len(ids), CHUNK):
        query = sa.select(t.c.id, sa.cast(t.c.data, sa.Text), t.c.digest).where(t.c.id.in_(ids[i : i + CHUNK]))
        for row_id, text, digest in conn.execute(query):
            out[row_id] = (Talent.model_validate_json(text), digest)
    return out


@dataclass(frozen=True)
class SavedModel:
    """The model of the last full ``apply``: what it scored with and at which thresholds, and when."""

    model: Model
    threshold: float
    review_threshold: float
    frame_version: str
    """``features.people.frame_version()`` of the code that saved the model and the frames."""
    at: datetime


def saved_model(store: Store, conn: Connection | None = None) -> SavedModel | None:
    """The model the last full ``apply`` saved, or ``None`` when the pool was never linked in full."""
    from features.people import Model

    t = _model_table()
    with store.engine.connect() if conn is None else nullcontext(conn) as c:
        row = c.execute(sa.select(t.c.model, t.c.records, t.c.threshold, t.c.review_threshold, t.c.frame_version,
                                  t.c.at)).first()  # fmt: skip
    if row is None:
        return None
    return SavedModel(Model(row.model, row.records), row.threshold, row.review_threshold, row.frame_version, row.at)


@dataclass(frozen=True)
class LinkNewReport:
    """What ``link_new`` did. ``linked`` is false (and every count 0) when there was no saved model: ``reason``."""

    linked: bool
    new_records: int
    """Records placed: they were in no person."""
    joined: int
    """Of them, records that joined a person with a record placed before."""
    new_persons: int
    """Persons of new records only with more than one record (new duplicates of each other)."""
    review_pairs: int
    """Pairs added to the review queue."""
    existing_records: int
    """Records already in persons the new ones were scored against."""
    compared: int
    """Pairs scored: each has a new record (no pair of two existing records is scored again)."""
    load_seconds: float
    """Reading the records and normalising them (``features.people.frame``)."""
    score_seconds: float
    """Scoring (``features.people.score_new``)."""
    seconds: float
    """Everything, writing included."""
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


NO_MODEL = "no saved linkage model: link the pool in full once (`talentmatch people link --apply`)"


def unplaced(store: Store, conn: Connection | None = None) -> list[str]:
    """Talent ids in no person yet (written since the last link), sorted."""
    t, m = db.table("talent"), _members()
    placed = sa.exists().where(m.c.talent_id == t.c.id)
    with store.engine.connect() if conn is None else nullcontext(conn) as c:
        return list(c.scalars(sa.select(t.c.id).where(~placed).order_by(t.c.id)))


def link_new(store: Store, talent_ids: Iterable[str] | None = None) -> LinkNewReport:
    """Link the records in no person yet (of ``talent_ids``, or every one) with the saved model, without re-linking
    the pool: scored against the records already in persons and among themselves (``features.people.score_new``);
    placed as ``apply`` places new records — at or above the saved threshold a record joins the person of its most
    probable match (or forms one with other new records), never joins a pair the office kept apart, and never makes
    one of two existing persons (that pair goes to review); pairs between the thresholds are appended to the review
    queue (kept as it is otherwise). One transaction, all or nothing. Without a saved model (the pool was never
    linked in full) nothing is done and ``reason`` says so."""
    import pandas as pd

    from features.people import frame, frame_version, from_rows, score_new

    t0 = time.perf_counter()
    saved = saved_model(store)
    if saved is None:
        return LinkNewReport(False, 0, 0, 0, 0, 0, 0, 0.0, 0.0, round(time.perf_counter() - t0, 2), NO_MODEL)
    version = frame_version()
    m, f, talents = _members(), _frames(), db.table("talent")
    with store.engine.connect() as conn:
        todo = set(unplaced(store, conn))
        if talent_ids is not None:
            todo &= set(talent_ids)
        if not todo:
            return LinkNewReport(True, 0, 0, 0, 0, 0, 0, 0.0, 0.0, round(time.perf_counter() - t0, 2))
        placed = set(conn.scalars(sa.select(m.c.talent_id)))
        saved_rows = []
        if saved.frame_version == version:  # rows of placed records saved as of their current digest
            query = sa.select(f.c.talent_id, f.c.row).join(
                talents, (talents.c.id == f.c.talent_id) & (talents.c.digest == f.c.digest)
            )
            saved_rows = [{**row, "unique_id": i} for i, row in conn.execute(query) if i in placed]
        stale = placed - {r["unique_id"] for r in saved_rows}  # changed since, or saved by other code: normalised again
        records = _records_with_digests(conn, stale | todo)
    digests = {i: d for i, (_, d) in records.items()}
    new_df = frame(records[i][0] for i in sorted(todo))
    stale_df = frame(records[i][0] for i in sorted(stale))
    del records
    old_df = pd.concat([from_rows(saved_rows), stale_df], ignore_index=True) if stale else from_rows(saved_rows)
    del saved_rows
    load_seconds = time.perf_counter() - t0
    scored = score_new(old_df, new_df, saved.model, saved.threshold, saved.review_threshold)
    now = datetime.now(UTC)
    m, p = _members(), _pairs()
    with store.engine.begin() as conn:
        _lock(conn)
        existing, decided = _state(conn)
        # since the scoring, another process may have placed some new records, or erased some records
        alive = set(_digests(conn, [i for i in new_df["unique_id"] if i not in existing]))
        fresh = sorted(alive)
        ids = [*existing, *fresh]
        present = set(ids)
        scores = [s for s in scored.scores if s[0] in present and s[1] in present]
        review = {(r.left, r.right): r for r in scored.review if r.left in present and r.right in present}
        persons, queued = _place(existing, decided, ids, scores, review, saved.threshold)
        queued_ids = set(fresh)
        queued = {k: v for k, v in queued.items() if queued_ids & set(k)}
        if queued:
            already = {(a, b) for a, b in conn.execute(sa.select(p.c.left_id, p.c.right_id).where(
                sa.tuple_(p.c.left_id, p.c.right_id).in_(sorted(queued))))}  # fmt: skip
            queued = {k: v for k, v in queued.items() if k not in already}
        if fresh:
            conn.execute(sa.insert(m), [{"talent_id": i, "person_id": persons[i], "how": "linked", "at": now,
                                         "key_id": None} for i in fresh])  # fmt: skip
        rows = _queue_rows(queued, review, now)
        if rows:
            conn.execute(sa.insert(p), rows)
        if saved.frame_version != version:
            conn.execute(sa.delete(f))
            conn.execute(sa.update(_model_table()).values(frame_version=version))
        _save_frames(conn, [new_df[new_df["unique_id"].isin(alive)], stale_df[stale_df["unique_id"].isin(existing)]],
                     digests, replace=sorted(alive | stale))  # fmt: skip
        _journal(conn, (persons[i] for i in fresh))
    old_persons = set(existing.values())
    joined = sum(persons[i] in old_persons for i in fresh)
    sizes: dict[str, int] = {}
    for i in fresh:
        if persons[i] not in old_persons:
            sizes[persons[i]] = sizes.get(persons[i], 0) + 1
    return LinkNewReport(True, len(fresh), joined, sum(n > 1 for n in sizes.values()), len(rows), len(old_df),
                         scored.compared, round(load_seconds, 2), round(scored.seconds, 2),
                         round(time.perf_counter() - t0, 2))  # fmt: skip


@dataclass(frozen=True)
class Side:
    """One record of a review pair, as a recruiter compares it: enough to tell, no more (the e-mail masked)."""

    talent_id: str
    person_id: str
    name: str | None
    name_zh: str | None
    name_en: str | None
    employer: str | None
    email: str | None
    works: int
    updated_at: str | None


@dataclass(frozen=True)
class ReviewItem:
    left: Side
    right: Side
    probability: float
    agreed: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def mask_email(email: str | None) -> str | None:
    """``lixin.wang@example.com`` → ``l***@example.com``: enough to see two records share a domain, not the
    address."""
    if not email:
        return None
    local, at, domain = email.strip().partition("@")
    return f"{local[:1]}***{at}{domain}" if at else "***"


def _side(talent: Talent, person_id: str) -> Side:
    return Side(talent.id, person_id, talent.name, talent.name_zh, talent.name_en, talent.employer,
                mask_email(talent.email), len(talent.works),
                talent.updated_at.isoformat() if talent.updated_at else None)  # fmt: skip


def review(store: Store, limit: int | None = None) -> list[ReviewItem]:
    """The pairs waiting for review, most probable first: of two different persons, undecided."""
    m, p, d = _members(), _pairs(), _decisions()
    ml, mr = m.alias("ml"), m.alias("mr")
    decided = sa.exists().where(d.c.left_id == p.c.left_id, d.c.right_id == p.c.right_id)
    query = (
        sa.select(p.c.left_id, p.c.right_id, p.c.probability, p.c.agreed, ml.c.person_id, mr.c.person_id)
        .join(ml, ml.c.talent_id == p.c.left_id)
        .join(mr, mr.c.talent_id == p.c.right_id)
        .where(ml.c.person_id != mr.c.person_id, ~decided)
        .order_by(p.c.probability.desc(), p.c.left_id, p.c.right_id)
        .limit(limit)
    )
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
    talents = _talents(store, {i for r in rows for i in r[:2]})
    return [ReviewItem(_side(talents[r[0]], r[4]), _side(talents[r[1]], r[5]), r[2], list(r[3])) for r in rows]


def _talents(store: Store, ids: Iterable[str], conn: Connection | None = None) -> dict[str, Talent]:
    t = db.table("talent")
    ids = sorted(ids)
    out: dict[str, Talent] = {}
    with store.engine.connect() if conn is None else nullcontext(conn) as c:
        for i in range(0, len(ids), 1000):
            for row_id, data in c.execute(sa.select(t.c.id, t.c.data).where(t.c.id.in_(ids[i : i + 1000]))):
                out[row_id] = Talent.model_validate(data)
    return out


def _person_of(conn: Connection, talent_id: str, field: str) -> str:
    m = _members()
    person = conn.scalar(sa.select(m.c.person_id).where(m.c.talent_id == talent_id))
    if person is None:
        exists = conn.scalar(sa.select(db.table("talent").c.id).where(db.table("talent").c.id == talent_id))
        why = "is in no person yet; run `talentmatch people link --apply`" if exists else "does not exist"
        raise PeopleError(f"talent {talent_id!r} {why}", 404, field)
    return person


def decide(store: Store, left: str, right: str, decision: str, key_id: int | None = None) -> dict[str, Any]:
    """Record the office's ``confirm`` or ``reject`` of a pair. Confirm merges the two persons (into the smaller
    person id; 409 when a rejected pair would end up in one person); reject keeps them apart for good (409 when they
    are one person already: undo that person first). Returns ``{"decision", "persons": {record: person}}``."""
    if decision not in ("confirm", "reject"):
        raise PeopleError(f"decision must be confirm or reject, not {decision!r}", 422, "decision")
    if left == right:
        raise PeopleError("a pair needs two different talent ids", 422, "right")
    a, b = _pair(left, right)
    m, d = _members(), _decisions()
    now = datetime.now(UTC)
    with store.engine.begin() as conn:
        _lock(conn)
        pa, pb = _person_of(conn, left, "left"), _person_of(conn, right, "right")
        pa, pb = (pa, pb) if a == left else (pb, pa)
        if decision == "reject" and pa == pb:
            raise PeopleError(f"{a} and {b} are one person ({pa}); undo it first (`talentmatch people undo {pa}`, "
                              f"POST /people/{pa}/undo), then reject the pair")  # fmt: skip
        if decision == "confirm" and pa != pb:
            members = list(conn.scalars(sa.select(m.c.talent_id).where(m.c.person_id.in_((pa, pb)))))
            apart = conn.execute(
                sa.select(d.c.left_id, d.c.right_id).where(
                    d.c.decision.in_(APART),
                    d.c.left_id.in_(members),
                    d.c.right_id.in_(members),
                    ~((d.c.left_id == a) & (d.c.right_id == b)),  # this pair's own decision is being replaced
                )
            ).first()
            if apart is not None:
                raise PeopleError(f"confirming would make one person of {apart[0]} and {apart[1]}, a pair the "
                                  "office kept apart; nothing was changed")  # fmt: skip
            keep, gone = min(pa, pb), max(pa, pb)
            conn.execute(sa.update(m).where(m.c.person_id == gone)
                         .values(person_id=keep, how="confirmed", at=now, key_id=key_id))  # fmt: skip
            _journal(conn, (keep, gone))
        values = {"decision": decision, "at": now, "key_id": key_id}
        if conn.execute(sa.update(d).where(d.c.left_id == a, d.c.right_id == b).values(**values)).rowcount == 0:
            conn.execute(sa.insert(d).values(left_id=a, right_id=b, **values))
        persons = {
            t: p for t, p in conn.execute(sa.select(m.c.talent_id, m.c.person_id).where(m.c.talent_id.in_((a, b))))
        }
    return {"decision": decision, "left": a, "right": b, "persons": persons}


def undo(store: Store, person_id: str, key_id: int | None = None) -> dict[str, Any]:
    """Split a person back into its records, each its own person; every pair of them is recorded as ``split`` (never
    merged again by a re-link; a recruiter may still confirm one). 404 for an unknown person, 409 for one record."""
    m, d = _members(), _decisions()
    now = datetime.now(UTC)
    with store.engine.begin() as conn:
        _lock(conn)
        records = sorted(conn.scalars(sa.select(m.c.talent_id).where(m.c.person_id == person_id)))
        if not records:
            raise PeopleError(f"no person {person_id!r}; check the id", 404, "person_id")
        if len(records) == 1:
            raise PeopleError(f"person {person_id!r} has one record; there is nothing to undo")
        for talent_id in records:
            conn.execute(sa.update(m).where(m.c.talent_id == talent_id)
                         .values(person_id=talent_id, how="split", at=now, key_id=key_id))  # fmt: skip
        pairs = [(a, b) for i, a in enumerate(records) for b in records[i + 1 :]]
        conn.execute(sa.delete(d).where(sa.tuple_(d.c.left_id, d.c.right_id).in_(pairs)))
        conn.execute(sa.insert(d), [{"left_id": a, "right_id": b, "decision": "split", "at": now, "key_id": key_id}
                                    for a, b in pairs])  # fmt: skip
        _journal(conn, records)
    return {"person_id": person_id, "records": records, "split_pairs": len(pairs)}


@dataclass(frozen=True)
class Member:
    talent_id: str
    how: str
    at: datetime
    key_id: int | None


def members(store: Store, person_id: str, conn: Connection | None = None) -> list[Member]:
    """The person's records with how each joined, by talent id; 404 (``PeopleError``) for an unknown id."""
    m = _members()
    with store.engine.connect() if conn is None else nullcontext(conn) as c:
        rows = c.execute(sa.select(m.c.talent_id, m.c.how, m.c.at, m.c.key_id)
                         .where(m.c.person_id == person_id).order_by(m.c.talent_id)).all()  # fmt: skip
    if not rows:
        raise PeopleError(f"no person {person_id!r}; check the id", 404, "person_id")
    return [Member(*r) for r in rows]


def person(store: Store, person_id: str) -> tuple[Golden, list[Member]]:
    """The person's golden record and its records with how each joined; 404 (``PeopleError``) for an unknown id."""
    with store.engine.connect() as conn:
        records = members(store, person_id, conn)
        talents = _talents(store, [r.talent_id for r in records], conn)
    return golden(person_id, talents.values()), records


def persons_of(store: Store, talent_ids: Sequence[str]) -> dict[str, str]:
    """The person of each of ``talent_ids`` that belongs to a person of two records or more (``matcher.pipeline
    .PersonsOf``: a ranking shows such a person once). One indexed query per ranking."""
    if not talent_ids:
        return {}
    with store.engine.connect() as conn:
        rows = conn.execute(_persons_query(store.engine.dialect.name), {"ids": list(talent_ids)}).all()
    return dict(rows)  # type: ignore[arg-type]


@cache
def _persons_query(dialect: str) -> sa.Select:
    """``persons_of``'s statement, built once per dialect. The ids (a ranking's whole pool, ~1,500) travel as one
    parameter, a PostgreSQL array or a JSON array SQLite reads with ``json_each``: an expanding ``IN`` list had
    SQLAlchemy render a placeholder per id on every ranking (1.1 ms of 1.4 at 1,500 ids, measured)."""
    m, other = _members(), _members().alias("other")
    shared = sa.exists().where(other.c.person_id == m.c.person_id, other.c.talent_id != m.c.talent_id)
    if dialect == "postgresql":
        among = m.c.talent_id == sa.any_(sa.bindparam("ids", type_=postgresql.ARRAY(sa.String)))
    else:
        ids = sa.bindparam("ids", type_=sa.JSON)  # the engine's JSON serialiser writes the list
        among = m.c.talent_id.in_(sa.select(sa.func.json_each(ids).table_valued("value").c.value))
    return sa.select(m.c.talent_id, m.c.person_id).where(among, shared)


def person_map(store: Store) -> dict[str, str]:
    """Talent id → person id of every record that shares its person with another (``matcher.labels.Persons``):
    what training reads so that feedback teaches about people. One query."""
    m, other = _members(), _members().alias("other")
    shared = sa.exists().where(other.c.person_id == m.c.person_id, other.c.talent_id != m.c.talent_id)
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(m.c.talent_id, m.c.person_id).where(shared)).all()
    return dict(rows)  # type: ignore[arg-type]


def kin(conn: Connection, talent_ids: Iterable[str]) -> dict[str, list[str]]:
    """The other records of the person of each of ``talent_ids`` that shares its person (alerts: an enterprise hears
    of a person once, whichever record matched)."""
    m, mine = _members(), _members().alias("mine")
    ids = sorted(set(talent_ids))
    if not ids:
        return {}
    rows = conn.execute(sa.select(mine.c.talent_id, m.c.talent_id).join(m, m.c.person_id == mine.c.person_id)
                        .where(mine.c.talent_id.in_(ids), m.c.talent_id != mine.c.talent_id)).all()  # fmt: skip
    out: dict[str, list[str]] = {}
    for talent_id, other in rows:
        out.setdefault(talent_id, []).append(other)
    return out


def erase_talent(store: Store, talent_id: str) -> int:
    """Erasure: a person named by the talent's id is renamed to its smallest other record id, so the erased id does
    not live on as a label (the talent's own rows go with its record, ``ON DELETE CASCADE``). Returns the records
    renamed; idempotent."""
    m = _members()
    with store.engine.begin() as conn:
        _lock(conn)
        others = sorted(conn.scalars(sa.select(m.c.talent_id).where(m.c.person_id == talent_id,
                                                                   m.c.talent_id != talent_id)))  # fmt: skip
        if others:
            conn.execute(sa.update(m).where(m.c.person_id == talent_id).values(person_id=others[0]))
            _journal(conn, (talent_id, others[0]))
    return len(others)
