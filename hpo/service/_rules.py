"""Small rules of the trial loop that need no service state: validation and digests."""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution
from optuna.trial import TrialState

from hpo.errors import InvalidArgumentError

FINAL_STATES = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)


def suggest_param(trial: optuna.Trial, name: str, distribution: BaseDistribution) -> Any:
    d: Any = distribution
    try:
        if isinstance(distribution, optuna.distributions.FloatDistribution):
            return trial.suggest_float(name, d.low, d.high, step=d.step, log=d.log)
        if isinstance(distribution, optuna.distributions.IntDistribution):
            return trial.suggest_int(name, d.low, d.high, step=d.step, log=d.log)
        return trial.suggest_categorical(name, d.choices)
    except ValueError as e:  # e.g. a grid sampler asked for a parameter outside its grid
        raise InvalidArgumentError.for_field("distribution", str(e)) from None


def validate_tell(state: TrialState, values: list[float], n_objectives: int) -> list[float]:
    if state not in FINAL_STATES:
        raise InvalidArgumentError.for_field(
            "state", "must be TRIAL_STATE_COMPLETE, TRIAL_STATE_PRUNED or TRIAL_STATE_FAILED"
        )
    if any(math.isnan(v) for v in values):
        raise InvalidArgumentError.for_field("values", "must not contain NaN")
    if state == TrialState.COMPLETE and len(values) != n_objectives:
        raise InvalidArgumentError.for_field(
            "values",
            f"a COMPLETE trial needs {n_objectives} value(s), one per direction; got {len(values)}",
        )
    if state == TrialState.PRUNED and values and len(values) != n_objectives:
        raise InvalidArgumentError.for_field(
            "values", f"a PRUNED trial takes no values or {n_objectives}; got {len(values)}"
        )
    if state == TrialState.FAIL and values:
        raise InvalidArgumentError.for_field("values", "a FAILED trial takes no values")
    return values


def contains(distribution: BaseDistribution, value: Any) -> bool:
    try:
        if isinstance(distribution, CategoricalDistribution):
            return value in distribution.choices
        return distribution._contains(distribution.to_internal_repr(value))
    except (ValueError, TypeError):
        return False


def request_digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()
