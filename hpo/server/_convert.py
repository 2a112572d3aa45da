"""Proto messages <-> the study service's domain types (studies and trials). Shared
encodings (values, distributions) live in :mod:`hpo._wire`."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from hpo._wire import (
    DIRECTION_TO_PB,
    DIRECTIONS,
    STATE_TO_PB,
    TRIAL_STATES,
    distribution_from_pb,
    distribution_to_pb,
    search_space_from_pb,
    search_space_to_pb,
    value_from_pb,
    value_to_pb,
)
from hpo.errors import InvalidArgumentError
from hpo.service import AlgorithmSpec, StudyConfig, StudyView, TrialView
from hpo.service._algorithms import (
    DEFAULT_MULTI_OBJECTIVE_PRUNER,
    DEFAULT_PRUNER,
    DEFAULT_SAMPLER,
)
from hpo.service._config import DEFAULT_LEASE_SECONDS
from hpo.service._limits import check_name
from hpo.service._limits import decode_json as json_from_pb
from hpo.service._options import check_new_study, check_options
from hpo.service._proposals import ParamChoice
from hpo.service._reports import intermediate_vectors
from hpo.service._warm_start import WarmStartRecord, WarmStartRequest
from hpo.v1 import coordinator_pb2 as api
from hpo.v1 import study_pb2 as pb

__all__ = [
    "distribution_from_pb",
    "json_from_pb",
    "search_space_from_pb",
    "value_from_pb",
    "value_to_pb",
]


# -- studies ---------------------------------------------------------------------------------


def directions_from_pb(values: Any) -> list[StudyDirection]:
    directions = []
    for i, value in enumerate(values):
        if value not in DIRECTIONS:
            raise InvalidArgumentError.for_field(
                f"directions[{i}]", "must be DIRECTION_MINIMIZE or DIRECTION_MAXIMIZE"
            )
        directions.append(DIRECTIONS[value])
    return directions


def study_config_from_pb(request: api.CreateStudyRequest) -> StudyConfig:
    """The requested configuration, checked in full (its algorithms tried once); ``given``
    names the settings the client set (unset ones: an empty sampler or pruner, no search
    space, 0 for budgets and lease)."""
    given = {
        "sampler": bool(request.sampler.name or request.sampler.options_json.strip()),
        "pruner": bool(request.pruner.name or request.pruner.options_json.strip()),
        "search_space": bool(request.search_space.params),
        "trial_budget": request.trial_budget != 0,
        "retry_budget": request.retry_budget != 0,
        "lease_seconds": request.lease_seconds != 0,
    }
    default_pruner = (
        DEFAULT_PRUNER if len(request.directions) <= 1 else DEFAULT_MULTI_OBJECTIVE_PRUNER
    )
    config = StudyConfig(
        given=frozenset(name for name, is_set in given.items() if is_set),
        sampler=parse_algorithm("sampler", request.sampler, DEFAULT_SAMPLER),
        pruner=parse_algorithm("pruner", request.pruner, default_pruner),
        search_space=search_space_from_pb("search_space", request.search_space),
        trial_budget=request.trial_budget,
        retry_budget=request.retry_budget,
        lease_seconds=request.lease_seconds or DEFAULT_LEASE_SECONDS,
    )
    check_new_study(config)
    return config


def parse_algorithm(kind: str, spec: pb.AlgorithmSpec, default: str) -> AlgorithmSpec:
    """A sampler or pruner spec from a client, its options checked against their types."""
    parsed = AlgorithmSpec.parse(kind, spec.name, spec.options_json, default)
    check_options(kind, parsed)
    return parsed


def warm_start_from_pb(request: api.CreateStudyRequest) -> WarmStartRequest | None:
    if not request.HasField("warm_start"):
        return None
    wanted = request.warm_start
    return WarmStartRequest(
        auto=wanted.auto, studies=tuple(wanted.studies), data_digests=tuple(wanted.data_digests)
    )


def warm_start_to_pb(record: WarmStartRecord) -> pb.WarmStartRecord:
    requested = record.requested
    return pb.WarmStartRecord(
        requested=pb.WarmStart(
            auto=requested.auto,
            studies=list(requested.studies),
            data_digests=list(requested.data_digests),
        ),
        sources=[
            pb.WarmStartSource(
                study=s.study,
                reason=s.reason,
                trials=s.trials,
                status=record.status.get(s.study, ""),
            )
            for s in record.sources
        ],
    )


def study_to_pb(view: StudyView) -> pb.Study:
    config = view.config
    message = pb.Study(
        name=view.name,
        directions=[DIRECTION_TO_PB[d] for d in view.directions],
        sampler=pb.AlgorithmSpec(
            name=config.sampler.name, options_json=json.dumps(dict(config.sampler.options))
        ),
        pruner=pb.AlgorithmSpec(
            name=config.pruner.name, options_json=json.dumps(dict(config.pruner.options))
        ),
        search_space=search_space_to_pb(config.search_space),
        trial_budget=config.trial_budget,
        retry_budget=config.retry_budget,
        lease_seconds=config.lease_seconds,
        create_time=_timestamp_from_unix(config.created_at),
        trial_counts={
            pb.TrialState.Name(STATE_TO_PB[TrialState[name]]): n
            for name, n in view.trial_counts.items()
        },
        study_id=view.study_id,
    )
    if view.warm_start is not None:
        message.warm_start.CopyFrom(warm_start_to_pb(view.warm_start))
    return message


# -- trials ----------------------------------------------------------------------------------


def trial_state_from_pb(field: str, value: pb.TrialState) -> TrialState:
    if value not in TRIAL_STATES:
        raise InvalidArgumentError.for_field(field, "unknown trial state")
    return TRIAL_STATES[value]


def trial_to_pb(view: TrialView) -> pb.Trial:
    t = view.trial
    message = pb.Trial(
        study=view.study,
        number=t.number,
        state=STATE_TO_PB[t.state],
        values=list(t.values or []),
        params=[param_to_pb(ParamChoice(k, t.distributions[k], v)) for k, v in t.params.items()],
        intermediate_values=_intermediate_values_to_pb(t),
        user_attrs={k: json.dumps(v, default=str) for k, v in t.user_attrs.items()},
        client_id=view.client_id,
        fail_reason=view.fail_reason,
        study_id=view.study_id,
    )
    if view.retry_of is not None:
        message.retry_of = view.retry_of
    if t.datetime_start:
        message.start_time.CopyFrom(_timestamp(t.datetime_start))
    if t.datetime_complete:
        message.complete_time.CopyFrom(_timestamp(t.datetime_complete))
    return message


def param_to_pb(choice: ParamChoice) -> pb.Param:
    return pb.Param(
        name=choice.name,
        distribution=distribution_to_pb(choice.distribution),
        value=value_to_pb(choice.value),
    )


def used_from_pb(params: Any) -> list[ParamChoice]:
    """The ``used`` proposals of a Suggest, Report or Tell, checked for shape (the service
    checks them against the trial and the study)."""
    used = []
    for i, param in enumerate(params):
        field = f"used[{i}]"
        check_name(f"{field}.name", param.name)
        distribution = distribution_from_pb(f"{field}.distribution", param.distribution)
        used.append(
            ParamChoice(param.name, distribution, value_from_pb(f"{field}.value", param.value))
        )
    return used


def _intermediate_values_to_pb(trial: FrozenTrial) -> list[pb.IntermediateValue]:
    """By step; for a study with several directions, each step's vector (and its first
    value as ``value``)."""
    vectors = intermediate_vectors(trial)
    if vectors:
        return [
            pb.IntermediateValue(step=s, value=v[0], values=v) for s, v in sorted(vectors.items())
        ]
    return [
        pb.IntermediateValue(step=s, value=v) for s, v in sorted(trial.intermediate_values.items())
    ]


def _timestamp(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment.astimezone())
    return stamp


def _timestamp_from_unix(seconds: float) -> Timestamp:
    stamp = Timestamp()
    stamp.FromNanoseconds(int(seconds * 1e9))
    return stamp
