"""``hpo``: the command tree. Commands live in their modules; this one assembles them."""

from __future__ import annotations

import atexit
import logging
import os
import sys
from typing import Annotated, NoReturn

import typer
from rich.markup import escape

from hpo.cli import _dashboard as dashboard
from hpo.cli import _insight_commands as insight
from hpo.cli import _lineage_commands as lineage
from hpo.cli import _server_commands as serving
from hpo.cli import _study_commands as studies
from hpo.cli._aliases import modernize_argv
from hpo.cli._common import describe, err, note
from hpo.cli._sweep_command import sweep
from hpo.errors import HpoError

app = typer.Typer(
    name="hpo",
    help="Hyperparameter optimization as a service: run sweeps on Ray, run a coordinator, inspect studies.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Help text is shown as written: no rich markup, which would swallow "hpo[mlflow]".
    rich_markup_mode=None,
)
trials_app = typer.Typer(help="List a study's trials and show one.", no_args_is_help=True)


@app.callback()
def _connection_settings(
    token: Annotated[
        str | None,
        typer.Option(envvar="HPO_TOKEN", help="Bearer token for a coordinator with tokens."),
    ] = None,
    tls_ca: Annotated[
        str | None, typer.Option(envvar="HPO_TLS_CA", help="CA that signed the coordinator (TLS).")
    ] = None,
    tls_cert: Annotated[
        str | None, typer.Option(envvar="HPO_TLS_CERT", help="Client certificate (mutual TLS).")
    ] = None,
    tls_key: Annotated[
        str | None, typer.Option(envvar="HPO_TLS_KEY", help="Client key (mutual TLS).")
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            is_eager=True,
            callback=lambda shown: _print_version() if shown else None,
            help="Print hpo's version and exit.",
        ),
    ] = False,
) -> None:
    """Hyperparameter optimization as a service: run sweeps on Ray, run a coordinator, inspect studies."""
    # Every client call in this process (and Ray workers it starts) reads these.
    for name, value in (
        ("HPO_TOKEN", token),
        ("HPO_TLS_CA", tls_ca),
        ("HPO_TLS_CERT", tls_cert),
        ("HPO_TLS_KEY", tls_key),
    ):
        if value:
            os.environ[name] = value


app.command()(serving.server)
app.command()(sweep)
app.add_typer(studies.studies_app, name="studies")
app.add_typer(trials_app, name="trials")
trials_app.command("list")(studies.trials_list)
trials_app.command("show")(lineage.trials_show)
app.command()(studies.best)
app.command()(lineage.compare)
app.add_typer(lineage.models_app, name="models")
app.add_typer(lineage.export_app, name="export")
app.command()(insight.importance)
app.command()(insight.plot)
app.command()(dashboard.dashboard)
app.add_typer(serving.tokens_app, name="tokens")


def _print_version() -> None:
    from importlib.metadata import version

    print(f"hpo {version('hpo')}")
    raise typer.Exit()


def main() -> None:
    """The console script: old option spellings still work (with a note), and every error a
    person can cause ends as one line on stderr with exit status 1."""
    args = modernize_argv(sys.argv[1:], note)
    # The storage layer logs a database it cannot reach (several lines, for a server's log);
    # a command says it in its one error line instead. `hpo server` logs it (its handler).
    logging.getLogger("hpo.storage").addHandler(logging.NullHandler())
    try:
        try:
            app(args=args, prog_name="hpo")
        except HpoError as e:
            err.print(f"[red]error:[/red] {escape(describe(e))}")
            sys.exit(1)
    except SystemExit as e:
        _exit_without_teardown(e.code)


def _exit_without_teardown(code: str | int | None) -> NoReturn:
    """Exit once the command is done, skipping the interpreter's teardown of every module the
    command imported (after a sweep, a noticeable part of a second): what was registered to
    run at exit runs first (Ray's shutdown, the embedded coordinator's stop, logging's
    flush), and the output is flushed."""
    if isinstance(code, str):
        print(code, file=sys.stderr)
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code if isinstance(code, int) else 0 if code is None else 1)


__all__ = ["app", "main"]
