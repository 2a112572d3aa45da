"""Running one trial of an objective: the rule shared by ``Study.optimize`` and the workers."""

from __future__ import annotations

import logging
import math
import os
import socket
import traceback
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from hpo.client._trial import Trial
from hpo.errors import FailedPreconditionError

if TYPE_CHECKING:
    from hpo.client._study import Study

_logger = logging.getLogger("hpo")

ObjectiveFn = Callable[[Trial], float | Sequence[float]]


def new_client_prefix() -> str:
    """A prefix for the client ids of one loop of this process (host, pid, a random part);
    a thread's id follows it."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class Ran:
    """How one trial ended, and the next trial when one was asked with its Tell."""

    #: The finished trial; None when the coordinator had already finished it (its lease
    #: expired while the objective ran).
    frozen: FrozenTrial | None
    #: True when the Tell also asked for the next trial (one round trip for both).
    asked_next: bool = False
    #: The next trial to run; None with ``asked_next``: the study's trial budget is spent.
    next: Trial | None = None


def run_trial(
    study: Study,
    trial: Trial,
    func: ObjectiveFn,
    catch: tuple[type[BaseException], ...] = (),
    then_ask: Callable[[], str | None] | None = None,
) -> Ran:
    """Run ``func(trial)`` and tell the coordinator how it went, as Optuna's optimize does.

    ``optuna.TrialPruned`` -> PRUNED; an exception -> FAILED with its traceback, raised again
    unless it is an instance of ``catch``; a NaN, missing or mis-sized result -> FAILED.
    ``then_ask`` is called once the objective has returned (or raised what ``catch`` lists):
    a client id there makes the Tell ask for the next trial too, in the same round trip.
    """
    try:
        result = func(trial)
    except optuna.TrialPruned:
        return _tell(study, trial, None, TrialState.PRUNED, then_ask=_called(then_ask))
    except catch as e:
        _logger.warning("trial %d failed: %r (caught)", trial.number, e)
        reason = traceback.format_exc()
        return _tell(study, trial, None, TrialState.FAIL, reason, _called(then_ask))
    except BaseException:
        _tell(study, trial, None, TrialState.FAIL, traceback.format_exc())
        raise
    values, problem = objective_values(result, len(study.directions))
    if problem:
        _logger.warning("trial %d failed: %s", trial.number, problem)
        return _tell(study, trial, None, TrialState.FAIL, problem, _called(then_ask))
    return _tell(study, trial, values, TrialState.COMPLETE, then_ask=_called(then_ask))


def _called(then_ask: Callable[[], str | None] | None) -> str | None:
    return None if then_ask is None else then_ask()


def _tell(
    study: Study,
    trial: Trial,
    values: Any,
    state: TrialState,
    reason: str = "",
    then_ask: str | None = None,
) -> Ran:
    try:
        if then_ask is None:
            return Ran(study.tell(trial, values, state, fail_reason=reason))
        told, following = study.tell_and_ask(
            trial, values, state, fail_reason=reason, client_id=then_ask
        )
        return Ran(told, asked_next=True, next=following)
    except FailedPreconditionError as e:  # e.g. its lease expired: the coordinator finished it
        _logger.warning("trial %d was finished by the coordinator: %s", trial.number, e)
        return Ran(None)


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
