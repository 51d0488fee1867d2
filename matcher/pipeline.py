"""Ranking one need end to end: retrieve → eligibility → feature matrix → model (or text relevance) → reasons.

What the CLI's ``talentmatch rank`` and the API serve, in two steps: ``rank_pool`` scores every retrieved
candidate (a few hundred) and keeps the re-ranked pool with its feature rows; ``page`` builds reasons and
contributions, the costly per-row part, for the returned page only. ``rank`` is both; the service keeps the pool
(``service.ranking``) and reads pages from it. ``personalized=False`` (or no model) is
the non-personalised ranking PIPL requires: the fixed text blend ``text_relevance`` plus the hard rules, with no
learned preference. A talent who opted out of purely automated decisions is still ranked, flagged
``human_review`` so a recruiter, not the model alone, decides. The office's stated policy (``Policy``) is applied
on top of either, as configuration: it is not something the model fits.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Protocol
from weakref import ref

import numpy as np

from features.conflict import Tie
from features.indices import Indices
from features.matrix import feature_matrix, index_encoder, retimed, text_relevance
from features.records import Need, NeedKind
from features.schema import SCHEMA
from matcher.interleaving import team_draft
from matcher.reasons import DEFAULT_TOP, Reason, blend_contributions, internal_reason, reasons
from matcher.retrieve import Candidates, Filters, Quotas, retrieve

TEXT_RELEVANCE = "text-relevance"
"""``model_version`` of the non-personalised ranking."""
CANDIDATES = 300
"""How many retrieved candidates the model re-ranks."""
SAME_PERSON = "same_person"
"""``removed`` key of the records folded into a better-ranked record of the same person (one card per person)."""
_BESIDE = ThreadPoolExecutor(4, "talentmatch-graph")
"""Where a ranking builds its need's graph passes (``TalentGraph.prepare``) while its own thread retrieves: the
graph's sparse products hold the GIL, but the dense scan (faiss) and the query's encoding release it, so on two
cores a need's first ranking overlaps them (100k talents in process: first rankings p50 60.0 → 47.0 ms, the same
pages). A need whose PageRank is in the graph's memo hands over nothing (``TalentGraph.prepared``)."""

PersonsOf = Callable[[Sequence[str]], Mapping[str, str]]
"""Talent ids → the person each belongs to, for the records the office has linked with others
(``service.people.persons_of`` reads them from the store); a record not named stands alone."""


@dataclass(frozen=True)
class Policy:
    """Office policy applied when a ranking is ordered, after the model (or the text blend) scored it.

    ``yrd_first``: "Yangtze River Delta residents first" for special-researcher posts, the programme's stated
    priority. Candidates whose records state they live in the YRD rank before all others (those outside it and
    those who did not say), each part in the score's order; scores are left as they are, and a promoted candidate's
    reasons say the policy placed them. Off, residence is one feature among others and the model weighs it as the
    office's feedback did. Set by ``TALENTMATCH_POLICY_YRD_FIRST`` (``service.settings``)."""

    yrd_first: bool = False

    def promoted(self, need: Need, X: np.ndarray) -> np.ndarray:
        """Which rows of ``need``'s feature matrix the policy ranks first."""
        if not (self.yrd_first and need.kind is NeedKind.special_researcher):
            return np.zeros(len(X), dtype=bool)
        return X[:, SCHEMA.index("in_yrd")] == 1


NO_POLICY = Policy()
YRD_FIRST_REASON = Reason(
    "policy:yrd_first",
    "ranked ahead by office policy: Yangtze River Delta residents first for special-researcher posts",
    "按本办政策优先：特聘研究员岗位长三角人才优先",
    0.0,
)


class ScorerLike(Protocol):
    """What ``rank`` needs of a model: ``matcher.ranker.Scorer``'s interface."""

    version: str
    schema_version: str

    def check_indices(self, idx: Indices) -> None: ...

    def predict(self, X: np.ndarray) -> np.ndarray: ...

    def contributions(self, X: np.ndarray) -> np.ndarray: ...


