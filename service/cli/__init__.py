"""The ``talentmatch`` command line: one Typer app, one module per command group, each a thin shell over the service
functions the API uses too (``service.indexing``, ``service.models``, ``service.importing``, ``matcher.workflow``).

Conventions (``service.cli.common``): ``--json`` prints exactly one JSON document on stdout and nothing else;
otherwise Rich tables on stdout. Progress bars, errors and summaries of failures go to stderr. Exit codes: 0 ok,
1 failed (bad data, unreachable database), 2 usage error. Defaults with a ``TALENTMATCH_*`` setting read it.
"""

from __future__ import annotations

import typer

from service.cli import alerts, db, graph, index, keys, matching, models, people, report, retrain, score, serve, world

app = typer.Typer(
    name="talentmatch",
    help="Talent matching for Jiaxing's international talent office.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
app.add_typer(db.app, name="db")
app.add_typer(world.app, name="world")
app.add_typer(graph.app, name="graph")
app.add_typer(index.app, name="index")
app.command("score")(score.score)
app.command("train")(matching.train_command)
app.command("evaluate")(matching.evaluate_command)
app.command("retrain")(retrain.retrain_command)
app.command("rank")(matching.rank_command)
app.add_typer(models.app, name="models")
app.command("serve")(serve.serve_command)
app.add_typer(keys.app, name="keys")
app.add_typer(alerts.app, name="alerts")
app.command("report")(report.report_command)
app.add_typer(people.app, name="people")

__all__ = ["app"]
