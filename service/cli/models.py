"""``talentmatch models``: the registry's versions (with the contract each records), promotion and rollback."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from service.cli.common import JsonOption, fail, out, print_json

app = typer.Typer(help="The model registry (MLflow): versions, promotion, rollback.", no_args_is_help=True)


def registry_call(fn: Any, *args: Any) -> Any:
    from matcher.registry import RegistryError

    try:
        return fn(*args)
    except RegistryError as e:
        fail(str(e))


@app.command("list")
def models_list(json_: JsonOption = False) -> None:
    """Registered versions of talent-ranker with their aliases and metrics."""
    from matcher.registry import list_versions

    versions = registry_call(list_versions)
    if json_:
        print_json(versions)
        return
    table = Table(title="talent-ranker")
    for col in ("version", "aliases", "ndcg@10", "schema", "encoder", "created", "decision"):
        table.add_column(col)
    for v in versions:
        ndcg = v["metrics"].get("ndcg@10")
        table.add_row(
            str(v["version"]), ", ".join(v["aliases"]), "" if ndcg is None else f"{ndcg:.3f}",
            str(v.get("schema_version", "")), str(v.get("encoder") or "unknown"), str(v.get("created", "")),
            str(v.get("decision", "")),
        )  # fmt: skip
    out.print(table)


@app.command("promote")
def models_promote(
    version: Annotated[str, typer.Argument(help="Version to make champion.")], json_: JsonOption = False
):
    """Make a version the champion (it must load and match the current feature schema and names)."""
    from matcher.registry import promote

    change = registry_call(promote, version)
    doc = {"champion": change.champion, "previous": change.previous}
    if json_:
        print_json(doc)
    else:
        out.print(f"champion is now version {change.champion} (was {change.previous or 'none'})", highlight=False)


@app.command("rollback")
def models_rollback(json_: JsonOption = False) -> None:
    """Give the champion alias back to the previous champion."""
    from matcher.registry import rollback

    change = registry_call(rollback)
    doc = {"champion": change.champion, "previous": change.previous}
    if json_:
        print_json(doc)
    else:
        out.print(f"rolled back: champion is now version {change.champion} (was {change.previous})", highlight=False)
