"""Trials from the wire as Optuna ``FrozenTrial`` objects, so Optuna habits carry over."""

from __future__ import annotations

import json

from optuna.trial import FrozenTrial

from hpo._wire import (
    FAIL_REASON_ATTR,
    TRIAL_STATES,
    distribution_from_pb,
    intermediate_vector_key,
    value_from_pb,
)
from hpo.v1 import study_pb2 as pb


def frozen_trial_from_pb(message: pb.Trial) -> FrozenTrial:
    """An Optuna FrozenTrial; ``system_attrs`` carries hpo's extras (client_id, retry_of,
    fail_reason, and for several directions the values reported per step, under
    ``hpo:intermediate:<step>``) under ``hpo:`` keys."""
    values = list(message.values) or None
    system_attrs: dict[str, object] = {}
    if message.client_id:
        system_attrs["hpo:client_id"] = message.client_id
    if message.HasField("retry_of"):
        system_attrs["hpo:retry_of"] = message.retry_of
    if message.fail_reason:
        system_attrs[FAIL_REASON_ATTR] = message.fail_reason
    for reported in message.intermediate_values:
        if reported.values:  # one per direction, as the coordinator keeps them
            system_attrs[intermediate_vector_key(reported.step)] = list(reported.values)
    return FrozenTrial(
        number=message.number,
        trial_id=message.number,
        state=TRIAL_STATES[message.state],
        value=None,
        values=values,
        datetime_start=(
            message.start_time.ToDatetime().astimezone() if message.HasField("start_time") else None
        ),
        datetime_complete=(
            message.complete_time.ToDatetime().astimezone()
            if message.HasField("complete_time")
            else None
        ),
        params={p.name: value_from_pb(p.name, p.value) for p in message.params},
        distributions={
            p.name: distribution_from_pb(p.name, p.distribution) for p in message.params
        },
        user_attrs={k: json.loads(v) for k, v in message.user_attrs.items()},
        system_attrs=system_attrs,
        intermediate_values={iv.step: iv.value for iv in message.intermediate_values},
    )
