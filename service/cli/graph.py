"""``talentmatch graph``: the typed talent graph's counts and its export (the one graph with hire edges)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from service.cli.common import (
    JsonOption,
    UrlOption,
    WorldOption,
    count_table,
    load_records,
    out,
    print_json,
    progress_bar,
)

app = typer.Typer(help="The typed talent graph: counts and export.", no_args_is_help=True)


def build_graph(world: Path | None, url: str | None) -> Any:
    """The graph of every record, hire edges included (``service.indexing.talent_graph``: never the ranking's)."""
    from service.indexing import talent_graph

    records = load_records(world, url)
    with progress_bar() as progress:
        progress.add_task("building the talent graph", total=None)
        return talent_graph(records)


@app.command("stats")
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


@app.command("export")
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
    stats = graph.stats()
    doc = {"path": str(path), "nodes": sum(stats["nodes"].values()), "edges": sum(stats["edges"].values())}
    if json_:
        print_json(doc)
    else:
        out.print(f"wrote {doc['nodes']:,} nodes and {doc['edges']:,} edges to {path}", highlight=False)
