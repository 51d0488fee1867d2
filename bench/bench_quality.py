"""Benchmark: ranking quality against the demo worlds' hidden truth, over several worlds, with a ceiling and ablations.

Per world seed (``BENCH_QUALITY_SEEDS``, ``BENCH_QUALITY_TALENTS`` talents): one need split and one set of training
rows (``matcher.train.prepare``), then every model is fitted on those rows and every scorer is evaluated on the same
test needs and the same retrieved candidates (``matcher.evaluate``), so only the model differs between columns.

- ``learned``: ``train``'s defaults (label treatment, parameters) — what ``talentmatch train`` ships;
- the baselines of ``evaluate.baseline_scorers``;
- ``ceiling``: the same model and rows trained on the truth grades instead of feedback (evaluation only: the truth
  does not exist in production), i.e. what the features allow when the labels are perfect;
- ablations: feature groups added one at a time (text; + graph; + eligibility; + fit/preference; the groups are read
  from ``features.schema`` by name, so a group that is renamed or removed simply drops out), the default with each
  other debiasing method, each other unexamined treatment, views graded 0, and the training before issue 10
  (every unjudged row a 0, ``LambdaRankModel``'s own defaults with early stopping).
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from demo.world import generate_world
from features.dense import DEFAULT_ENCODER
from features.indices import Indices
from features.io import load_world
from features.schema import SCHEMA
from matcher.evaluate import baseline_scorers, evaluate
from matcher.ranker import LambdaRankModel
from matcher.train import DEFAULT_TREATMENT, LEGACY, Debias, LabelTreatment, Unexamined, fit_model, prepare
from matcher.truth import load_truth

SEEDS = tuple(int(s) for s in os.environ.get("BENCH_QUALITY_SEEDS", "1,2,3,4,5").split(","))
TALENTS = int(os.environ.get("BENCH_QUALITY_TALENTS", "5000"))
ENCODER = os.environ.get("BENCH_QUALITY_ENCODER", DEFAULT_ENCODER)
CACHE = Path(__file__).resolve().parents[1] / "data" / "vectors"
BASELINES = ("bm25", "dense", "concept", "blend", "random")
PARAMS = {"n_jobs": 1}
"""One LightGBM thread: on this shared 2-core machine two OpenMP threads fighting other jobs fit ~30x slower."""
GOAL_VS_BEST = 1.3
GOAL_VS_CEILING = 0.9


@dataclass(frozen=True)
class Variant:
    """One ablation: feature groups (None: all), label treatment, and whether it keeps ``train``'s defaults for
    parameters and early stopping (``before``: the training before issue 10, LambdaRankModel's own defaults with
    early stopping)."""

    groups: list[str] | None = None
    treatment: LabelTreatment = DEFAULT_TREATMENT
    before: bool = False


def variants() -> dict[str, Variant]:
    """Ablation name → ``Variant``: feature groups added one at a time, then the label treatment changed."""
    present = list(dict.fromkeys(f.group for f in SCHEMA.features))
    steps = [("text only", ["text"]), ("+ graph", ["graph"]), ("+ eligibility", ["eligibility"])]
    steps.append(("+ fit/preference", [g for g in ("preference", "fit") if g in present]))
    out: dict[str, Variant] = {}
    groups: list[str] = []
    for name, added in steps:
        groups = groups + [g for g in added if g in present]
        if groups:
            out[name] = Variant(groups=list(groups))
    d = DEFAULT_TREATMENT
    for debias in Debias:
        if debias is not d.debias:
            out[f"debias {debias.value}"] = Variant(treatment=replace(d, debias=debias))
    for unexamined in Unexamined:
        if unexamined is not d.unexamined:
            out[f"unexamined {unexamined.value}"] = Variant(treatment=replace(d, unexamined=unexamined))
    if d.view_grade:
        out["view grade 0"] = Variant(treatment=replace(d, view_grade=0))
    out["before issue 10"] = Variant(treatment=LEGACY, before=True)
    return out


def world_row(seed: int, talents: int = TALENTS, encoder: str | None = ENCODER) -> dict:
    """One world: NDCG@10 on its test needs for every scorer, and the ratios the goals are about."""
    with tempfile.TemporaryDirectory(prefix="bench-quality-") as tmp:
        generate_world(Path(tmp), talents=talents, seed=seed)
        world = load_world(Path(tmp))
        truth = load_truth(Path(tmp))
    t0 = time.perf_counter()
    idx = Indices.build(world, encoder=encoder or None, cache_dir=CACHE)
    prep = prepare(idx, world["feedback"], random_state=seed)
    models = {"learned": fit_model(prep, params=PARAMS, random_state=seed)}
    for name, v in variants().items():
        if v.before:
            models[name] = fit_model(
                prep, treatment=v.treatment, params={**LambdaRankModel().get_params(), **PARAMS}, early_stopping=True,
                random_state=seed,
            )  # fmt: skip
        else:
            models[name] = fit_model(
                prep, treatment=v.treatment, feature_groups=v.groups, params=PARAMS, random_state=seed
            )

    def graded(data) -> np.ndarray:
        needs = np.repeat(data.need_ids, data.group)
        return np.array([truth.get(n, {}).get(t, 0) for n, t in zip(needs, data.talent_ids, strict=True)])

    models["ceiling"] = fit_model(
        prep, treatment=LEGACY, params=PARAMS, random_state=seed, y=graded(prep.train), valid_y=graded(prep.valid)
    )
    scorers = {name: (lambda X, need, m=m: m.predict(X)) for name, m in models.items()}
    scorers.update({b: f for b, f in baseline_scorers(seed).items() if b in BASELINES})
    test = [idx.needs[n] for n in prep.splits.test]
    m = evaluate(idx, test, scorers, truth=truth, now=prep.now, random_state=seed)
    ndcg = {name: m[name].get("ndcg@10", float("nan")) for name in scorers}
    best = max((b for b in BASELINES if b != "random"), key=lambda b: ndcg[b])
    vs_best, vs_ceiling = ndcg["learned"] / ndcg[best], ndcg["learned"] / ndcg["ceiling"]
    return {
        "bench": "quality.world",
        "size": f"{talents} talents, seed {seed}, {len(test)} test needs",
        "learned": round(ndcg["learned"], 3),
        "ceiling": round(ndcg["ceiling"], 3),
        "best_baseline": f"{best} {ndcg[best]:.3f}",
        "vs_best": round(vs_best, 3),
        "vs_ceiling": round(vs_ceiling, 3),
        "seconds": round(time.perf_counter() - t0, 1),
        "goal": f"ndcg@10 >= {GOAL_VS_BEST}x best baseline and >= {GOAL_VS_CEILING}x ceiling",
        "ok": vs_best >= GOAL_VS_BEST and vs_ceiling >= GOAL_VS_CEILING,
        "ndcg@10": {name: round(v, 3) for name, v in ndcg.items()},
    }


def run(seeds: tuple[int, ...] = SEEDS, talents: int = TALENTS, encoder: str | None = ENCODER) -> list[dict]:
    """A row per world (the goals), then a row per scorer with its NDCG@10 in each world and the mean."""
    worlds = [world_row(seed, talents, encoder) for seed in seeds]
    per_scorer = [
        {
            "bench": "quality.ndcg@10",
            "size": name,
            **{f"seed {s}": w["ndcg@10"][name] for s, w in zip(seeds, worlds, strict=True)},
            "mean": round(float(np.mean([w["ndcg@10"][name] for w in worlds])), 3),
        }
        for name in worlds[0]["ndcg@10"]
    ]
    for w in worlds:
        w.pop("ndcg@10")
    summary = {
        "bench": "quality.mean",
        "size": f"{len(worlds)} worlds of {talents} talents",
        **{
            k: round(float(np.mean([w[k] for w in worlds])), 3) for k in ("learned", "ceiling", "vs_best", "vs_ceiling")
        },
        "seconds": round(sum(w["seconds"] for w in worlds), 1),
        "goal": f"every world ok (>= {GOAL_VS_BEST}x best baseline, >= {GOAL_VS_CEILING}x ceiling)",
        "ok": all(w["ok"] for w in worlds),
    }
    return [*worlds, summary, *per_scorer]


if __name__ == "__main__":
    for row in run():
        print(row)
