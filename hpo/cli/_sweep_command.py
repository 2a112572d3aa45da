"""``hpo sweep``: a whole sweep on Ray workers (the ``sweep`` extra: Ray and scikit-learn)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.markup import escape

from hpo._defaults import DEFAULT_SWEEP_TRIALS
from hpo.cli._common import CoordinatorOption, DbOption, err, fail

_EXISTING = "An existing study keeps its own (options given must equal them)"


def sweep(
    objective: Annotated[str, typer.Argument(help="FILE.py:FUNCTION or MODULE:FUNCTION.")],
    study: Annotated[
        str,
        typer.Option(
            help="Study name: a new study, or an existing one to go on with to its budget "
            "(running the same command again finishes an interrupted sweep)."
        ),
    ],
    trials: Annotated[
        int | None,
        typer.Option(
            help="Trial budget, failed trials excluded. "
            f"New study: {DEFAULT_SWEEP_TRIALS}. {_EXISTING}."
        ),
    ] = None,
    direction: Annotated[
        str | None, typer.Option(help="minimize or maximize. New study: minimize.")
    ] = None,
    workers: Annotated[int, typer.Option(help="Ray worker actors to start.")] = 2,
    cpus_per_trial: Annotated[float, typer.Option(help="CPUs each worker holds.")] = 1.0,
    gpus_per_trial: Annotated[
        float, typer.Option(help="GPUs each worker holds; 0.5 lets two trials share one.")
    ] = 0.0,
    sampler: Annotated[
        str | None,
        typer.Option(help="tpe, gp, cmaes, nsga2, qmc, random, grid. New study: tpe."),
    ] = None,
    sampler_options: Annotated[
        str | None, typer.Option(help="Sampler options as JSON, e.g. '{\"seed\": 1}'.")
    ] = None,
    pruner: Annotated[
        str | None,
        typer.Option(
            help="median, percentile, successive_halving, hyperband, wilcoxon, patient, "
            "threshold, learning_curve, pareto_successive_halving, none. New study: median "
            "(pareto_successive_halving with several directions)."
        ),
    ] = None,
    pruner_options: Annotated[str | None, typer.Option(help="Pruner options as JSON.")] = None,
    ray_address: Annotated[
        str | None,
        typer.Option(
            "--ray-address",
            envvar="RAY_ADDRESS",
            help="Ray cluster to join (ray://head:10001, or set RAY_ADDRESS). Default: a local "
            "Ray, started quietly with Ray's token authentication. A cluster with token "
            "authentication needs RAY_AUTH_MODE=token and its token in RAY_AUTH_TOKEN (or "
            "~/.ray/auth_token), as `ray get-auth-token` prints it on the head node.",
        ),
    ] = None,
    coordinator: CoordinatorOption = None,
    db: DbOption = None,
    resume: Annotated[
        bool,
        typer.Option(
            help="Require an existing study (fail if there is none). Without it a sweep "
            "still goes on with an existing study of that name; it starts a new one only "
            "when there is none."
        ),
    ] = False,
    max_failures: Annotated[
        int | None,
        typer.Option(
            help="Stop once more trials than this have failed [default: the trial budget, so "
            "an objective that always fails stops instead of running forever]."
        ),
    ] = None,
    register: Annotated[
        str | None,
        typer.Option(help="Register the best trial's artifact as a new version of this model."),
    ] = None,
    warm_start: Annotated[
        list[str] | None,
        typer.Option(
            "--warm-start",
            help="New study: learn from earlier studies' trials: auto (the coordinator picks "
            "compatible studies) or a study's name; repeat for several.",
        ),
    ] = None,
    warm_start_data: Annotated[
        list[str] | None,
        typer.Option(
            "--warm-start-data",
            help="With --warm-start auto: a file or folder the trials read, so that studies "
            "whose trials recorded the same data come first; repeat for several.",
        ),
    ] = None,
) -> None:
    """Run a sweep on Ray workers with live progress and early stopping by the coordinator.

    A new study gets the options given (defaults below); an existing one keeps its own:
    options you give must equal them (an error names each that differs), options you leave
    out take the stored values, and the sweep goes on to the study's budget.
    """
    try:
        from hpo.workers import leave_ray, run_sweep
    except ImportError as e:
        fail(str(e))
    if coordinator and db:
        fail("pass --coordinator (a running coordinator) or --db (an embedded one), not both")
    try:
        result = run_sweep(
            objective,
            study=study,
            n_trials=trials,
            direction=direction,
            workers=workers,
            cpus_per_trial=cpus_per_trial,
            gpus_per_trial=gpus_per_trial,
            sampler=_algorithm("--sampler", sampler, sampler_options),
            pruner=_algorithm("--pruner", pruner, pruner_options),
            coordinator=coordinator,
            storage=db,
            ray_address=ray_address,
            resume=resume,
            max_failures=max_failures,
            register=register,
            warm_start=warm_start or None,
            warm_start_data=warm_start_data or None,
        )
    except KeyboardInterrupt:
        err.print(escape(f"interrupted: run the same command again to go on with study {study!r}"))
        raise typer.Exit(130) from None
    except (ValueError, FileNotFoundError) as e:
        fail(str(e))
    leave_ray()  # once the workers' last lines are printed: sooner than Ray's exit hook
    if result.stopped:
        raise typer.Exit(2)


def _algorithm(option: str, name: str | None, options: str | None) -> dict[str, Any] | None:
    """``{"name": ..., **options}``, or None when neither was given (the study decides)."""
    if name is None and options is None:
        return None
    spec = _json_object(f"{option}-options", options or "{}")
    return {"name": name, **spec} if name is not None else spec


def _json_object(option: str, text: str) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except json.JSONDecodeError as e:
        fail(f"{option}: not valid JSON ({e.msg})")
    if not isinstance(value, dict):
        fail(f"{option}: must be a JSON object")
    return value
