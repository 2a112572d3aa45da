"""What every ``hpo`` subcommand shares: connection options, calls, one-line messages."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from hpo._defaults import DEFAULT_STORAGE_URL
from hpo.errors import HpoError, UnavailableError

if TYPE_CHECKING:
    from hpo.client import Connection

# Messages are never wrapped: a log keeps each on one line, whatever the terminal's width.
err = Console(stderr=True, soft_wrap=True, highlight=False)

CoordinatorOption = Annotated[
    str | None,
    typer.Option(
        "--coordinator",
        help="host:port of a running coordinator, or replicas a:1,b:2 "
        "(or set HPO_ADDRESS). "
        "Default: a coordinator embedded in this command, on --db.",
        show_default=False,
    ),
]
DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Database of the embedded coordinator: a SQLite path or URL, or "
        f"postgresql://user@host/db (or set HPO_DB). Default: {DEFAULT_STORAGE_URL}.",
        show_default=False,
    ),
]
AsJson = Annotated[
    bool, typer.Option("--json", help="Print JSON for scripts (see the README) instead of a table.")
]


def warn_password_in_argv(ctx: typer.Context, option: str) -> None:
    """A database password given on the command line is visible to every user of the machine
    (``ps``): say so, and where else it can go."""
    from sqlalchemy.engine import make_url

    from hpo.storage._engine import normalize_url

    source = ctx.get_parameter_source(option)  # the enum of typer's own copy of click
    if getattr(source, "name", "") != "COMMANDLINE":
        return
    try:
        password = make_url(normalize_url(ctx.params[option])).password
    except Exception:  # not a URL: nothing to warn about; opening it will say what is wrong
        return
    if password:
        err.print(
            f"[yellow]warning:[/yellow] the --{option} URL holds a password, which any user of "
            "this machine can read in the process list: set HPO_DB instead, or leave the "
            "password out of the URL and put it in a PostgreSQL password file (~/.pgpass, or "
            "the file PGPASSFILE names)"
        )


def fail(message: str) -> NoReturn:
    """Print ``error: message`` on one line of stderr (markup in it shown as typed); exit 1."""
    err.print(f"[red]error:[/red] {escape(message)}")
    raise typer.Exit(1)


def describe(error: HpoError) -> str:
    """``CODE: message`` of an error, as every command prints it; for a database this process
    could not reach (a wrong host or port, say), with the first line of the driver's own
    error, which says where and what."""
    cause = error.__cause__
    if isinstance(error, UnavailableError) and cause is not None:
        lines = str(getattr(cause, "orig", None) or cause).strip().splitlines()
        if lines:
            return f"{error.code}: {error.message} ({lines[0].strip()})"
    return f"{error.code}: {error.message}"


def note(message: str) -> None:
    """Print a one-line notice on stderr (deprecated spellings, what a command decided)."""
    err.print(f"[yellow]note:[/yellow] {escape(message)}")


def connection(coordinator: str | None, db: str | None) -> Connection:
    """The connection a command uses: ``--coordinator``, else ``--db``, else HPO_ADDRESS,
    else HPO_DB, else an embedded coordinator on the default database."""
    from hpo.client import connect, resolve_address

    if coordinator and db:
        fail("pass --coordinator (a running coordinator) or --db (an embedded one), not both")
    try:
        return connect(resolve_address(coordinator, db))
    except HpoError as e:
        fail(describe(e))


def call(
    coordinator: str | None,
    db: str | None,
    method: str,
    request: Any,
    service: str = "coordinator",
) -> Any:
    """One RPC; an error is one line (``error: NOT_FOUND: ...``) and exit status 1."""
    link = connection(coordinator, db)
    try:
        return link.call(method, request, service=service)
    except HpoError as e:
        fail(describe(e))
