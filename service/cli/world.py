"""``talentmatch world generate``: the synthetic demo world. The only product module that imports the generator."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from service.cli.common import JsonOption, count_table, fail, out, print_json, progress_bar

app = typer.Typer(help="The synthetic demo world (for the demo, tests and benchmarks).", no_args_is_help=True)


@app.command("generate")
def world_generate(
    out_dir: Annotated[Path, typer.Argument(file_okay=False, help="Folder to write the world's .jsonl files into.")],
    talents: Annotated[int, typer.Option("--talents", min=1, help="Number of talents.")] = 5000,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Random seed; the same seed gives the same files.")] = 0,
    needs: Annotated[int | None, typer.Option("--needs", min=1, help="Number of needs (default: talents/20).")] = None,
    duplicates: Annotated[
        float,
        typer.Option(
            "--duplicates",
            min=0.0,
            max=1.0,
            help="Share of persons who also arrive as 1–3 more records from other sources (same person, written "
            "differently); the world folder records which records are one person, for evaluation only.",
        ),
    ] = 0.0,
    relations: Annotated[
        float,
        typer.Option(
            "--relations",
            min=0.0,
            max=1.0,
            help="Share of talents who declare a relation (employee, former employee, founder or shareholder, family "
            "of staff, co-author) with an enterprise or its staff, written to relations.jsonl for the conflict rule.",
        ),
    ] = 0.0,
    json_: JsonOption = False,
) -> None:
    """Generate a realistic synthetic world, with the hidden true relevance in its truth file (for evaluation only)."""
    from demo.world import generate_world  # the only service module allowed to import the generator

    with progress_bar(not json_) as progress:
        tasks: dict[str, Any] = {}

        def on_progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(stage, total=total)
            progress.update(tasks[stage], completed=done, total=total)

        try:
            counts = generate_world(
                out_dir,
                talents=talents,
                seed=seed,
                needs=needs,
                duplicates=duplicates,
                relations=relations,
                progress=on_progress,
            )
        except (ValueError, OSError) as e:
            fail(str(e))
    if json_:
        print_json({"out_dir": str(out_dir), "seed": seed, "files": counts})
        return
    out.print(count_table(f"world {out_dir} (seed {seed})", "file", "records", counts))
