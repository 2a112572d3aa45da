"""Limits (hpo.service._limits), through the real server: beyond each, the call is refused with
its status code and field, and writes nothing."""

from __future__ import annotations

import json

import grpc
import pytest
from dbstate import expect_refused

from hpo.server import Coordinator
from hpo.service import _limits as limits
from hpo.service._limits import MAX_ID_LENGTH, MAX_NAME_LENGTH, MAX_PARAMS_PER_TRIAL
from hpo.v1 import coordinator_pb2 as api
from hpo.v1 import coordinator_pb2_grpc as api_grpc
from hpo.v1 import study_pb2 as pb


def test_limits(sqlite_coordinator: Coordinator) -> None:
    with grpc.insecure_channel(
        sqlite_coordinator.address, options=[("grpc.max_send_message_length", 64 << 20)]
    ) as channel:
        stub = api_grpc.CoordinatorStub(channel)
        stub.CreateStudy(api.CreateStudyRequest(name="big", directions=[pb.DIRECTION_MINIMIZE]))
        number = stub.Ask(api.AskRequest(study="big")).trial.number
        huge = api.SetTrialUserAttrRequest(
            study="big", trial_number=number, key="k", value_json='"' + "x" * (17 << 20) + '"'
        )
        with pytest.raises(grpc.RpcError) as info:
            stub.SetTrialUserAttr(huge)
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED

        space = pb.SearchSpace(
            params={
                f"p{i}": pb.Distribution(float_distribution=pb.FloatDistribution(low=0, high=1))
                for i in range(MAX_PARAMS_PER_TRIAL)
            }
        )
        wide = stub.Ask(api.AskRequest(study="big", search_space=space)).trial
        assert len(wide.params) == MAX_PARAMS_PER_TRIAL
        extra = api.SuggestRequest(
            study="big",
            trial_number=wide.number,
            name="one-more",
            distribution=pb.Distribution(float_distribution=pb.FloatDistribution(low=0, high=1)),
        )
        with pytest.raises(grpc.RpcError) as info:
            stub.Suggest(extra)
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "one-more" not in {
            p.name
            for p in stub.GetTrial(
                api.GetTrialRequest(study="big", trial_number=wide.number)
            ).params
        }


# -- the caps of issue 10 (item 6 and part of 3): counts, names, a trial's size, page bytes ----

INVALID = grpc.StatusCode.INVALID_ARGUMENT
EXHAUSTED = grpc.StatusCode.RESOURCE_EXHAUSTED


def float_dist() -> pb.Distribution:
    return pb.Distribution(float_distribution=pb.FloatDistribution(low=0, high=1))


@pytest.fixture
def running(stub) -> int:
    stub.CreateStudy(api.CreateStudyRequest(name="s", directions=[pb.DIRECTION_MINIMIZE]))
    return stub.Ask(api.AskRequest(study="s")).trial.number


def refused(coordinator, call, request, code, field) -> None:
    expect_refused(coordinator.storage.engine, call, request, code, field)


def test_per_request_spaces_and_enqueued_trials_are_capped(coordinator, stub, running) -> None:
    too_many = MAX_PARAMS_PER_TRIAL + 1
    space_refused(coordinator, stub, {f"p{i}": float_dist() for i in range(too_many)})
    params = {f"p{i}": pb.ParamValue(double_value=0.5) for i in range(too_many)}
    refused(
        coordinator,
        stub.EnqueueTrial,
        api.EnqueueTrialRequest(study="s", params=params),
        INVALID,
        "params",
    )


def space_refused(coordinator, stub, params: dict[str, pb.Distribution]) -> None:
    """Refused as Ask's search space and as a new study's."""
    space = pb.SearchSpace(params=params)
    ask = api.AskRequest(study="s", search_space=space)
    refused(coordinator, stub.Ask, ask, INVALID, "search_space")
    create = api.CreateStudyRequest(name="n", directions=[1], search_space=space)
    refused(coordinator, stub.CreateStudy, create, INVALID, "search_space")


def test_names_are_capped(coordinator, stub, running) -> None:
    long = "n" * (MAX_NAME_LENGTH + 1)
    huge = "n" * (10 << 20)
    for name in (long, huge):
        refused(
            coordinator,
            stub.Suggest,
            api.SuggestRequest(
                study="s", trial_number=running, name=name, distribution=float_dist()
            ),
            INVALID,
            "name",
        )
    space_refused(coordinator, stub, {long: float_dist()})
    enqueue = api.EnqueueTrialRequest(study="s", params={long: pb.ParamValue(double_value=1)})
    refused(coordinator, stub.EnqueueTrial, enqueue, INVALID, "params")
    enqueue = api.EnqueueTrialRequest(study="s", user_attrs={huge: "1"})
    refused(coordinator, stub.EnqueueTrial, enqueue, INVALID, "user_attrs")
    attr = api.SetTrialUserAttrRequest(study="s", trial_number=running, key=long, value_json="1")
    refused(coordinator, stub.SetTrialUserAttr, attr, INVALID, "key")


