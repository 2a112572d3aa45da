"""Parameter importance and plots of a study, computed here from trials fetched over gRPC.

The trials (from ``ListTrials``) go into an in-memory Optuna study, so Optuna's importance
evaluators and ``optuna.visualization`` work on a study that lives on a remote coordinator.
Plots need the ``plot`` extra (plotly for HTML, matplotlib for PNG), imported only here.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import optuna
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from hpo.errors import InvalidArgumentError

PLOT_KINDS = ("history", "intermediate", "parallel", "contour", "importance", "pareto")
EVALUATORS = ("fanova", "mean_decrease_impurity", "ped_anova")
#: Plot kinds that show one objective (``objective`` picks it in a multi-objective study).
_ONE_OBJECTIVE = {"history", "parallel", "contour", "importance"}
_EXTRA = "pip install 'hpo[plot]'"


def param_importances(
    name: str,
    directions: Sequence[StudyDirection],
    trials: Sequence[FrozenTrial],
    *,
    evaluator: str = "fanova",
    objective: int | None = None,
) -> dict[str, float]:
    """Each parameter's importance for the objective (normalized to sum 1), largest first.

    Deterministic: the random-forest evaluators are seeded.
    """
    chosen = _evaluator(evaluator)
    study = _in_memory_study(name, directions, trials)
    target, _ = _target(study, objective, "objective")
    _require_importance(study, "study")
    with _quiet_optuna():
        return optuna.importance.get_param_importances(study, evaluator=chosen, target=target)


def write_plot(
    name: str,
    directions: Sequence[StudyDirection],
    trials: Sequence[FrozenTrial],
    kind: str,
    path: str | os.PathLike[str],
    *,
    objective: int | None = None,
) -> Path:
    """Render a ``kind`` plot of the study to ``path``: ``.html`` (plotly, self-contained)
    or ``.png`` (matplotlib). Nothing is written when the study cannot support the kind."""
    out = Path(path)
    backend = plotting_backend(out)
    suffix = out.suffix.lower()
    if kind not in PLOT_KINDS:
        raise InvalidArgumentError.for_field(
            "kind", f"{kind!r} is not one of {', '.join(PLOT_KINDS)}"
        )
    study = _in_memory_study(name, directions, trials)
    target, target_name = (None, "")
    if kind in _ONE_OBJECTIVE:
        target, target_name = _target(study, objective, "kind", f"{kind}: ")
    _require_plottable(study, kind)
    with _quiet_optuna():
        figure = _draw(backend, study, kind, target, target_name)
        _save_atomically(figure, suffix, out)
    return out


def _in_memory_study(
    name: str, directions: Sequence[StudyDirection], trials: Sequence[FrozenTrial]
) -> optuna.Study:
    with _quiet_optuna():
        study = optuna.create_study(study_name=name, directions=list(directions))
        study.add_trials(trials)
    return study


def _completed(study: optuna.Study) -> list[FrozenTrial]:
    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))


def _target(
    study: optuna.Study, objective: int | None, field: str, context: str = ""
) -> tuple[Callable[[FrozenTrial], float] | None, str]:
    """The value to show: the study's own, or objective ``objective`` of several (which a
    study with several must name: else an error on ``field``, its message after ``context``)."""
    n = len(study.directions)
    if objective is None:
        if n > 1:
            raise InvalidArgumentError.for_field(
                field,
                f"{context}the study has {n} objectives; choose one with objective 0..{n - 1}",
            )
        return None, "Objective Value"
    if not 0 <= objective < n:
        raise InvalidArgumentError.for_field(
            "objective", f"{objective} is out of range: the study has {n} objective(s)"
        )
    if n == 1:
        return None, "Objective Value"
    return (lambda t: t.values[objective]), f"Objective {objective}"


def _require_importance(study: optuna.Study, field: str) -> None:
    completed = _completed(study)
    if len(completed) < 2:
        raise InvalidArgumentError.for_field(
            field,
            f"importance needs at least 2 completed trials; study {study.study_name!r} has "
            f"{len(completed)}",
        )
    if not set.intersection(*(set(t.params) for t in completed)):
        raise InvalidArgumentError.for_field(
            field, "importance needs a parameter that every completed trial has"
        )


def _require_plottable(study: optuna.Study, kind: str) -> None:
    """One clear reason, naming ``kind``, why this study cannot have this plot."""
    completed = _completed(study)
    n_objectives = len(study.directions)
    if not completed:
        raise InvalidArgumentError.for_field(
            "kind", f"{kind}: study {study.study_name!r} has no completed trial yet"
        )
    problem = ""
    if kind == "pareto" and n_objectives not in (2, 3):
        problem = f"a Pareto front needs 2 or 3 objectives; the study has {n_objectives}"
    elif kind == "intermediate" and not any(t.intermediate_values for t in study.trials):
        problem = "no trial reported intermediate values"
    elif kind == "contour" and len({p for t in completed for p in t.params}) < 2:
        problem = "a contour plot needs at least two parameters; the trials have fewer"
    elif kind == "parallel" and not any(t.params for t in completed):
        problem = "the completed trials have no parameters"
    if problem:
        raise InvalidArgumentError.for_field("kind", f"{kind}: {problem}")
    if kind == "importance":
        try:
            _require_importance(study, "kind")
        except InvalidArgumentError as e:
            raise InvalidArgumentError.for_field("kind", f"{kind}: {e.problem}") from None


def plotting_backend(path: str | os.PathLike[str]) -> Any:
    """Optuna's plotting module for the file ``path`` names: plotly for ``.html``, matplotlib
    for ``.png``; ImportError naming the extra when it is not installed."""
    suffix = Path(path).suffix.lower()
    if suffix not in (".html", ".png"):
        raise InvalidArgumentError.for_field("path", f"{str(path)!r} must end in .html or .png")
    try:
        if suffix == ".html":
            import plotly  # noqa: F401

            return optuna.visualization
        import matplotlib  # noqa: F401
        import optuna.visualization.matplotlib as backend

        return backend
    except ImportError as e:
        raise ImportError(f"plots need plotly and matplotlib: {_EXTRA}") from e


def _draw(
    backend: Any,
    study: optuna.Study,
    kind: str,
    target: Callable[[FrozenTrial], float] | None,
    target_name: str,
) -> Any:
    one = {"target": target, "target_name": target_name}
    if kind == "history":
        return backend.plot_optimization_history(study, **one)
    if kind == "intermediate":
        return backend.plot_intermediate_values(study)
    if kind == "parallel":
        return backend.plot_parallel_coordinate(study, **one)
    if kind == "contour":
        return backend.plot_contour(study, **one)
    if kind == "importance":
        return backend.plot_param_importances(study, evaluator=_evaluator("fanova"), **one)
    return backend.plot_pareto_front(study)


def _save_atomically(figure: Any, suffix: str, out: Path) -> None:
    """Write next to ``out`` and move into place, so a failure leaves nothing behind."""
    out.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=suffix)
    os.close(handle)
    try:
        if suffix == ".html":
            figure.write_html(temporary, include_plotlyjs=True, full_html=True)
        else:
            import matplotlib.pyplot as plt

            axes = figure.flat[0] if hasattr(figure, "flat") else figure
            axes.figure.savefig(temporary, format="png", dpi=120, bbox_inches="tight")
            plt.close(axes.figure)
        os.replace(temporary, out)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _evaluator(name: str) -> optuna.importance.BaseImportanceEvaluator:
    if name not in EVALUATORS:
        raise InvalidArgumentError.for_field(
            "evaluator", f"{name!r} is not one of {', '.join(EVALUATORS)}"
        )
    try:
        if name == "fanova":
            return optuna.importance.FanovaImportanceEvaluator(seed=0)
        if name == "mean_decrease_impurity":
            return optuna.importance.MeanDecreaseImpurityImportanceEvaluator(seed=0)
        return optuna.importance.PedAnovaImportanceEvaluator()
    except ImportError as e:  # fanova and mean_decrease_impurity fit scikit-learn's forests
        raise ImportError(f"importance by {name} needs scikit-learn: {_EXTRA}") from e


@contextlib.contextmanager
def _quiet_optuna() -> Iterator[None]:
    """Without Optuna's "study created in memory" line and experimental-API warnings."""
    logger = logging.getLogger("optuna")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            yield
    finally:
        logger.setLevel(level)
