"""``talentmatch keys``: API keys (stored hashed): create, list, revoke."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from service.cli.common import JsonOption, UrlOption, database_errors, fail, open_store, out, print_json

app = typer.Typer(help="API keys (stored hashed): create, list, revoke.", no_args_is_help=True)
ROLES = ("recruiter", "enterprise", "data_team", "admin")


@app.command("create")
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


@app.command("list")
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


@app.command("revoke")
def keys_revoke(key_id: Annotated[int, typer.Argument(help="Key id (from keys list).")], url: UrlOption = None) -> None:
    """Revoke a key at once."""
    from service.keys import revoke_key

    store = open_store(url)
    with database_errors(store):
        store.check_schema()
        if not revoke_key(store, key_id):
            fail(f"no active key {key_id}; see `talentmatch keys list`")
    out.print(f"revoked key {key_id}", highlight=False)