@dataclass
class RankedCandidate:
    """One returned candidate. ``features`` (the row that scored it) and ``contributions`` (one value per feature
    plus the bias: the model's TreeSHAP values, or the text blend's shares) are what a decision receipt keeps."""

    talent_id: str
    score: float
    reasons: list[Reason]
    human_review: bool = False
    position: int = 0
    features: np.ndarray | None = field(default=None, repr=False, compare=False)
    contributions: np.ndarray | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict:
        return {
            "talent_id": self.talent_id,
            "score": self.score,
            "reasons": [r.to_dict() for r in self.reasons],
            "human_review": self.human_review,
        }


@dataclass
class Ranking:
    """One page of a need's ranking. ``removed`` counts retrieved talents by the hard rule that removed them."""

    need_id: str
    model_version: str
    personalized: bool
    candidates: list[RankedCandidate]
    removed: dict[str, int]
    schema_version: str = SCHEMA.version
    removed_ids: dict[str, str] = field(default_factory=dict, repr=False)
    persons: dict[str, str] = field(default_factory=dict, repr=False)
    """The person of each candidate that belongs to one of several records (``Pool.persons``), by talent id."""

    def to_dict(self) -> dict:
        """The JSON form: ``need_id``, ``model_version``, ``personalized``, ``schema_version``, ``candidates``
        (``talent_id``, ``score``, ``reasons``, ``human_review``) and ``removed`` (rule → count)."""
        return {
            "need_id": self.need_id,
            "model_version": self.model_version,
            "personalized": self.personalized,
            "schema_version": self.schema_version,
            "candidates": [c.to_dict() for c in self.candidates],
            "removed": dict(self.removed),
        }


@dataclass(frozen=True)
class Inputs:
    """What a ranking computes before any model looks at it: the need's retrieved candidates and their feature rows,
    in retrieval order.

    Both depend on the request (need, filters, quotas, candidate count), on the records in the indices
    (``Indices.version``) and on the day (the conflict rule's window); the rows also on the clock, through the
    columns ``features.matrix.retimed`` computes anew. A ranking of the same request with those unchanged takes
    them as they are (``rank_pool(inputs=…)``): the candidates and rows a computation would give, bit for bit, and
    only the model, the policy and the order run again. The first ranking after any write computes them afresh.
    ``indices``: the very ``Indices`` they come from (a weak reference: another one, loaded from a snapshot say,
    may count the same version over other rows)."""

    indices: ref[Indices]
    need: Need
    filters: Filters | None
    quotas: Quotas | None
    candidates: int
    version: tuple[int, int]
    day: date
    cands: Candidates
    X: np.ndarray
    ordered: list[tuple[np.ndarray, list[str]]] = field(default_factory=list, compare=False, repr=False)
    """The last order of the candidates a model gave and their ids in it, if any (``ids_in``)."""

    def ids_in(self, order: np.ndarray) -> list[str]:
        """The candidates' ids in ``order``: the last ranking's list when it ordered them the same (most rankings of
        unchanged inputs do; listing 300 ids afresh was ~0.08 ms of a page). Lists are never changed in place."""
        last = self.ordered[0] if self.ordered else None
        if last is not None and np.array_equal(last[0], order):
            return last[1]
        ids = [self.cands.talent_ids[i] for i in order.tolist()]
        self.ordered[:] = [(order, ids)]
        return ids

    def serves(
        self, idx: Indices, need: Need, filters: Filters | None, quotas: Quotas | None, candidates: int,
        version: tuple[int, int], day: date,
    ) -> bool:  # fmt: skip
        return (
            self.indices() is idx
            and self.version == version
            and self.day == day
            and self.candidates == candidates
            and self.filters == filters
            and self.quotas == quotas
            and self.need == need
            and self.cands.eligibility is not None
        )


