"""``talentmatch alerts dispatch``: the alert delivery worker, outside the server; ``alerts seal-secrets``: seal
webhook secrets stored in clear before sealing existed."""

from __future__ import annotations

from typing import Annotated

import typer

from service.cli.common import JsonOption, UrlOption, database_errors, open_store, out, print_json, settings

app = typer.Typer(help="Enterprise match alerts: the delivery worker, sealing old secrets.", no_args_is_help=True)


@app.command("dispatch")
def alerts_dispatch(
    once: Annotated[bool, typer.Option("--once", help="One pass over due messages, then exit.")] = False,
    json_: JsonOption = False,
) -> None:
    """Deliver queued alerts (webhook, e-mail, digests) with retries; runs until Ctrl-C unless --once."""
    from service.alerts import catch_up, run_worker

    cfg = settings()
    try:
        caught = catch_up(cfg)  # alerts a crash between a write and its matching left owed
        if caught and not json_:
            out.print(f"matched {caught} record(s) left pending by an interrupted write", highlight=False)
        stats = run_worker(cfg, once=once)
    except KeyboardInterrupt:
        raise typer.Exit(0) from None
    doc = stats.to_dict()
    if json_:
        print_json(doc)
    else:
        out.print(", ".join(f"{k}: {v}" for k, v in doc.items()), highlight=False)


@app.command("seal-secrets")
def alerts_seal_secrets(url: UrlOption = None, json_: JsonOption = False) -> None:
    """Seal every webhook secret still stored in clear (from before sealing) with the key from settings; the
    dispatcher seals each one it sends for anyway, this does the rest at once. Safe to run again."""
    from service.alerts.subscriptions import seal_plaintext

    cfg = settings()
    store = open_store(url)
    with database_errors(store):
        store.check_schema()
        sealed = seal_plaintext(store, cfg)
    if json_:
        print_json({"sealed": sealed})
    else:
        out.print(f"sealed {sealed} webhook secret(s) stored in clear", highlight=False)
