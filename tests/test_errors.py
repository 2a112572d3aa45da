"""The error table, field by field, through the generated stubs only: every bad request gets
its status code, a message naming the field, and leaves the database as it was."""

from __future__ import annotations

import math
from typing import Any

import grpc
import pytest
from dbstate import database_digest as db_digest

from hpo.server import Coordinator
from hpo.v1 import coordinator_pb2 as api
from hpo.v1 import coordinator_pb2_grpc as api_grpc
from hpo.v1 import study_pb2 as pb

INVALID = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND
PRECONDITION = grpc.StatusCode.FAILED_PRECONDITION
MIN = pb.DIRECTION_MINIMIZE


def float_dist(low: float, high: float, **kw: Any) -> pb.Distribution:
    return pb.Distribution(float_distribution=pb.FloatDistribution(low=low, high=high, **kw))


@pytest.fixture
def running(stub: api_grpc.CoordinatorStub) -> dict[str, int]:
    """Study "s" with trial 0 finished (x float, c categorical) and trial 1 running."""
    stub.CreateStudy(api.CreateStudyRequest(name="s", directions=[MIN]))
    first = stub.Ask(api.AskRequest(study="s")).trial.number
    stub.Suggest(
        api.SuggestRequest(study="s", trial_number=first, name="x", distribution=float_dist(0, 1))
    )
    choices = pb.Distribution(
        categorical_distribution=pb.CategoricalDistribution(
            choices=[pb.ParamValue(string_value="a"), pb.ParamValue(string_value="b")]
        )
    )
    stub.Suggest(api.SuggestRequest(study="s", trial_number=first, name="c", distribution=choices))
    stub.Tell(
        api.TellRequest(study="s", trial_number=first, state=pb.TRIAL_STATE_COMPLETE, values=[1.0])
    )
    second = stub.Ask(api.AskRequest(study="s")).trial.number
    return {"finished": first, "running": second}


def snapshot(coordinator: Coordinator) -> str:
    return db_digest(coordinator.storage.engine)


def expect(
    coordinator: Coordinator, call: Any, request: Any, code: grpc.StatusCode, field: str
) -> None:
    before = snapshot(coordinator)
    with pytest.raises(grpc.RpcError) as info:
        call(request)
    assert info.value.code() == code, info.value.details()
    assert field in info.value.details()
    assert snapshot(coordinator) == before, "a rejected call wrote to the database"


CREATE_CASES = [
    (dict(name=""), INVALID, "name"),
    (dict(name="x" * 300), INVALID, "name"),
    (dict(directions=[]), INVALID, "directions"),
    (dict(directions=[pb.DIRECTION_UNSPECIFIED]), INVALID, "directions[0]"),
    (dict(sampler=pb.AlgorithmSpec(name="annealing")), INVALID, "sampler.name"),
    (dict(sampler=pb.AlgorithmSpec(name="tpe", options_json="{")), INVALID, "sampler.options_json"),
    (
        dict(sampler=pb.AlgorithmSpec(name="tpe", options_json="[1]")),
        INVALID,
        "sampler.options_json",
    ),
    (
        dict(sampler=pb.AlgorithmSpec(name="tpe", options_json='{"bogus": 1}')),
        INVALID,
        "sampler.options_json",
    ),
    (dict(pruner=pb.AlgorithmSpec(name="sometimes")), INVALID, "pruner.name"),
    (
        dict(pruner=pb.AlgorithmSpec(name="percentile", options_json='{"percentile": 150}')),
        INVALID,
        "pruner.options_json",
    ),
    (dict(trial_budget=-1), INVALID, "trial_budget"),
    (dict(retry_budget=-1), INVALID, "retry_budget"),
    (dict(lease_seconds=-1), INVALID, "lease_seconds"),
    (dict(lease_seconds=math.nan), INVALID, "lease_seconds"),
    (
        dict(search_space=pb.SearchSpace(params={"lr": float_dist(1, 0)})),
        INVALID,
        "search_space.lr",
    ),
    (
        dict(search_space=pb.SearchSpace(params={"lr": float_dist(0, 1, log=True)})),
        INVALID,
        "search_space.lr",
    ),
    (
        dict(search_space=pb.SearchSpace(params={"lr": pb.Distribution()})),
        INVALID,
        "search_space.lr",
    ),
    (dict(name="s"), grpc.StatusCode.ALREADY_EXISTS, "name"),
]