@dataclass
class Pool:
    """A need's eligible, filtered candidates re-ranked best first, with the feature rows that scored them: the
    costly part of a ranking, which a server may keep while pages are read from it. ``removed`` counts retrieved
    talents by the hard rule that removed them, ``filtered`` those the recruiter's filters removed, ``pool`` all
    the retrievers brought."""

    need: Need
    ids: list[str]
    scores: np.ndarray
    X: np.ndarray
    scorer: ScorerLike | None
    removed: dict[str, int]
    removed_ids: dict[str, str]
    filtered: int
    pool: int
    computed_at: datetime
    promoted: np.ndarray | None = None
    """Rows (in ranked order) a ``Policy`` moved ahead of the score's order; None: no policy applied."""
    challenger: ScorerLike | None = None
    """The second model of an interleaved ranking (``matcher.interleaving``); ``scores`` stay the champion's."""
    teams: list[str] | None = None
    """Per row (in ranked order), the team that drafted it in an interleaved ranking; None: not interleaved."""
    ties: dict[str, Tie] = field(default_factory=dict)
    """The relation behind each conflict removal or internal flag among the retrieved, by talent id."""
    persons: dict[str, str] = field(default_factory=dict)
    """The person of each ranked record that belongs to one of several records, by talent id (``PersonsOf``)."""
    inputs: Inputs | None = field(default=None, repr=False)
    """The retrieved candidates and feature rows this ranking was computed from, for the next (``Inputs``)."""

    @property
    def personalized(self) -> bool:
        return self.scorer is not None

    @property
    def model_version(self) -> str:
        return self.scorer.version if self.scorer is not None else TEXT_RELEVANCE


