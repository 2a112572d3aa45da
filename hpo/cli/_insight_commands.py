"""``hpo importance`` and ``hpo plot``: a study's parameter importance and Optuna's plots."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from hpo.cli._app import app
from hpo.cli._common import Address, AsJson, Storage, _fail
from hpo.errors import HpoError, InvalidArgumentError

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


@app.command()
def importance(
    study: str,
    evaluator: Annotated[
        str, typer.Option(help="fanova, mean_decrease_impurity or ped_anova.")
    ] = "fanova",
    objective: Objective = None,
    address: Address = None,
    storage: Storage = None,
    as_json: AsJson = False,
) -> None:
    """Each parameter's importance for the objective, from the completed trials."""
    values = _run(
        lambda: _load(study, address, storage).importance(evaluator=evaluator, objective=objective)
    )
    if as_json:
        print(json.dumps(values, indent=2))
        return
    table = Table("parameter", "importance", title=f"{study}: {evaluator}")
    for name, value in values.items():
        table.add_row(name, f"{value:.3f}")
    _out.print(table)


@app.command()
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
    address: Address = None,
    storage: Storage = None,
) -> None:
    """Write one of Optuna's plots of the study to a file (needs the plot extra)."""
    written = _run(lambda: _load(study, address, storage).plot(kind, output, objective=objective))
    print(f"wrote {written}")


def _load(study: str, address: str | None, storage: str | None) -> Any:
    from hpo.client import load_study

    return load_study(study, address=address, storage=storage)


def _run(action: Callable[[], T]) -> T:
    """The action's result, or one line saying what went wrong in this command's terms."""
    try:
        return action()
    except InvalidArgumentError as e:
        if e.field:
            _fail(f"{_OPTIONS.get(e.field, e.field)}: {e.problem}")
        _fail(f"{e.code}: {e.message}")
    except HpoError as e:
        _fail(f"{e.code}: {e.message}")
    except ImportError as e:
        _fail(str(e))
