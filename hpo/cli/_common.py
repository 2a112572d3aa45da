"""What every ``hpo`` subcommand shares: connection options, calls, failure output."""

from __future__ import annotations

from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from hpo.errors import HpoError

_err = Console(stderr=True, soft_wrap=True)  # an error is one line, however long

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


def _fail(message: str) -> NoReturn:
    """Print one error line (``message`` verbatim: brackets are not markup) and exit 1."""
    _err.print(f"[red]error:[/red] {escape(message)}", highlight=False)
    raise typer.Exit(1)
