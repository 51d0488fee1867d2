"""Ranking one need end to end: retrieve → eligibility → feature matrix → model (or text relevance) → reasons.

What the CLI's ``talentmatch rank`` and the API serve. The model scores every retrieved candidate (a few hundred);
reasons, the costly per-row part, are built for the returned page only. ``personalized=False`` (or no model) is
the non-personalised ranking PIPL requires: the fixed text blend ``text_relevance`` plus the hard rules, with no
learned preference. A talent who opted out of purely automated decisions is still ranked, flagged
``human_review`` so a recruiter, not the model alone, decides.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import numpy as np

from features.indices import Indices
from features.matrix import feature_matrix, text_relevance
from features.records import Need
from features.schema import SCHEMA
from matcher.reasons import DEFAULT_TOP, Reason, reasons
from matcher.retrieve import Filters, Quotas, retrieve

TEXT_RELEVANCE = "text-relevance"
"""``model_version`` of the non-personalised ranking."""
CANDIDATES = 300
"""How many retrieved candidates the model re-ranks."""


class ScorerLike(Protocol):
    """What ``rank`` needs of a model: ``matcher.ranker.Scorer``'s interface."""

    version: str
    schema_version: str

    def predict(self, X: np.ndarray) -> np.ndarray: ...

    def contributions(self, X: np.ndarray) -> np.ndarray: ...


@dataclass
class RankedCandidate:
    talent_id: str
    score: float
    reasons: list[Reason]
    human_review: bool = False

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


def _check_int(name: str, value: object, low: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ValueError(f"rank: {name} must be an integer >= {low}, got {value!r}")


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
) -> Ranking:
    """Rank ``need``'s candidates and return ``k`` of them from ``offset`` with their reasons.

    ``scorer=None`` or ``personalized=False`` ranks by ``text_relevance``; a scorer built for another feature
    schema is refused. ``now`` fixes the freshness clock (tests, replays).
    """
    _check_int("k", k, 1)
    _check_int("offset", offset, 0)
    use_model = personalized and scorer is not None
    if use_model and scorer.schema_version != SCHEMA.version:
        raise ValueError(
            f"rank: model {scorer.version} was trained on feature schema {scorer.schema_version}, this code builds "
            f"schema {SCHEMA.version}; retrain with `talentmatch train` or rank with personalized=False"
        )
    cands = retrieve(idx, need, k=candidates, quotas=quotas, filters=filters)
    ids = cands.talent_ids
    X = feature_matrix(idx, need, ids, now=now, eligibility=cands.eligibility)
    scores = scorer.predict(X) if use_model else text_relevance(X)
    order = np.lexsort((np.arange(len(ids)), -scores))  # ties keep the first-stage order
    page = order[offset : offset + k]
    contrib = scorer.contributions(X[page]) if use_model and len(page) else None
    out = []
    for j, i in enumerate(page):
        tid = ids[i]
        talent = idx.talents.get(tid)
        why = reasons(need, X[i], None if contrib is None else contrib[j], SCHEMA, idx, tid, top=top_reasons)
        out.append(
            RankedCandidate(
                talent_id=tid,
                score=round(float(scores[i]), 6),
                reasons=why,
                human_review=bool(talent is not None and talent.consent.automated_decision_opt_out),
            )
        )
    return Ranking(
        need_id=need.id,
        model_version=scorer.version if use_model else TEXT_RELEVANCE,
        personalized=use_model,
        candidates=out,
        removed=cands.removed,
        removed_ids=cands.removed_ids,
    )