@pytest.mark.parametrize(("fields", "code", "field"), CREATE_CASES)
def test_create_study(coordinator, stub, running, fields, code, field) -> None:
    request = api.CreateStudyRequest(name="new", directions=[MIN])
    for key, value in fields.items():
        if key == "directions":
            del request.directions[:]
            request.directions.extend(value)
        elif isinstance(value, (pb.AlgorithmSpec, pb.SearchSpace)):
            getattr(request, key).CopyFrom(value)
        else:
            setattr(request, key, value)
    expect(coordinator, stub.CreateStudy, request, code, field)


def test_unknown_study_everywhere(coordinator, stub, running) -> None:
    for call, request in [
        (stub.GetStudy, api.GetStudyRequest(name="nope")),
        (stub.DeleteStudy, api.DeleteStudyRequest(name="nope")),
        (stub.Ask, api.AskRequest(study="nope")),
        (stub.Suggest, api.SuggestRequest(study="nope", name="x", distribution=float_dist(0, 1))),
        (stub.Report, api.ReportRequest(study="nope", value=1)),
        (stub.Tell, api.TellRequest(study="nope", state=pb.TRIAL_STATE_FAILED)),
        (stub.Heartbeat, api.HeartbeatRequest(study="nope")),
        (stub.GetTrial, api.GetTrialRequest(study="nope")),
        (stub.ListTrials, api.ListTrialsRequest(study="nope")),
        (stub.GetBestTrials, api.GetBestTrialsRequest(study="nope")),
        (stub.EnqueueTrial, api.EnqueueTrialRequest(study="nope")),
    ]:
        expect(coordinator, call, request, NOT_FOUND, "study")


def test_unknown_trial_everywhere(coordinator, stub, running) -> None:
    for call, request in [
        (
            stub.Suggest,
            api.SuggestRequest(study="s", trial_number=99, name="x", distribution=float_dist(0, 1)),
        ),
        (stub.Report, api.ReportRequest(study="s", trial_number=99, value=1)),
        (stub.Tell, api.TellRequest(study="s", trial_number=99, state=pb.TRIAL_STATE_FAILED)),
        (stub.Heartbeat, api.HeartbeatRequest(study="s", trial_number=99)),
        (stub.GetTrial, api.GetTrialRequest(study="s", trial_number=99)),
    ]:
        expect(coordinator, call, request, NOT_FOUND, "trial_number")


def test_suggest(coordinator, stub, running) -> None:
    n = running["running"]

    def suggest(name: str, distribution: pb.Distribution) -> api.SuggestRequest:
        return api.SuggestRequest(study="s", trial_number=n, name=name, distribution=distribution)

    cases = [
        (suggest("y", float_dist(2, 1)), INVALID, "distribution.float_distribution"),
        (suggest("y", float_dist(math.nan, 1)), INVALID, "distribution.float_distribution.low"),
        (suggest("y", float_dist(0, 1, log=True)), INVALID, "distribution.float_distribution"),
        (
            suggest("y", float_dist(0, 1, step=-0.1)),
            INVALID,
            "distribution.float_distribution.step",
        ),
        (
            suggest("y", pb.Distribution(int_distribution=pb.IntDistribution(low=5, high=1))),
            INVALID,
            "distribution.int_distribution",
        ),
        (
            suggest("y", pb.Distribution(categorical_distribution=pb.CategoricalDistribution())),
            INVALID,
            "distribution.categorical_distribution.choices",
        ),
        (suggest("y", pb.Distribution()), INVALID, "distribution"),
        (suggest("", float_dist(0, 1)), INVALID, "name"),
        # "x" was a float in trial 0; "c" a categorical with other choices
        (
            suggest("x", pb.Distribution(int_distribution=pb.IntDistribution(low=0, high=1))),
            INVALID,
            "distribution",
        ),
        (
            suggest(
                "c",
                pb.Distribution(
                    categorical_distribution=pb.CategoricalDistribution(
                        choices=[pb.ParamValue(string_value="z")]
                    )
                ),
            ),
            INVALID,
            "distribution",
        ),
        (
            api.SuggestRequest(
                study="s", trial_number=running["finished"], name="y", distribution=float_dist(0, 1)
            ),
            PRECONDITION,
            "trial_number",
        ),
    ]
    for request, code, field in cases:
        expect(coordinator, stub.Suggest, request, code, field)


