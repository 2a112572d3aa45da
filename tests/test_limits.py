"""Limits: oversized messages and too many parameters get RESOURCE_EXHAUSTED, writing nothing."""

from __future__ import annotations

import grpc
import pytest

from hpo.server import Coordinator
from hpo.service._service import MAX_PARAMS_PER_TRIAL
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
