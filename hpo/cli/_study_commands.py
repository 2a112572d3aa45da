"""``hpo studies ...``, ``hpo trials list`` and ``hpo best``: reading studies and trials."""

from __future__ import annotations

from typing import Annotated

import typer

from hpo.cli import _render as render
from hpo.cli._common import AsJson, CoordinatorOption, DbOption, call, connection, describe, fail
from hpo.errors import HpoError
from hpo.v1 import coordinator_pb2 as api

studies_app = typer.Typer(help="List, show and delete studies.", no_args_is_help=True)


@studies_app.command("list")
def studies_list(
    coordinator: CoordinatorOption = None, db: DbOption = None, as_json: AsJson = False
) -> None:
    """All studies with their trial counts."""
    response = call(coordinator, db, "ListStudies", api.ListStudiesRequest())
    render.studies(list(response.studies), as_json)


@studies_app.command("show")
def studies_show(
    name: str, coordinator: CoordinatorOption = None, db: DbOption = None, as_json: AsJson = False
) -> None:
    """One study's configuration and progress."""
    render.study(call(coordinator, db, "GetStudy", api.GetStudyRequest(name=name)), as_json)


@studies_app.command("delete")
def studies_delete(
    name: str,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    coordinator: CoordinatorOption = None,
    db: DbOption = None,
) -> None:
    """Delete a study and all its trials."""
    if not yes:
        typer.confirm(f"Delete study {name!r} and all its trials?", abort=True)
    call(coordinator, db, "DeleteStudy", api.DeleteStudyRequest(name=name))
    print(f"deleted study {name!r}")


def trials_list(
    study: str,
    state: Annotated[
        list[str] | None,
        typer.Option(help="Only these states (running, complete, pruned, failed, waiting)."),
    ] = None,
    coordinator: CoordinatorOption = None,
    db: DbOption = None,
    as_json: AsJson = False,
) -> None:
    """A study's trials, by number."""
    from hpo.client._paging import all_trials

    try:
        states = render.state_filter(state or [])
        trials = all_trials(connection(coordinator, db), study, states)
    except HpoError as e:
        fail(describe(e))
    render.trials(trials, as_json)


def best(
    study: str, coordinator: CoordinatorOption = None, db: DbOption = None, as_json: AsJson = False
) -> None:
    """The best trial (or the Pareto front of a multi-objective study)."""
    response = call(coordinator, db, "GetBestTrials", api.GetBestTrialsRequest(study=study))
    render.trials(list(response.trials), as_json)