def test_report(coordinator, stub, running) -> None:
    n = running["running"]
    cases = [
        (api.ReportRequest(study="s", trial_number=n, step=0, value=math.nan), INVALID, "value"),
        (api.ReportRequest(study="s", trial_number=n, step=-1, value=1), INVALID, "step"),
        (
            api.ReportRequest(study="s", trial_number=running["finished"], step=0, value=1),
            PRECONDITION,
            "trial_number",
        ),
    ]
    for request, code, field in cases:
        expect(coordinator, stub.Report, request, code, field)


def test_tell(coordinator, stub, running) -> None:
    n = running["running"]
    complete = pb.TRIAL_STATE_COMPLETE
    cases = [
        (api.TellRequest(study="s", trial_number=n, state=complete, values=[]), INVALID, "values"),
        (
            api.TellRequest(study="s", trial_number=n, state=complete, values=[1, 2]),
            INVALID,
            "values",
        ),
        (
            api.TellRequest(study="s", trial_number=n, state=complete, values=[math.nan]),
            INVALID,
            "values",
        ),
        (
            api.TellRequest(study="s", trial_number=n, state=pb.TRIAL_STATE_FAILED, values=[1]),
            INVALID,
            "values",
        ),
        (
            api.TellRequest(study="s", trial_number=n, state=pb.TRIAL_STATE_UNSPECIFIED),
            INVALID,
            "state",
        ),
        (
            api.TellRequest(study="s", trial_number=n, state=pb.TRIAL_STATE_RUNNING),
            INVALID,
            "state",
        ),
        (api.TellRequest(study="s", trial_number=n, state=99), INVALID, "state"),
        (
            api.TellRequest(
                study="s", trial_number=running["finished"], state=complete, values=[1]
            ),
            PRECONDITION,
            "trial_number",
        ),
    ]
    for request, code, field in cases:
        expect(coordinator, stub.Tell, request, code, field)


def test_other_calls(coordinator, stub, running) -> None:
    n = running["running"]
    cases = [
        (
            stub.ListTrials,
            api.ListTrialsRequest(study="s", page_token="abc"),
            INVALID,
            "page_token",
        ),
        (stub.ListTrials, api.ListTrialsRequest(study="s", page_size=-1), INVALID, "page_size"),
        (stub.ListTrials, api.ListTrialsRequest(study="s", states=[42]), INVALID, "states[0]"),
        (
            stub.EnqueueTrial,
            api.EnqueueTrialRequest(study="s", params={"x": pb.ParamValue(double_value=7)}),
            INVALID,
            "params.x",
        ),
        (
            stub.EnqueueTrial,
            api.EnqueueTrialRequest(study="s", params={"x": pb.ParamValue()}),
            INVALID,
            "params.x",
        ),
        (
            stub.EnqueueTrial,
            api.EnqueueTrialRequest(study="s", user_attrs={"k": "{"}),
            INVALID,
            "user_attrs.k",
        ),
        (
            stub.SetTrialUserAttr,
            api.SetTrialUserAttrRequest(study="s", trial_number=n, key="k", value_json="{"),
            INVALID,
            "value_json",
        ),
        (
            stub.SetTrialUserAttr,
            api.SetTrialUserAttrRequest(study="s", trial_number=n, key="", value_json="1"),
            INVALID,
            "key",
        ),
        (
            stub.Heartbeat,
            api.HeartbeatRequest(study="s", trial_number=running["finished"]),
            PRECONDITION,
            "trial_number",
        ),
        (
            stub.Ask,
            api.AskRequest(
                study="s",
                search_space=pb.SearchSpace(
                    params={
                        "x": pb.Distribution(int_distribution=pb.IntDistribution(low=0, high=3))
                    }
                ),
            ),
            INVALID,
            "search_space.x",
        ),
    ]
    for call, request, code, field in cases:
        expect(coordinator, call, request, code, field)


def test_health_service_reports_serving(coordinator) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(coordinator.address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("", "hpo.v1.Coordinator"):
            reply = health.Check(health_pb2.HealthCheckRequest(service=service))
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
