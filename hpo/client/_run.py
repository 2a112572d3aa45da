"""Running one trial of an objective: the rule shared by ``Study.optimize`` and the workers."""

from __future__ import annotations

import logging
import math
import traceback
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from hpo.client._trial import Trial
from hpo.errors import FailedPreconditionError

if TYPE_CHECKING:
    from hpo.client._study import Study

_logger = logging.getLogger("hpo")

ObjectiveFn = Callable[[Trial], float | Sequence[float]]


def run_trial(
    study: Study, trial: Trial, func: ObjectiveFn, catch: tuple[type[BaseException], ...] = ()
) -> FrozenTrial | None:
    """Run ``func(trial)`` and tell the coordinator how it went, as Optuna's optimize does.

    ``optuna.TrialPruned`` -> PRUNED; an exception -> FAILED with its traceback, raised again
    unless it is an instance of ``catch``; a NaN, missing or mis-sized result -> FAILED.
    Returns the finished trial, or None when the coordinator had already finished it (its
    lease expired while the objective ran).
    """
    try:
        result = func(trial)
    except optuna.TrialPruned:
        return _tell(study, trial, None, TrialState.PRUNED)
    except catch as e:
        _logger.warning("trial %d failed: %r (caught)", trial.number, e)
        return _tell(study, trial, None, TrialState.FAIL, traceback.format_exc())
    except BaseException:
        _tell(study, trial, None, TrialState.FAIL, traceback.format_exc())
        raise
    values, problem = objective_values(result, len(study.directions))
    if problem:
        _logger.warning("trial %d failed: %s", trial.number, problem)
        return _tell(study, trial, None, TrialState.FAIL, problem)
    return _tell(study, trial, values, TrialState.COMPLETE)


def _tell(
    study: Study, trial: Trial, values: Any, state: TrialState, reason: str = ""
) -> FrozenTrial | None:
    try:
        return study.tell(trial, values, state, fail_reason=reason)
    except FailedPreconditionError as e:  # e.g. its lease expired: the coordinator finished it
        _logger.warning("trial %d was finished by the coordinator: %s", trial.number, e)
        return None


def objective_values(result: Any, n_objectives: int) -> tuple[list[float], str]:
    """The objective's return as floats, or why it cannot be recorded as COMPLETE."""
    is_sequence = isinstance(result, Sequence) and not isinstance(result, str)
    items = list(result) if is_sequence else [result]
    try:
        values = [float(v) for v in items]
    except (TypeError, ValueError):
        return [], f"the objective returned {result!r}, not a number"
    if len(values) != n_objectives:
        return [], f"the objective returned {len(values)} value(s) for {n_objectives} direction(s)"
    if any(math.isnan(v) for v in values):
        return [], f"the objective returned NaN: {result!r}"
    return values, ""
