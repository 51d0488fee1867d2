"""``talentmatch models``: the registry's versions (with the contract each records), promotion (optionally only after
an online win) and rollback, and the online comparison of champion and challenger (``service.interleaving``)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from matcher.interleaving import ALPHA, MIN_RANKINGS
from service.cli.common import JsonOption, UrlOption, database_errors, fail, open_store, out, print_json

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


AlphaOption = Annotated[
    float, typer.Option("--alpha", min=0.0, max=1.0, help="Significance level of the sign test (two-sided).")
]
MinRankingsOption = Annotated[
    int, typer.Option("--min-rankings", min=1, help="Interleaved rankings with credited feedback needed at least.")
]


def comparisons(url: str | None) -> list:
    """Every pair's online comparison from the database (``service.interleaving.compare``)."""
    from service.interleaving import compare

    store = open_store(url)
    with database_errors(store):
        store.check_schema()
        return compare(store)


@app.command("compare")
def models_compare(url: UrlOption = None, json_: JsonOption = False) -> None:
    """Online comparison by team-draft interleaving: per pair of champion and challenger versions, the rankings
    interleaved, the challenger's wins, losses and ties among those with credited feedback (shortlists, contacts and
    later steps), and a two-sided sign test p-value (ties dropped)."""
    found = [c.to_dict() for c in comparisons(url)]
    if json_:
        print_json(found)
        return
    table = Table(title="online comparison (team-draft interleaving)")
    for col in ("champion", "challenger", "rankings", "credited", "challenger wins", "losses", "ties", "p-value"):
        table.add_column(col)
    for c in found:
        table.add_row(c["champion"], c["challenger"], str(c["rankings"]), str(c["credited"]), str(c["challenger_wins"]),
                      str(c["challenger_losses"]), str(c["ties"]), f"{c['p_value']:.4g}")  # fmt: skip
    out.print(table if found else "no interleaved rankings yet (set TALENTMATCH_INTERLEAVE_SHARE)", highlight=False)


@app.command("promote")
def models_promote(
    version: Annotated[str, typer.Argument(help="Version to make champion.")],
    require_online_win: Annotated[
        bool,
        typer.Option(
            "--require-online-win",
            help="Promote only a challenger that won significantly online against "
            "the current champion (`talentmatch models compare`).",
        ),
    ] = False,
    alpha: AlphaOption = ALPHA,
    min_rankings: MinRankingsOption = MIN_RANKINGS,
    url: UrlOption = None,
    json_: JsonOption = False,
):
    """Make a version the champion (it must load and match the current feature schema and names)."""
    from matcher.registry import champion_version, promote

    if require_online_win:
        from matcher.interleaving import online_win

        champion = registry_call(champion_version)
        if champion is not None and champion != version:
            result = next((c for c in comparisons(url) if (c.champion, c.challenger) == (champion, version)), None)
            why = online_win(result, alpha=alpha, min_rankings=min_rankings)
            if why is not None:
                fail(f"version {version} is not promoted: it has no significant online win over champion {champion}: "
                     f"{why}")  # fmt: skip
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
