"""``hpo importance`` and ``hpo plot``: a study's parameter importance and Optuna's plots."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from hpo.cli._common import AsJson, CoordinatorOption, DbOption, connection, describe, fail
from hpo.errors import HpoError, InvalidArgumentError
from hpo.v1 import coordinator_pb2 as api

_out = Console()
T = TypeVar("T")

#: The SDK's argument names as this command line spells them.
_OPTIONS = {
    "kind": "--kind",
    "path": "-o",
    "objective": "--objective",
    "evaluator": "--evaluator",
    "study": "STUDY",
}
Objective = Annotated[
    int | None,
    typer.Option(help="Which objective (0, 1, ...) of a study with several directions."),
]


def importance(
    study: str,
    evaluator: Annotated[
        str, typer.Option(help="fanova, mean_decrease_impurity or ped_anova.")
    ] = "fanova",
    objective: Objective = None,
    coordinator: CoordinatorOption = None,
    db: DbOption = None,
    as_json: AsJson = False,
) -> None:
    """Each parameter's importance for the objective, from the completed trials."""
    handle = _load(study, coordinator, db)
    values = _run(lambda: handle.importance(evaluator=evaluator, objective=objective))
    if as_json:
        print(json.dumps(values, indent=2))
        return
    table = Table("parameter", "importance", title=f"{study}: {evaluator}")
    for name, value in values.items():
        table.add_row(name, f"{value:.3f}")
    _out.print(table)


def plot(
    study: str,
    kind: Annotated[
        str,
        typer.Option(help="history, intermediate, parallel, contour, importance or pareto."),
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="FILE.html (plotly) or FILE.png (matplotlib).")
    ],
    objective: Objective = None,
    coordinator: CoordinatorOption = None,
    db: DbOption = None,
) -> None:
    """Write one of Optuna's plots of the study to a file (needs the plot extra:
    pip install 'hpo[plot]')."""
    from hpo.client._insight import plotting_backend

    _run(lambda: plotting_backend(output))  # before any call: a missing extra, a wrong suffix
    handle = _load(study, coordinator, db)
    written = _run(lambda: handle.plot(kind, output, objective=objective))
    print(f"wrote {written}")


def _load(study: str, coordinator: str | None, db: str | None) -> Any:
    from hpo.client import Study

    link = connection(coordinator, db)
    return Study(link, _run(lambda: link.call("GetStudy", api.GetStudyRequest(name=study))))


def _run(action: Callable[[], T]) -> T:
    """The action's result, or one line saying what went wrong in this command's terms."""
    try:
        return action()
    except InvalidArgumentError as e:
        if e.field:
            fail(f"{_OPTIONS.get(e.field, e.field)}: {e.problem}")
        fail(describe(e))
    except HpoError as e:
        fail(describe(e))
    except ImportError as e:
        fail(str(e))