def test_callers_ids_are_capped(coordinator, stub, running) -> None:
    """Client and request ids are stored with what they name: at most MAX_ID_LENGTH."""
    long = "i" * (MAX_ID_LENGTH + 1)
    refused(coordinator, stub.Ask, api.AskRequest(study="s", client_id=long), INVALID, "client_id")
    tell = api.TellRequest(study="s", trial_number=running, state=pb.TRIAL_STATE_COMPLETE,
                           values=[1.0], request_id=long)  # fmt: skip
    refused(coordinator, stub.Tell, tell, INVALID, "request_id")
    report = api.ReportRequest(study="s", trial_number=running, step=0, value=1.0, request_id=long)
    refused(coordinator, stub.Report, report, INVALID, "request_id")
    both = api.TellAndAskRequest(tell=tell, ask=api.AskRequest(study="s", client_id="c"))
    refused(coordinator, stub.TellAndAsk, both, INVALID, "request_id")
    tell.request_id = "r"
    both = api.TellAndAskRequest(tell=tell, ask=api.AskRequest(study="s", client_id=long))
    refused(coordinator, stub.TellAndAsk, both, INVALID, "client_id")


def test_no_trial_grows_past_what_a_message_can_carry(coordinator, stub, running) -> None:
    """The issue's case: two 15 MB user attributes, then Tell: the trial became unreadable."""

    def attr(key: str, megabytes: float) -> api.SetTrialUserAttrRequest:
        text = json.dumps("x" * int(megabytes * (1 << 20)))
        return api.SetTrialUserAttrRequest(
            study="s", trial_number=running, key=key, value_json=text
        )

    refused(coordinator, stub.SetTrialUserAttr, attr("a", 15), EXHAUSTED, "value_json")
    stub.SetTrialUserAttr(attr("a", 2.5))
    refused(coordinator, stub.SetTrialUserAttr, attr("b", 2.5), EXHAUSTED, "value_json")
    stub.SetTrialUserAttr(attr("a", 3.5))  # replacing a value counts only the difference
    enqueue = api.EnqueueTrialRequest(study="s", user_attrs={"a": attr("a", 5).value_json})
    refused(coordinator, stub.EnqueueTrial, enqueue, EXHAUSTED, "user_attrs")
    stub.Tell(
        api.TellRequest(study="s", trial_number=running, state=pb.TRIAL_STATE_COMPLETE, values=[1])
    )
    assert stub.GetTrial(api.GetTrialRequest(study="s", trial_number=running)).user_attrs["a"]
    assert len(stub.GetBestTrials(api.GetBestTrialsRequest(study="s")).trials) == 1
    assert len(stub.ListTrials(api.ListTrialsRequest(study="s")).trials) == 1


def test_reports_and_suggestions_count_toward_a_trials_size(
    coordinator, stub, running, monkeypatch
) -> None:
    monkeypatch.setattr(limits, "MAX_TRIAL_BYTES", 4000)
    step = 0
    with pytest.raises(grpc.RpcError) as info:
        for step in range(1000):  # noqa: B007
            stub.Report(api.ReportRequest(study="s", trial_number=running, step=step, value=1.0))
    assert info.value.code() == EXHAUSTED and info.value.details().startswith("step")
    trial = stub.GetTrial(api.GetTrialRequest(study="s", trial_number=running))
    assert len(trial.intermediate_values) == step > 10
    many = pb.Distribution(
        categorical_distribution=pb.CategoricalDistribution(
            choices=[pb.ParamValue(string_value=f"choice-{i}") for i in range(1000)]
        )
    )
    suggest = api.SuggestRequest(study="s", trial_number=running, name="c", distribution=many)
    refused(coordinator, stub.Suggest, suggest, EXHAUSTED, "name")
    space = pb.SearchSpace(params={"c": many})
    refused(
        coordinator,
        stub.Ask,
        api.AskRequest(study="s", search_space=space),
        EXHAUSTED,
        "search_space",
    )


def test_list_trials_pages_stop_before_a_message_fills(stub) -> None:
    """Five trials of 3.5 MB: one page of all of them would not fit in a message."""
    stub.CreateStudy(api.CreateStudyRequest(name="big", directions=[pb.DIRECTION_MINIMIZE]))
    value = json.dumps("x" * int(3.5 * (1 << 20)))
    for _ in range(5):
        number = stub.Ask(api.AskRequest(study="big")).trial.number
        request = api.SetTrialUserAttrRequest(
            study="big", trial_number=number, key="k", value_json=value
        )
        stub.SetTrialUserAttr(request)
    seen: list[int] = []
    token = ""
    pages = 0
    while True:
        page = stub.ListTrials(api.ListTrialsRequest(study="big", page_token=token))
        seen += [t.number for t in page.trials]
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert seen == list(range(5)) and pages >= 3
