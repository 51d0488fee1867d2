"""Benchmark: does feedback per person pay on demo worlds with duplicate records (issue 15)?

For each world (``BENCH_FEEDBACK_WORLDS``: world folders separated by ``:``; else 5,000-talent worlds generated with
``--duplicates 0.1``, seeds ``BENCH_FEEDBACK_SEEDS``, default 7,11,13), the records are linked into persons by
``features.people.link`` (what the product would store; the world's ``people.jsonl`` is read here only to judge),
and three models are trained on the same split and the same feedback, once per seed of the sampled negatives
(``BENCH_FEEDBACK_SAMPLE_SEEDS``, default 0,1,2: which retrieved talents are sampled moves NDCG by itself):

- ``per record``: ``train`` without persons (before issue 15): a judged person's other record may be sampled as a
  grade-0 negative;
- ``per person``: ``train(persons=linked)``: feedback folded per (need, person), one row per person, kin never
  negatives (the product's choice);
- ``propagate``: every feedback event copied to the person's other linked records (the grade propagated, the
  person weighing once per record in the loss): the alternative the issue names.

All three and the baselines are scored on the test needs against the hidden truth, one card per person (with the
linked persons, what serving shows; and with the true persons), and per record as before (``evaluate`` without
persons). The simulated recruiters only ever act on the original records, so the copies' feedback is what linking
gives them.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import orjson

from demo.world import generate_world
from features.indices import Indices
from features.io import load_world
from features.people import link
from matcher.dataset import build_rank_data, snapshot_time
from matcher.evaluate import baseline_scorers, evaluate, split_needs
from matcher.labels import examination_propensity, exposure_from_feedback, fold_persons, labels_from_feedback
from matcher.train import DEFAULT_MODE, Prepared, fit_model
from matcher.truth import load_truth

SEEDS = [int(s) for s in os.environ.get("BENCH_FEEDBACK_SEEDS", "7,11,13").split(",") if s]
TALENTS = int(os.environ.get("BENCH_FEEDBACK_TALENTS", "5000"))
ENCODER = os.environ.get("BENCH_FEEDBACK_ENCODER", "none")
SAMPLE_SEEDS = [int(s) for s in os.environ.get("BENCH_FEEDBACK_SAMPLE_SEEDS", "0,1,2").split(",") if s]


def multi(persons: dict[str, str]) -> dict[str, str]:
    """Only the records whose person has two or more."""
    sizes: dict[str, int] = {}
    for p in persons.values():
        sizes[p] = sizes.get(p, 0) + 1
    return {t: p for t, p in persons.items() if sizes[p] > 1}


def true_persons(world: Path) -> dict[str, str]:
    path = world / "people.jsonl"
    if not path.exists():
        return {}
    out = {}
    for line in path.read_bytes().splitlines():
        doc = orjson.loads(line)
        out.update(dict.fromkeys(doc["talents"], doc["person"]))
    return out


def propagated(feedback: list, persons: dict[str, str]) -> list:
    """Each event copied to the other records of its person."""
    members: dict[str, list[str]] = {}
    for t, p in persons.items():
        members.setdefault(p, []).append(t)
    out = list(feedback)
    for ev in feedback:
        for other in members.get(persons.get(ev.talent_id, ""), ()):
            if other != ev.talent_id:
                out.append(ev.model_copy(update={"talent_id": other, "id": f"{ev.id}-{other}"}))
    return out


def kin_negatives(result_rows, feedback: list, persons: dict[str, str]) -> int:
    """Grade-0 training rows whose person (``persons``) has a positive grade for the need on another record."""
    labels = labels_from_feedback(fold_persons(feedback, persons))
    liked = {(n, persons.get(t, t)) for (n, t), g in labels.items() if g >= 1}
    n, start = 0, 0
    for need, size in zip(result_rows.need_ids, result_rows.group.tolist(), strict=True):
        for i in range(start, start + size):
            t = result_rows.talent_ids[i]
            if result_rows.y[i] == 0 and t in persons and (need, persons[t]) in liked:
                n += 1
        start += size
    return n


def prepared(idx, feedback: list, persons: dict[str, str] | None, sample_seed: int) -> Prepared:
    """``train.prepare`` with the need split fixed (seed 0) and the sampled negatives drawn with ``sample_seed``:
    the models compared share their held-out needs, and the sampling's own noise is measured apart."""
    folded = fold_persons(feedback, persons)
    labels = labels_from_feedback(folded)
    exposure = exposure_from_feedback(folded)
    now = snapshot_time(folded)
    splits = split_needs(sorted({n for n, _ in labels} & set(idx.needs)), random_state=0)

    def rows(ids):
        return build_rank_data(idx, [idx.needs[i] for i in ids], labels, mode=DEFAULT_MODE, now=now,
                               random_state=sample_seed, exposure=exposure, persons=persons)  # fmt: skip

    return Prepared(splits, rows(splits.train), rows(splits.valid), examination_propensity(exposure), now, labels,
                    persons)  # fmt: skip


