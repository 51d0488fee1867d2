"""The (need, talent) feature matrix, columns as in ``SCHEMA``, in either direction from the same column groups.

``feature_matrix`` gives the rows of one need against many talents (ranking, training, evaluation);
``talent_matrix`` the rows of one talent against the eligible needs of a :class:`~features.pairs.NeedSet` (alerts:
a call per need would cost ~15 ms each, mostly the need's personalized PageRank). Both fill a
:class:`~features.pairs.Pairs` frame and walk ``features.columns.COMPONENTS`` in schema order, so every column is
written once; ``tests/features/test_talent_matrix.py`` holds the two directions equal.

Every group of columns is computed for the whole candidate list at once (sparse products, gathers, numpy
comparisons); nothing loops over candidates in Python. Unknown or erased candidates get zeros for text and graph
columns and fail eligibility, so a stale candidate list never breaks a request.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np

from features.columns import CLOCKED, COMPONENTS
from features.dense import DEFAULT_ENCODER, NO_DENSE
from features.eligibility import Eligibility, rules, talent_columns
from features.indices import Indices
from features.pairs import COLUMN, NeedSet, Pairs
from features.records import Need, NeedKind
from features.table import EPOCH


def feature_matrix(
    idx: Indices,
    need: Need,
    talent_ids: Sequence[str],
    *,
    now: datetime | None = None,
    eligibility: Eligibility | None = None,
) -> np.ndarray:
    """Float32 matrix (len(talent_ids), len(SCHEMA.names)) for ``need`` against the candidates, in schema order.

    ``now`` fixes the freshness clock (training passes the feedback's time so features match what the recruiter
    saw); ``eligibility`` may be passed when the caller has already checked the rules for these talents (its rows
    are theirs, in order: no second lookup of ~300 ids).
    """
    ids = list(talent_ids)
    X = np.zeros((len(ids), len(COLUMN)), dtype=np.float32)
    if not ids:
        return X
    if eligibility is not None and len(eligibility.rows) != len(ids):
        raise ValueError(f"feature_matrix: eligibility holds {len(eligibility.rows)} rows for {len(ids)} talents")
    # one lookup (the talent-side indices share row numbers), done already where the rules were checked
    rows = eligibility.rows if eligibility is not None else idx.rows(ids)
    columns = idx.need_table.frame(need)
    e = eligibility if eligibility is not None else rules(columns, *talent_columns(idx.table, rows), rows)
    _fill(Pairs(idx, columns, rows, e, _day(now), X, talent_ids=ids, query=need))
    return X


def retimed(idx: Indices, X: np.ndarray, eligibility: Eligibility, *, now: datetime | None = None) -> np.ndarray:
    """A copy of ``X``, rows ``feature_matrix`` computed earlier on the same indices for the talents ``eligibility``
    checked, with the columns that move with the clock (``features.columns.CLOCKED``) computed for ``now``: the rows
    ``feature_matrix`` would give now, for the cost of a gather."""
    out = X.copy()
    if len(out):
        p = Pairs(idx, {}, eligibility.rows, eligibility, _day(now), out)
        for group in CLOCKED:
            for name, values in group.run(p).items():
                out[:, COLUMN[name]] = values
    return out


@dataclass
class TalentRows:
    """The feature rows of one talent against the set's live needs that its rules let through."""

    need_ids: list[str]
    X: np.ndarray
    set_rows: np.ndarray
    checked: int
    """Live needs in the set (the rules removed ``checked - len(need_ids)``)."""


def talent_matrix(idx: Indices, needs: NeedSet, talent_id: str, *, now: datetime | None = None) -> TalentRows:
    """Feature rows (schema order) of ``talent_id`` against every live need of ``needs`` it is eligible for."""
    if needs.idx is not idx:
        raise ValueError("talent_matrix: the NeedSet was built for other Indices; build it again")
    if needs.idf is not idx.concepts.idf:
        raise ValueError("talent_matrix: the concept index was compacted since the NeedSet was built; rebuild it")
    rows = idx.rows([talent_id])
    if rows[0] < 0:
        raise LookupError(f"talent {talent_id!r} is not indexed; add it with Indices.add_talent before matching")
    live = needs.alive.view.copy()
    e = rules(needs.columns(), *talent_columns(idx.table, rows), np.arange(len(live)))
    allowed = idx.ties.allows(talent_id, rows, idx.table, needs.ids, idx.needs)  # the conflict rule
    sel = np.flatnonzero(e.passed & live & allowed)
    X = np.zeros((len(sel), len(COLUMN)), dtype=np.float32)
    if len(sel):
        pairs = Pairs(idx, needs.columns(sel), rows, e.take(sel), _day(now), X, talent_ids=[talent_id], needs=needs,
                      sel=sel)  # fmt: skip
        _fill(pairs)
    return TalentRows([needs.ids[i] for i in sel.tolist()], X, sel, int(live.sum()))


def _fill(pairs: Pairs) -> None:
    """Every column group in schema order (a group may read the columns of the groups before it)."""
    for group in COMPONENTS:
        for name, values in group.run(pairs).items():
            pairs.X[:, COLUMN[name]] = values


def _day(now: datetime | None) -> float:
    return ((now or datetime.now(UTC)) - EPOCH).total_seconds() / 86400.0


