"""The gRPC servicer: decode the request, call the study service, encode the reply.

Errors are not handled here: :class:`~hpo.server._errors.ErrorInterceptor` maps them.
"""

from __future__ import annotations

import re
from typing import Any

from optuna.distributions import BaseDistribution

from hpo.errors import InvalidArgumentError
from hpo.server import _convert as convert
from hpo.server._lineage_servicers import lineage_to_json
from hpo.service import StudyService
from hpo.service import _limits as limits
from hpo.service._trial_loop import TellPayload
from hpo.service._views import AskOutcome
from hpo.v1 import coordinator_pb2 as api
from hpo.v1 import coordinator_pb2_grpc as api_grpc
from hpo.v1 import study_pb2 as pb

DEFAULT_PAGE_SIZE = 1000
MAX_PAGE_SIZE = 10_000
_PAGE_TOKEN = re.compile(r"[0-9]{1,18}")


class CoordinatorServicer(api_grpc.CoordinatorServicer):
    def __init__(self, service: StudyService) -> None:
        self._service = service

    def CreateStudy(self, request: api.CreateStudyRequest, context: Any) -> pb.Study:
        view = self._service.create_study(
            request.name,
            convert.directions_from_pb(request.directions),
            convert.study_config_from_pb(request),
            load_if_exists=request.load_if_exists,
            warm_start=convert.warm_start_from_pb(request),
        )
        return convert.study_to_pb(view)

    def GetStudy(self, request: api.GetStudyRequest, context: Any) -> pb.Study:
        return convert.study_to_pb(self._service.get_study(request.name))

    def ListStudies(self, request: api.ListStudiesRequest, context: Any) -> api.ListStudiesResponse:
        return api.ListStudiesResponse(
            studies=[convert.study_to_pb(v) for v in self._service.list_studies()]
        )

    def DeleteStudy(self, request: api.DeleteStudyRequest, context: Any) -> api.DeleteStudyResponse:
        self._service.delete_study(request.name)
        return api.DeleteStudyResponse()

    def Ask(self, request: api.AskRequest, context: Any) -> api.AskResponse:
        space, lineage = _ask_args(request)
        return _ask_response(self._service.ask(request.study, request.client_id, space, lineage))

    def Suggest(self, request: api.SuggestRequest, context: Any) -> api.SuggestResponse:
        limits.check_name("name", request.name)
        distribution = convert.distribution_from_pb("distribution", request.distribution)
        value = self._service.suggest(
            request.study,
            request.trial_number,
            request.name,
            distribution,
            request.study_id,
            convert.used_from_pb(request.used),
        )
        return api.SuggestResponse(value=convert.value_to_pb(value))

    def Report(self, request: api.ReportRequest, context: Any) -> api.ReportResponse:
        should_prune = self._service.report(
            request.study,
            request.trial_number,
            request.step,
            request.value,
            request.request_id,
            study_id=request.study_id,
            values=list(request.values),
            used=convert.used_from_pb(request.used),
        )
        return api.ReportResponse(should_prune=should_prune)

    def Tell(self, request: api.TellRequest, context: Any) -> pb.Trial:
        payload = _tell_payload(request)
        view = self._service.tell(
            request.study,
            payload.number,
            payload.state,
            payload.values,
            payload.request_id,
            payload.fail_reason,
            request.study_id,
            payload.used,
        )
        return convert.trial_to_pb(view)

    def TellAndAsk(self, request: api.TellAndAskRequest, context: Any) -> api.TellAndAskResponse:
        tell, ask = request.tell, request.ask
        if not tell.request_id:
            raise InvalidArgumentError.for_field(
                "tell.request_id", "must be set (a retry of this call must have one effect)"
            )
        if not ask.client_id:
            raise InvalidArgumentError.for_field(
                "ask.client_id", "must be set (a retry of this call must get the same trial)"
            )
        if ask.study != tell.study:
            raise InvalidArgumentError.for_field(
                "ask.study", f"must be tell.study ({tell.study!r}), not {ask.study!r}"
            )
        space, lineage = _ask_args(ask)
        told, outcome = self._service.tell_and_ask(
            tell.study, _tell_payload(tell), ask.client_id, space, lineage, tell.study_id
        )
        return api.TellAndAskResponse(told=convert.trial_to_pb(told), next=_ask_response(outcome))

    def Heartbeat(self, request: api.HeartbeatRequest, context: Any) -> api.HeartbeatResponse:
        seconds = self._service.heartbeat(request.study, request.trial_number, request.study_id)
        return api.HeartbeatResponse(lease_seconds=seconds)

    def SetTrialUserAttr(
        self, request: api.SetTrialUserAttrRequest, context: Any
    ) -> api.SetTrialUserAttrResponse:
        limits.check_name("key", request.key)
        value = convert.json_from_pb("value_json", request.value_json)
        self._service.set_trial_user_attr(
            request.study, request.trial_number, request.key, value, request.study_id
        )
        return api.SetTrialUserAttrResponse()

    def GetTrial(self, request: api.GetTrialRequest, context: Any) -> pb.Trial:
        return convert.trial_to_pb(self._service.get_trial(request.study, request.trial_number))

    def ListTrials(self, request: api.ListTrialsRequest, context: Any) -> api.ListTrialsResponse:
        if request.page_size < 0:
            raise InvalidArgumentError.for_field("page_size", "must be >= 0")
        offset = _offset_from_token(request.page_token)
        states = [
            convert.trial_state_from_pb(f"states[{i}]", s)
            for i, s in enumerate(request.states)
            if s != pb.TRIAL_STATE_UNSPECIFIED
        ]
        limit = min(request.page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        page = self._service.list_trials(request.study, states, offset, limit)
        response = api.ListTrialsResponse(next_page_token=_token(page.next_offset))
        size = 0
        for i, view in enumerate(page.trials):
            trial = convert.trial_to_pb(view)
            size += trial.ByteSize() + 8
            if i and size > limits.MAX_PAGE_BYTES:  # the rest on the next page
                response.next_page_token = _token(offset + i)
                break
            response.trials.append(trial)
        return response

    def GetBestTrials(
        self, request: api.GetBestTrialsRequest, context: Any
    ) -> api.GetBestTrialsResponse:
        views = self._service.best_trials(request.study)
        return api.GetBestTrialsResponse(trials=[convert.trial_to_pb(v) for v in views])

    def EnqueueTrial(self, request: api.EnqueueTrialRequest, context: Any) -> pb.Trial:
        limits.check_params("params", request.params)
        params = {
            name: convert.value_from_pb(f"params.{name}", value)
            for name, value in sorted(request.params.items())
        }
        for key in request.user_attrs:
            limits.check_name("user_attrs", key)
        user_attrs = {
            key: convert.json_from_pb(f"user_attrs.{key}", text)
            for key, text in request.user_attrs.items()
        }
        limits.check_trial_growth(
            "user_attrs", None, limits.enqueued_trial_bytes(params, user_attrs)
        )
        return convert.trial_to_pb(self._service.enqueue_trial(request.study, params, user_attrs))


def _offset_from_token(token: str) -> int:
    if not token:
        return 0
    if not _PAGE_TOKEN.fullmatch(token):
        raise InvalidArgumentError.for_field("page_token", "not a token from a previous response")
    return int(token)


def _token(offset: int | None) -> str:
    return "" if offset is None else str(offset)


def _ask_args(request: api.AskRequest) -> tuple[dict[str, BaseDistribution] | None, str]:
    """The search space an Ask names, checked (None: the study's), and its lineage as JSON
    ("" when it carries none)."""
    lineage = lineage_to_json(request.lineage) if request.HasField("lineage") else ""
    if not request.HasField("search_space"):
        return None, lineage
    limits.check_params("search_space", request.search_space.params)
    space = convert.search_space_from_pb("search_space", request.search_space)
    limits.check_trial_growth("search_space", None, limits.new_trial_bytes(space, {}))
    return space, lineage


def _ask_response(outcome: AskOutcome) -> api.AskResponse:
    response = api.AskResponse(
        budget_spent=outcome.budget_spent, heartbeat_seconds=outcome.heartbeat_seconds
    )
    if outcome.trial is not None:
        response.trial.CopyFrom(convert.trial_to_pb(outcome.trial))
        response.proposals.extend(convert.param_to_pb(p) for p in outcome.proposals)
    return response


def _tell_payload(request: api.TellRequest) -> TellPayload:
    return TellPayload(
        request.trial_number,
        convert.trial_state_from_pb("state", request.state),
        list(request.values),
        request.request_id,
        request.fail_reason,
        convert.used_from_pb(request.used),
    )
