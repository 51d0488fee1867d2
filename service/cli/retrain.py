"""``talentmatch retrain``: a new model from the feedback recorded since the last training run, joined to the features
as the recruiters saw them (``service.retraining``), promoted only through the gate."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from service.cli.common import (
    EncoderOption,
    JsonOption,
    UrlOption,
    database_errors,
    encoder_name,
    fail,
    open_store,
    out,
    print_json,
    progress_bar,
    settings,
)
from service.cli.matching import (
    ContextWeightOption,
    DebiasOption,
    LabelsOption,
    RequireOnlineWinOption,
    SeedOption,
    UnexaminedOption,
    ViewGradeOption,
    label_map_of,
    treatment_of,
)


def retrain_command(
    url: UrlOption = None,
    labels: LabelsOption = "",
    unexamined: UnexaminedOption = None,
    context_weight: ContextWeightOption = None,
    debias: DebiasOption = None,
    view_grade: ViewGradeOption = None,
    margin: Annotated[
        float, typer.Option("--margin", min=0.0, help="NDCG@10 a new model must gain to be champion.")
    ] = 0.0,
    require_online_win: RequireOnlineWinOption = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would be joined and held out; write nothing (no MLflow run).")
    ] = False,
    encoder: EncoderOption = None,
    seed: SeedOption = 0,
    json_: JsonOption = False,
) -> None:
    """Retrain from the feedback since the last run, joined to the features shown (decision receipts); gate it."""
    from matcher.registry import RegistryError
    from service.retraining import retrain

    label_map = label_map_of(labels)
    treatment = treatment_of(unexamined, context_weight, debias, view_grade)
    name = encoder_name(encoder)
    store = open_store(url)
    with database_errors(store), progress_bar(not json_) as progress:
        store.check_schema()
        task = progress.add_task("retraining", total=None)
        try:
            summary = retrain(
                store, settings(), dry_run=dry_run, label_map=label_map, treatment=treatment, margin=margin,
                require_online_win=require_online_win, encoder=name, random_state=seed,
                progress=lambda stage: progress.update(task, description=f"retraining: {stage}"),
            )  # fmt: skip
        except (ValueError, RegistryError) as e:  # nothing new since the watermark, too few needs, no labels held out
            fail(str(e))
    if json_:
        print_json(summary)
        return
    out.print(summary_table(summary))
    if summary["dry_run"]:
        out.print("dry run: nothing trained, nothing written", highlight=False)
        return
    alias = summary["alias"] or "no alias"
    out.print(f"registered talent-ranker version {summary['version']} as {alias}: {summary['gate']}", highlight=False)


def summary_table(summary: dict) -> Table:
    table = Table(title="retrain" + (" (dry run)" if summary["dry_run"] else ""))
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("new since", summary["new_since"])
    table.add_row("watermark (last run)", _mark(summary["watermark_seq"], summary["watermark"]))
    table.add_row("new watermark", _mark(summary["new_watermark_seq"], summary["new_watermark"]))
    table.add_row("feedback events (new)", f"{summary['events']} ({summary['new_events']})")
    table.add_row("receipts joined", str(summary["receipts"]))
    table.add_row("persons of 2+ records (feedback per person)", str(summary.get("persons", 0)))
    for key, n in summary["rows"].items():
        table.add_row(f"rows: {key}", str(n))
    for key, n in summary["skipped"].items():
        table.add_row(f"skipped: {key}", str(n))
    held = summary["heldout_needs"]
    table.add_row("held-out needs", f"{len(held)}: {', '.join(held[:8])}{' …' if len(held) > 8 else ''}")
    champion = summary["heldout"]
    table.add_row(
        "held-out needs the champion trained on", f"{champion['champion_trained']} ({champion['champion_basis']})"
    )
    for model, values in summary.get("metrics", {}).items():
        table.add_row(f"held-out ndcg@10: {model}", f"{values['ndcg@10']:.4f}")
    return table


def _mark(seq: int | None, time: str | None) -> str:
    """A watermark for display: the journal seq that decides, the event time for reading."""
    if seq is None:
        return "none"
    return f"journal seq {seq}" + (f" (newest event {time})" if time else "")