TEXT_COLUMNS = (
    "bm25_share_profile",
    "bm25_share_works_top3",
    "dense_profile",
    "dense_works_max",
    "dense_works_top3",
    "concept_overlap",
    "discipline_match",
)
"""The columns ``text_relevance`` combines: all bounded and comparable across needs (raw BM25 is not)."""
DENSE_COLUMNS = ("dense_profile", "dense_works_max", "dense_works_top3")
"""The columns that compare meaning across languages; the rest of ``TEXT_COLUMNS`` match words or names."""
TAXONOMY_COLUMNS = ("concept_overlap", "discipline_match")
"""Concepts found by their Chinese or English names: the bridge between languages when there is no dense encoder."""
SKILL_SHARE = 0.10
"""Share of ``text_relevance`` given to ``skill_coverage`` (a hand-set prior: the label-free fit below sees works,
which list no required skills, so it cannot weigh them)."""
WEIGHTS_PATH = Path(str(resources.files("features.data").joinpath("text_weights.json")))


@dataclass(frozen=True)
class TextWeights:
    """The combiner of ``text_relevance`` for one dense encoder, worked out once: the columns it reads (the fitted
    ones, then ``skill_coverage``), their chance floors and weights, and each column's multiplier on the part of a
    pair in another script (the bridge columns carry all the weight there, the others none)."""

    cols: np.ndarray
    floors: np.ndarray
    weights: np.ndarray
    cross: np.ndarray


@cache
def text_weights(encoder: str = DEFAULT_ENCODER) -> TextWeights:
    """The combiner fitted for ``encoder`` (``none``: no dense vectors), with ``SKILL_SHARE`` of ``skill_coverage``.

    The columns that bridge languages are the dense ones, or without a dense encoder the taxonomy's concepts and
    disciplines (named in both languages)."""
    table = json.loads(WEIGHTS_PATH.read_text(encoding="utf-8"))["encoders"]
    if encoder not in table:
        raise ValueError(
            f"features/data/text_weights.json has no text-relevance weights for encoder {encoder!r} (it has "
            f"{', '.join(table)}); fit them with `python -m bench.text_weights {encoder}`"
        )
    entry = table[encoder]
    names = [*entry["weight"], "skill_coverage"]
    w = np.array([(1 - SKILL_SHARE) * entry["weight"][n] for n in names[:-1]] + [SKILL_SHARE], dtype=np.float32)
    bridge = np.array([n in DENSE_COLUMNS for n in names])
    if not w[bridge].sum():  # no dense encoder: the bilingual taxonomy is the only bridge between languages
        bridge = np.array([n in TAXONOMY_COLUMNS for n in names])
    bridged = w.sum() / w[bridge].sum() if w[bridge].sum() > 0 else 0.0
    return TextWeights(
        cols=np.array([COLUMN[n] for n in names], dtype=np.int64),
        floors=np.array([entry["floor"][n] for n in names[:-1]] + [0.0], dtype=np.float32),
        weights=w,
        cross=np.where(bridge, bridged, 0.0).astype(np.float32),
    )


def text_terms(X: np.ndarray, encoder: str = DEFAULT_ENCODER) -> tuple[np.ndarray, np.ndarray]:
    """Each column's part of ``text_relevance``: (column indices, (len(X), len(columns)) contributions).

    The part of the need written in a script the profile also uses (``script_overlap``) is scored by the fitted
    weights; the rest by the columns that bridge languages alone, scaled to the same total weight (see
    ``text_weights``). So a Chinese post against an English profile is scored by meaning instead of losing every
    lexical point (BM25, taxonomy names as matched words, skills) to anyone who repeats the post's words in its own
    language."""
    t = text_weights(encoder)
    reach = np.clip(X[:, COLUMN["script_overlap"]], 0, 1)[:, None]
    share = reach + (1 - reach) * t.cross
    return t.cols, (t.weights * np.clip(X[:, t.cols] - t.floors, 0, 1) * share).astype(np.float32)


def text_relevance(X: np.ndarray, encoder: str = DEFAULT_ENCODER) -> np.ndarray:
    """Text relevance without any trained ranking model, in [0, 1] and comparable across needs.

    A weighted sum of ``TEXT_COLUMNS`` above their chance floors, plus ``SKILL_SHARE`` of ``skill_coverage``, with
    lexical evidence weighed by ``script_overlap`` (see ``text_terms``). The
    weights and floors are fitted without relevance labels (author identification: a held-out paper's author must
    outrank everyone else; ``bench/text_weights.py``), one set per dense encoder (``encoder`` names the one the
    indices were built with; ``none`` when they have no dense vectors). Measured on real expertise ratings by
    ``python -m bench goldstandard``.
    """
    return text_terms(X, encoder)[1].sum(axis=1)


def index_encoder(idx: Indices) -> str:
    """The dense encoder name ``text_relevance`` should use for rows of ``idx`` (``none`` without vectors)."""
    return idx.dense.encoder_name if idx.dense is not None else NO_DENSE


def kind_columns() -> dict[NeedKind, int]:
    """Column of each post-kind indicator (evaluation groups by post kind)."""
    return {k: COLUMN[f"kind_{k.value}"] for k in NeedKind}


def score_pairs(
    idx: Indices,
    need_ids: Sequence[str],
    talent_ids: Sequence[str],
    score: Callable[[np.ndarray, Need], np.ndarray] | None = None,
) -> np.ndarray:
    """Scores for arbitrary (need, talent) pairs, one feature matrix per need; ``score(X, need)`` defaults to
    ``text_relevance`` with the weights of the indices' encoder. Pairs keep their input order; every id must be
    indexed (check first)."""
    encoder = index_encoder(idx)
    score = score or (lambda X, _need: text_relevance(X, encoder))
    need_arr = np.asarray(need_ids, dtype=object)
    talent_arr = np.asarray(talent_ids, dtype=object)
    out = np.zeros(len(need_arr), dtype=np.float32)
    for need_id in dict.fromkeys(need_ids):
        at = np.flatnonzero(need_arr == need_id)
        need = idx.needs[need_id]
        out[at] = score(feature_matrix(idx, need, list(talent_arr[at])), need)
    return out