def one_world(world: Path, label: str) -> list[dict]:
    records = load_world(world)
    truth = load_truth(world)
    feedback = list(records["feedback"])
    t0 = time.perf_counter()
    idx = Indices.build(records, encoder=ENCODER if ENCODER != "none" else None)
    index_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    linked = multi(link(records["talent"]).persons)
    link_s = time.perf_counter() - t0
    truly = true_persons(world)
    variants = {"per record": (feedback, None), "per person": (feedback, linked),
                "propagate": (propagated(feedback, linked), None)}  # fmt: skip
    rows: list[dict] = []
    for sample_seed in SAMPLE_SEEDS:
        t0 = time.perf_counter()
        preps = {name: prepared(idx, fb, persons, sample_seed) for name, (fb, persons) in variants.items()}
        models = {name: fit_model(prep, random_state=0) for name, prep in preps.items()}
        fit_s = time.perf_counter() - t0
        splits = preps["per record"].splits
        test = [idx.needs[n] for n in splits.test]
        scorers = {name: (lambda fit: lambda X, need: fit.predict(X))(m) for name, m in models.items()}
        scorers.update(baseline_scorers(0))
        now = preps["per record"].now
        judged = {
            "per record": evaluate(idx, test, scorers, truth=truth, now=now),
            "linked persons": evaluate(idx, test, scorers, truth=truth, now=now, persons=linked),
            "true persons": evaluate(idx, test, scorers, truth=truth, now=now, persons=truly),
        }
        print(label, sample_seed, {b: {n: m[n]["ndcg@10"] for n in scorers} for b, m in judged.items()}, flush=True)
        for basis, metrics in judged.items():
            rows.append(
                {
                    "bench": "feedback_people.ndcg@10",
                    "size": f"{label}: {len(records['talent'])} records, {len(set(linked.values()))} linked persons "
                    f"of 2+ ({len(set(truly.values()))} true), {len(test)} test needs",
                    "sample_seed": sample_seed,
                    "judged": basis,
                    **{name: metrics[name]["ndcg@10"] for name in (*models, "bm25", "concept", "blend")},
                    "goal": "per person >= per record",
                    "ok": metrics["per person"]["ndcg@10"] >= metrics["per record"]["ndcg@10"],
                }
            )
        rows.append(
            {
                "bench": "feedback_people.rows",
                "size": label,
                "sample_seed": sample_seed,
                "kin_negatives": {name: kin_negatives(p.train, feedback, truly) for name, p in preps.items()},
                "train_rows": {name: len(p.train) for name, p in preps.items()},
                "index_seconds": round(index_s, 1),
                "link_seconds": round(link_s, 1),
                "fit_seconds": round(fit_s, 1),
                "goal": "no kin negatives per person",
                "ok": kin_negatives(preps["per person"].train, feedback, truly) == 0,
            }
        )
    return rows


def run() -> list[dict]:
    given = [Path(p) for p in os.environ.get("BENCH_FEEDBACK_WORLDS", "").split(":") if p]
    rows: list[dict] = []
    if given:
        for world in given:
            rows += one_world(world, world.name)
        return rows
    for seed in SEEDS:
        with tempfile.TemporaryDirectory(prefix="bench-feedback-people-") as tmp:
            generate_world(Path(tmp), talents=TALENTS, seed=seed, duplicates=0.1)
            rows += one_world(Path(tmp), f"seed {seed}")
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
