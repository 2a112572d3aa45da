"""What Report records: one value per direction.

A study with one direction keeps Optuna's intermediate value per step. A study with several
keeps each step's vector in a trial system attribute (:func:`hpo._wire.intermediate_vector_key`),
where the Pareto pruner and the wire read it, and no Optuna intermediate value: Optuna's
samplers rank a pruned trial by its last intermediate value with one direction only (TPE
fails on a pruned trial with one in a study with several), so they see such trials as Optuna
always has, without.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence

from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial

from hpo._wire import INTERMEDIATE_VECTOR_PREFIX, intermediate_vector_key
from hpo.errors import FailedPreconditionError, InvalidArgumentError


def one_objective_pruner(
    pruner: str, study: str, n_objectives: int, vector_pruners: Collection[str]
) -> str:
    """Why ``pruner`` cannot serve ``study``, which has several directions, and what can."""
    return (
        f"{pruner!r} supports one objective and study {study!r} has {n_objectives} "
        f"directions; create the study with pruner {' or '.join(sorted(vector_pruners))}"
    )


def report_vector(
    value: float,
    values: Sequence[float],
    n_objectives: int,
    study: str,
    pruner: str,
    vector_pruners: Collection[str],
) -> list[float]:
    """The reported values, one per direction; the error that names the field otherwise.
    A study with several directions needs one of ``vector_pruners`` (those that decide on
    vectors)."""
    if values:
        if any(math.isnan(v) for v in values):
            raise InvalidArgumentError.for_field("values", "must not contain NaN")
        if len(values) != n_objectives:
            raise InvalidArgumentError.for_field(
                "values",
                f"study {study!r} has {n_objectives} direction(s): report one value per "
                f"direction; got {len(values)}",
            )
        if value and value != values[0]:
            raise InvalidArgumentError.for_field(
                "value", "leave it 0 (or equal to values[0]) when values is set"
            )
    if n_objectives > 1 and pruner not in vector_pruners:  # stored before creating such a
        # study was refused (StudyService.create_study)
        raise FailedPreconditionError(
            f"pruner: {one_objective_pruner(pruner, study, n_objectives, vector_pruners)}"
        )
    if not values:
        if n_objectives > 1:
            raise InvalidArgumentError.for_field(
                "values",
                f"study {study!r} has {n_objectives} directions: report one value per "
                "direction in values",
            )
        return [value]
    return [float(v) for v in values]


def record_report(storage: BaseStorage, trial_id: int, step: int, vector: Sequence[float]) -> None:
    """Store the values reported at ``step`` (the caller checked it is the step's first)."""
    if len(vector) == 1:
        storage.set_trial_intermediate_value(trial_id, step, vector[0])
    else:
        storage.set_trial_system_attr(trial_id, intermediate_vector_key(step), list(vector))


def reported_vectors(trial: FrozenTrial, n_objectives: int) -> dict[int, list[float]]:
    """The values a trial reported, by step, one per direction."""
    if n_objectives == 1:
        return {step: [value] for step, value in trial.intermediate_values.items()}
    return intermediate_vectors(trial)


def intermediate_vectors(trial: FrozenTrial) -> dict[int, list[float]]:
    """The vectors a trial of a study with several directions reported, by step (empty for
    a study with one)."""
    vectors = {}
    for key, vector in trial.system_attrs.items():
        if key.startswith(INTERMEDIATE_VECTOR_PREFIX):
            vectors[int(key[len(INTERMEDIATE_VECTOR_PREFIX) :])] = [float(v) for v in vector]
    return vectors
