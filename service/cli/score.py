"""``talentmatch score``: arbitrary (need, talent) pairs scored by the text blend, the champion or one signal, on
indices built from a world folder (never with feedback: see ``features.indices``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from service.cli.common import (
    EncoderOption,
    JsonOption,
    champion_for,
    encoder_name,
    fail,
    indices_for,
    load_records,
    out,
    print_errors,
    print_json,
    settings,
)
from service.sheets import csv_cell

SCORE_MODELS = ("text", "champion", "bm25", "dense", "concept")


def pair_scorer(model: str, idx: Any) -> Any:
    """``score(X, need)`` for ``talentmatch score --model``; None means the untrained text blend."""
    if model == "text":
        return None
    if model == "champion":
        scorer = champion_for(idx)
        if scorer is None:
            fail("no champion model in the registry; run `talentmatch train` first, or use --model text")
        return lambda X, need: scorer.predict(X)
    from features.schema import SCHEMA

    column = SCHEMA.index({"bm25": "bm25_profile", "dense": "dense_profile", "concept": "concept_overlap"}[model])
    return lambda X, need: X[:, column]


def read_pairs(path: Path) -> tuple[list[str], list[str]]:
    """``need_id,talent_id`` rows of a CSV (header required; other columns ignored); every problem is named."""
    import csv

    errors: list[str] = []
    need_ids: list[str] = []
    talent_ids: list[str] = []
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            missing = {"need_id", "talent_id"} - set(reader.fieldnames or ())
            if missing:
                fail(f"{path}:1: header: missing column(s) {', '.join(sorted(missing))}; found {reader.fieldnames}")
            for row in reader:
                need, talent = (row.get("need_id") or "").strip(), (row.get("talent_id") or "").strip()
                for field, value in (("need_id", need), ("talent_id", talent)):
                    if not value:
                        errors.append(f"{path}:{reader.line_num}: {field}: empty; every row needs both ids")
                need_ids.append(need)
                talent_ids.append(talent)
    except UnicodeDecodeError as e:
        fail(f"{path}: not UTF-8 ({e.reason} at byte {e.start}); save the file as UTF-8")
    if errors:
        print_errors(errors, 50)
        fail(f"{path}: {len(errors)} invalid row(s); nothing was scored")
    if not need_ids:
        fail(f"{path}: no pairs; expected a header need_id,talent_id and one row per pair")
    return need_ids, talent_ids


def score(
    pairs: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV with need_id,talent_id columns.")],
    world: Annotated[Path, typer.Option("--world", exists=True, file_okay=False, help="World folder to read.")],
    out_csv: Annotated[Path, typer.Option("--out", dir_okay=False, help="CSV to write need_id,talent_id,score.")],
    model: Annotated[
        str,
        typer.Option(
            "--model",
            help="text (sparse + concepts + dense blend, untrained), champion (the registered LambdaRank model), "
            "or one signal: bm25, dense, concept.",
        ),
    ] = "text",
    encoder: EncoderOption = None,
    json_: JsonOption = False,
) -> None:
    """Score arbitrary (need, talent) pairs, e.g. for an external evaluation."""
    import csv

    import numpy as np

    from features.matrix import score_pairs

    if model not in SCORE_MODELS:
        raise typer.BadParameter(f"unknown model {model!r}; use one of {', '.join(SCORE_MODELS)}", param_hint="--model")
    encoder = encoder_name(encoder)
    need_ids, talent_ids = read_pairs(pairs)
    records = load_records(world, None)
    idx_needs = {n.id for n in records.get("need", ())}
    idx_talents = {t.id for t in records.get("talent", ())}
    unknown = [
        f"{pairs}:{line}: {field}: unknown {field[:-3]} {value!r} (not in {world})"
        for line, (n, t) in enumerate(zip(need_ids, talent_ids, strict=True), start=2)
        for field, value, known in (("need_id", n, idx_needs), ("talent_id", t, idx_talents))
        if value not in known
    ]
    if unknown:
        print_errors(unknown, settings().max_errors_shown)
        fail(f"{len(unknown)} pair id(s) not found in {world}; nothing was scored")
    idx = indices_for(records, encoder, json_)
    scores = score_pairs(idx, need_ids, talent_ids, pair_scorer(model, idx))
    tmp = out_csv.with_name(out_csv.name + ".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["need_id", "talent_id", "score"])
        writer.writerows(
            zip(map(csv_cell, need_ids), map(csv_cell, talent_ids), (f"{s:.6f}" for s in scores), strict=True)
        )
    tmp.replace(out_csv)
    summary = {
        "out": str(out_csv),
        "pairs": len(scores),
        "model": model,
        "encoder": encoder,
        "mean_score": float(np.mean(scores)),
    }
    if json_:
        print_json(summary)
    else:
        out.print(f"scored {len(scores):,} pairs with the {model} model ({encoder}) → {out_csv}", highlight=False)