def _check_int(name: str, value: object, low: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ValueError(f"rank: {name} must be an integer >= {low}, got {value!r}")


def rank_pool(
    idx: Indices,
    need: Need,
    *,
    scorer: ScorerLike | None,
    filters: Filters | None = None,
    quotas: Quotas | None = None,
    candidates: int = CANDIDATES,
    now: datetime | None = None,
    policy: Policy = NO_POLICY,
    known: Mapping[str, np.ndarray] | None = None,
    challenger: ScorerLike | None = None,
    seed: int = 0,
    persons: PersonsOf | None = None,
    inputs: Inputs | None = None,
) -> Pool:
    """Retrieve, apply the rules and filters, build the feature matrix and re-rank every candidate.

    ``scorer=None`` ranks by ``text_relevance`` (the non-personalised ranking). A scorer built for another feature
    schema, or trained on indices with another dense encoder than ``idx``'s, is refused (``ValueError``) rather
    than fed columns it never saw. ``now`` fixes the freshness clock (tests, replays; default: the current time).
    ``policy`` orders the scored candidates by the office's stated priorities (``Policy``). ``known``: feature rows
    against this need computed a moment ago, by talent id, taken as they are (a server re-ranking after writes passes
    those of talents unchanged since; a row depends only on its need and talent, and on index-wide statistics that a
    few writes barely move). ``challenger`` (with ``scorer``): the same feature matrix scored by both models, each
    ordered (with the policy) and the two lists merged by team draft with coin flips seeded by ``seed``
    (``matcher.interleaving``); ``teams`` says who drafted each row. ``persons``: one card per person — a
    person's records after its best-ranked one are removed as ``same_person`` (``one_per_person``). ``inputs``: an
    earlier ranking's ``Pool.inputs``, taken instead of retrieving and building the rows again when it still holds
    (``Inputs``; else ignored).
    """
    for model in (scorer, challenger):
        if model is not None:
            if model.schema_version != SCHEMA.version:
                raise ValueError(
                    f"rank: model {model.version} was trained on feature schema {model.schema_version}, this code "
                    f"builds schema {SCHEMA.version}; retrain with `talentmatch train` or rank with personalized=False"
                )
            model.check_indices(idx)
    if challenger is not None and scorer is None:
        raise ValueError("rank: an interleaved ranking needs the champion (scorer) as well as the challenger")
    now = now or datetime.now(UTC)
    version, today = idx.version, datetime.now(UTC).date()  # the conflict rule's day is today's, whatever ``now``
    if inputs is not None and inputs.serves(idx, need, filters, quotas, candidates, version, today):
        cands = inputs.cands
        X = retimed(idx, inputs.X, cands.eligibility, now=now)
    else:
        cands, X = _computed(idx, need, candidates, quotas, filters, now, known or {})
        inputs = Inputs(ref(idx), need, filters, quotas, candidates, version, today, cands, X)
    scores = scorer.predict(X) if scorer is not None else text_relevance(X, index_encoder(idx))
    promoted = policy.promoted(need, X)
    order = np.lexsort((np.arange(len(X)), -scores, ~promoted))  # ties keep the first-stage order
    teams = None
    if challenger is not None:
        other = np.lexsort((np.arange(len(X)), -challenger.predict(X), ~promoted))
        merged, teams = team_draft(order.tolist(), other.tolist(), seed)
        order = np.array(merged, dtype=np.int64)
    ids = inputs.ids_in(order)
    removed, removed_ids, person_of = cands.removed, cands.removed_ids, {}
    if persons is not None and ids:
        person_of = dict(persons(ids))
        keep = one_per_person(ids, person_of)
        if len(keep) < len(ids):
            folded = set(ids) - {ids[i] for i in keep.tolist()}
            removed = {**removed, SAME_PERSON: len(folded)}
            removed_ids = {**removed_ids, **dict.fromkeys(sorted(folded), SAME_PERSON)}
            order, ids = order[keep], [ids[i] for i in keep.tolist()]
            teams = [teams[i] for i in keep.tolist()] if teams is not None else None
    return Pool(
        need=need,
        ids=ids,
        scores=np.asarray(scores, dtype=np.float32)[order],
        X=X[order],
        scorer=scorer,
        removed=removed,
        removed_ids=removed_ids,
        filtered=cands.filtered,
        pool=cands.pool,
        computed_at=now,
        promoted=promoted[order] if promoted.any() else None,
        challenger=challenger,
        teams=teams,
        ties=cands.eligibility.ties if cands.eligibility is not None else {},
        persons={t: person_of[t] for t in ids if t in person_of},
        inputs=inputs,
    )


def _computed(
    idx: Indices, need: Need, candidates: int, quotas: Quotas | None, filters: Filters | None, now: datetime,
    known: Mapping[str, np.ndarray],
) -> tuple[Candidates, np.ndarray]:  # fmt: skip
    """Retrieval and the feature matrix, with the need's graph passes built beside them when not in the memo."""
    ahead = [] if idx.graph.prepared(need.id) else [_BESIDE.submit(idx.graph.prepare, need.id)]
    try:
        cands = retrieve(idx, need, k=candidates, quotas=quotas, filters=filters)
        return cands, _features(idx, need, cands, now, known)
    finally:  # the helper reads the indices: done (or never started) before the caller's read of them ends. A
        # helper still queued behind other rankings' is cancelled: this thread has built it all meanwhile. Its errors
        # are the graph's own, which the retrievers or the feature matrix meet again in this thread.
        wait([task for task in ahead if not task.cancel()])


def one_per_person(ids: Sequence[str], person_of: Mapping[str, str]) -> np.ndarray:
    """Positions in ``ids`` (best first) of each person's best-ranked record, in order: a recruiter sees one
    person once, however many sources sent them. Only the linked records (``person_of`` names persons of two
    records or more: a few of a pool) are looked at one by one; sorting every id of the pool as a Python string
    (``np.unique`` on objects) took 1.1 ms for 1,500 ids, this 0.19 ms (0.21 → 0.05 ms for 300)."""
    if not person_of:
        return np.arange(len(ids))
    seen: set[str] = set()
    later: list[int] = []
    for i in [i for i, t in enumerate(ids) if t in person_of]:
        if (person := person_of[ids[i]]) in seen:
            later.append(i)
        else:
            seen.add(person)
    return np.delete(np.arange(len(ids)), later)


def _features(
    idx: Indices, need: Need, cands: Candidates, now: datetime, known: Mapping[str, np.ndarray]
) -> np.ndarray:
    """The candidates' feature matrix, computing only the rows ``known`` does not hold."""
    ids = cands.talent_ids
    fresh = np.array([i not in known for i in ids], dtype=bool)
    if fresh.all():
        return feature_matrix(idx, need, ids, now=now, eligibility=cands.eligibility)
    X = np.empty((len(ids), len(SCHEMA.names)), dtype=np.float32)
    X[~fresh] = np.stack([known[i] for i, f in zip(ids, fresh, strict=True) if not f])
    if fresh.any():
        rows = np.flatnonzero(fresh)
        e = cands.eligibility.take(rows) if cands.eligibility is not None else None
        X[rows] = feature_matrix(idx, need, [ids[r] for r in rows.tolist()], now=now, eligibility=e)
    return X


def page(
    pool: Pool,
    idx: Indices,
    k: int,
    offset: int = 0,
    *,
    top_reasons: int = DEFAULT_TOP,
    contributions: np.ndarray | None = None,
) -> list[RankedCandidate]:
    """Candidates ``offset .. offset + k`` of ``pool`` with their reasons and contributions (TreeSHAP, the costly
    per-row part, for this page only; ``contributions`` passes the page's rows already known, as a server's memo
    of them does)."""
    X = pool.X[offset : offset + k]
    if contributions is not None:
        contrib = contributions
    elif not len(X):
        contrib = np.zeros((0, X.shape[1] + 1), dtype=np.float32)
    elif pool.scorer is not None:
        contrib = pool.scorer.contributions(X)
    else:
        contrib = blend_contributions(X, SCHEMA, index_encoder(idx)).astype(np.float32)
    out = []
    for j, tid in enumerate(pool.ids[offset : offset + k]):
        talent = idx.talents.get(tid)
        why = reasons(pool.need, X[j], contrib[j], SCHEMA, idx, tid, top=top_reasons)
        if pool.promoted is not None and pool.promoted[offset + j]:
            why = [YRD_FIRST_REASON, *why]
        if (tie := pool.ties.get(tid)) is not None and tie.current_employee:
            why = [internal_reason(tie), *why]
        out.append(
            RankedCandidate(
                talent_id=tid,
                score=round(float(pool.scores[offset + j]), 6),
                reasons=why,
                human_review=bool(talent is not None and talent.consent.automated_decision_opt_out),
                position=offset + j,
                features=X[j],
                contributions=contrib[j],
            )
        )
    return out


def rank(
    idx: Indices,
    need: Need,
    *,
    scorer: ScorerLike | None,
    k: int = 20,
    offset: int = 0,
    personalized: bool = True,
    filters: Filters | None = None,
    quotas: Quotas | None = None,
    candidates: int = CANDIDATES,
    now: datetime | None = None,
    top_reasons: int = DEFAULT_TOP,
    policy: Policy = NO_POLICY,
    persons: PersonsOf | None = None,
) -> Ranking:
    """Rank ``need``'s candidates and return ``k`` of them from ``offset`` with their reasons: ``rank_pool`` then
    ``page``.

    ``scorer=None`` or ``personalized=False`` ranks by ``text_relevance``; a scorer whose contract does not match
    this code or ``idx`` is refused (see ``rank_pool``). ``now`` fixes the freshness clock (tests, replays);
    ``policy`` applies the office's stated priorities (``Policy``); ``persons`` folds a person's records into one
    (``rank_pool``).
    """
    _check_int("k", k, 1)
    _check_int("offset", offset, 0)
    pool = rank_pool(
        idx,
        need,
        scorer=scorer if personalized else None,
        filters=filters,
        quotas=quotas,
        candidates=candidates,
        now=now,
        policy=policy,
        persons=persons,
    )
    return Ranking(
        need_id=need.id,
        model_version=pool.model_version,
        personalized=pool.personalized,
        candidates=page(pool, idx, k, offset, top_reasons=top_reasons),
        removed=pool.removed,
        removed_ids=pool.removed_ids,
        persons=pool.persons,
    )
