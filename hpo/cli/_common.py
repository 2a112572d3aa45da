"""What every ``hpo`` subcommand shares: connection options, calls, failure output."""

from __future__ import annotations

from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console

from hpo.errors import HpoError

_err = Console(stderr=True)

Address = Annotated[
    str | None,
    typer.Option(
        "--address",
        envvar="HPO_ADDRESS",
        help="host:port of a running coordinator. Default: an embedded one on --storage.",
    ),
]
Storage = Annotated[
    str | None,
    typer.Option(
        "--storage",
        envvar="HPO_STORAGE",
        help="Database of the embedded coordinator (SQLite path/URL or PostgreSQL URL). "
        "Default: sqlite:///hpo.db",
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of a table.")]


def _call(
    address: str | None,
    storage: str | None,
    method: str,
    request: Any,
    service: str = "coordinator",
) -> Any:
    from hpo.client import connect, resolve_address

    try:
        return connect(resolve_address(address, storage)).call(method, request, service=service)
    except HpoError as e:
        _fail(f"{e.code}: {e.message}")


def warn_password_in_argv(ctx: typer.Context, option: str) -> None:
    """A database password given on the command line is visible to every user of the machine
    (``ps``): say so, and where else it can go."""
    from sqlalchemy.engine import make_url

    from hpo.storage import normalize_url

    source = ctx.get_parameter_source(option)  # the enum of typer's own copy of click
    if getattr(source, "name", "") != "COMMANDLINE":
        return
    try:
        password = make_url(normalize_url(ctx.params[option])).password
    except Exception:  # not a URL: nothing to warn about; opening it will say what is wrong
        return
    if password:
        _err.print(
            f"[yellow]warning:[/yellow] the --{option} URL holds a password, which any user of "
            "this machine can read in the process list: set HPO_DB instead, or leave the "
            "password out of the URL and put it in a PostgreSQL password file (~/.pgpass, or "
            "the file PGPASSFILE names)",
            highlight=False,
            soft_wrap=True,
        )


def _fail(message: str) -> NoReturn:
    _err.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)
