"""Wire encodings shared by the coordinator and the SDK: parameter values, distributions,
search spaces, trial states. Decoding validates and names the offending field."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.study import StudyDirection
from optuna.trial import TrialState

from hpo.errors import InvalidArgumentError
from hpo.v1 import study_pb2 as pb

DIRECTIONS = {
    pb.DIRECTION_MINIMIZE: StudyDirection.MINIMIZE,
    pb.DIRECTION_MAXIMIZE: StudyDirection.MAXIMIZE,
}
TRIAL_STATES = {
    pb.TRIAL_STATE_RUNNING: TrialState.RUNNING,
    pb.TRIAL_STATE_COMPLETE: TrialState.COMPLETE,
    pb.TRIAL_STATE_PRUNED: TrialState.PRUNED,
    pb.TRIAL_STATE_FAILED: TrialState.FAIL,
    pb.TRIAL_STATE_WAITING: TrialState.WAITING,
}
STATE_TO_PB = {v: k for k, v in TRIAL_STATES.items()}
DIRECTION_TO_PB = {v: k for k, v in DIRECTIONS.items()}
#: Each trial state's one name for people and scripts: the CLI's tables and ``--state``,
#: ``--json`` (upper case), the sweep's progress, ``Study.tell(state="pruned")``.
STATE_NAMES = {
    pb.TRIAL_STATE_RUNNING: "running",
    pb.TRIAL_STATE_COMPLETE: "complete",
    pb.TRIAL_STATE_PRUNED: "pruned",
    pb.TRIAL_STATE_FAILED: "failed",
    pb.TRIAL_STATE_WAITING: "waiting",
}
# Also Optuna's spelling of a failed trial.
_STATES_BY_NAME = {name: TRIAL_STATES[v] for v, name in STATE_NAMES.items()} | {
    "fail": TrialState.FAIL
}


# -- trial states ----------------------------------------------------------------------------



#: The system attribute that holds why a trial failed (the Tell's fail_reason).
FAIL_REASON_ATTR = "hpo:fail_reason"

def state_name(value: pb.TrialState) -> str:
    """``"complete"`` for ``TRIAL_STATE_COMPLETE``; ``"unspecified"`` for an unset state."""
    return STATE_NAMES.get(value, "unspecified")


def state_from_name(field: str, name: str | TrialState) -> TrialState:
    """A state from its name in any case (``"pruned"``, ``"FAIL"``, ``"failed"``), or
    InvalidArgumentError naming ``field``."""
    if isinstance(name, TrialState):
        return name
    state = _STATES_BY_NAME.get(str(name).strip().lower())
    if state is None:
        raise InvalidArgumentError.for_field(
            field, f"{name!r} is not a trial state; use one of {', '.join(STATE_NAMES.values())}"
        )
    return state


def state_counts(counts: Mapping[str, int]) -> dict[str, int]:
    """A study's ``trial_counts`` (keyed by the enum's names) as a count for every state name."""
    return {name: int(counts.get(pb.TrialState.Name(v), 0)) for v, name in STATE_NAMES.items()}


#: A trial system attribute per step holding the values reported at it, one per direction,
#: for a study with several directions (its intermediate value is the first of them).
INTERMEDIATE_VECTOR_PREFIX = "hpo:intermediate:"


def intermediate_vector_key(step: int) -> str:
    return f"{INTERMEDIATE_VECTOR_PREFIX}{int(step)}"


# -- values and distributions ----------------------------------------------------------------


def value_from_pb(field: str, value: pb.ParamValue) -> Any:
    kind = value.WhichOneof("kind")
    if kind is None:
        raise InvalidArgumentError.for_field(field, "no value set")
    if kind == "null_value":
        return None
    result = getattr(value, kind)
    if kind == "double_value" and math.isnan(result):
        raise InvalidArgumentError.for_field(field, "must not be NaN")
    return result


def value_to_pb(value: Any) -> pb.ParamValue:
    if value is None:
        return pb.ParamValue(null_value=True)
    if isinstance(value, bool):
        return pb.ParamValue(bool_value=value)
    if isinstance(value, int):
        return pb.ParamValue(int_value=value)
    if isinstance(value, float):
        return pb.ParamValue(double_value=value)
    if isinstance(value, str):
        return pb.ParamValue(string_value=value)
    # Optuna stores numpy scalars and other JSON-able choices; send their nearest primitive.
    if hasattr(value, "item"):
        return value_to_pb(value.item())
    return pb.ParamValue(string_value=str(value))


def distribution_from_pb(field: str, message: pb.Distribution) -> BaseDistribution:
    kind = message.WhichOneof("kind")
    try:
        if kind == "float_distribution":
            d = message.float_distribution
            _require_finite(f"{field}.float_distribution", low=d.low, high=d.high)
            step = d.step if d.HasField("step") else None
            if step is not None and not (math.isfinite(step) and step > 0):
                raise InvalidArgumentError.for_field(
                    f"{field}.float_distribution.step", "must be > 0"
                )
            # Samplers compute with the width, widened by half a step at each end.
            if not math.isfinite(d.high - d.low + (step or 0.0)):
                raise InvalidArgumentError.for_field(
                    f"{field}.float_distribution", "the range's width overflows; narrow it"
                )
            return FloatDistribution(d.low, d.high, log=d.log, step=step)
        if kind == "int_distribution":
            d2 = message.int_distribution
            step2 = d2.step or 1
            if step2 < 0:
                raise InvalidArgumentError.for_field(
                    f"{field}.int_distribution.step", "must be > 0"
                )
            return IntDistribution(d2.low, d2.high, log=d2.log, step=step2)
        if kind == "categorical_distribution":
            choices = tuple(
                value_from_pb(f"{field}.categorical_distribution.choices[{i}]", c)
                for i, c in enumerate(message.categorical_distribution.choices)
            )
            if not choices:
                raise InvalidArgumentError.for_field(
                    f"{field}.categorical_distribution.choices", "needs at least one choice"
                )
            return CategoricalDistribution(choices)
    except InvalidArgumentError:
        raise
    except ValueError as e:  # Optuna's own range checks: low > high, log with low <= 0, ...
        raise InvalidArgumentError.for_field(f"{field}.{kind}", str(e)) from None
    except ArithmeticError:  # e.g. a step too small to divide the range (decimal arithmetic)
        raise InvalidArgumentError.for_field(
            f"{field}.{kind}.step", "too small for the range (or the range too large)"
        ) from None
    raise InvalidArgumentError.for_field(field, "no distribution set")


def distribution_to_pb(distribution: BaseDistribution) -> pb.Distribution:
    if isinstance(distribution, FloatDistribution):
        return pb.Distribution(
            float_distribution=pb.FloatDistribution(
                low=distribution.low,
                high=distribution.high,
                log=distribution.log,
                step=distribution.step,
            )
        )
    if isinstance(distribution, IntDistribution):
        return pb.Distribution(
            int_distribution=pb.IntDistribution(
                low=distribution.low,
                high=distribution.high,
                log=distribution.log,
                step=distribution.step,
            )
        )
    assert isinstance(distribution, CategoricalDistribution)
    return pb.Distribution(
        categorical_distribution=pb.CategoricalDistribution(
            choices=[value_to_pb(c) for c in distribution.choices]
        )
    )


def search_space_from_pb(field: str, space: pb.SearchSpace) -> dict[str, BaseDistribution]:
    return {
        name: distribution_from_pb(f"{field}.{name}", d) for name, d in sorted(space.params.items())
    }


def search_space_to_pb(space: Mapping[str, BaseDistribution]) -> pb.SearchSpace:
    return pb.SearchSpace(params={k: distribution_to_pb(d) for k, d in space.items()})


def _require_finite(field: str, **numbers: float) -> None:
    for name, number in numbers.items():
        if not math.isfinite(number):
            raise InvalidArgumentError.for_field(f"{field}.{name}", "must be a finite number")
