from hpo.v1 import study_pb2 as _study_pb2
from hpo.v1 import tracking_pb2 as _tracking_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CreateStudyRequest(_message.Message):
    __slots__ = ("name", "directions", "sampler", "pruner", "search_space", "trial_budget", "retry_budget", "lease_seconds", "load_if_exists", "warm_start")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DIRECTIONS_FIELD_NUMBER: _ClassVar[int]
    SAMPLER_FIELD_NUMBER: _ClassVar[int]
    PRUNER_FIELD_NUMBER: _ClassVar[int]
    SEARCH_SPACE_FIELD_NUMBER: _ClassVar[int]
    TRIAL_BUDGET_FIELD_NUMBER: _ClassVar[int]
    RETRY_BUDGET_FIELD_NUMBER: _ClassVar[int]
    LEASE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    LOAD_IF_EXISTS_FIELD_NUMBER: _ClassVar[int]
    WARM_START_FIELD_NUMBER: _ClassVar[int]
    name: str
    directions: _containers.RepeatedScalarFieldContainer[_study_pb2.Direction]
    sampler: _study_pb2.AlgorithmSpec
    pruner: _study_pb2.AlgorithmSpec
    search_space: _study_pb2.SearchSpace
    trial_budget: int
    retry_budget: int
    lease_seconds: float
    load_if_exists: bool
    warm_start: _study_pb2.WarmStart
    def __init__(self, name: _Optional[str] = ..., directions: _Optional[_Iterable[_Union[_study_pb2.Direction, str]]] = ..., sampler: _Optional[_Union[_study_pb2.AlgorithmSpec, _Mapping]] = ..., pruner: _Optional[_Union[_study_pb2.AlgorithmSpec, _Mapping]] = ..., search_space: _Optional[_Union[_study_pb2.SearchSpace, _Mapping]] = ..., trial_budget: _Optional[int] = ..., retry_budget: _Optional[int] = ..., lease_seconds: _Optional[float] = ..., load_if_exists: _Optional[bool] = ..., warm_start: _Optional[_Union[_study_pb2.WarmStart, _Mapping]] = ...) -> None: ...

class GetStudyRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ListStudiesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListStudiesResponse(_message.Message):
    __slots__ = ("studies",)
    STUDIES_FIELD_NUMBER: _ClassVar[int]
    studies: _containers.RepeatedCompositeFieldContainer[_study_pb2.Study]
    def __init__(self, studies: _Optional[_Iterable[_Union[_study_pb2.Study, _Mapping]]] = ...) -> None: ...

class DeleteStudyRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DeleteStudyResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class AskRequest(_message.Message):
    __slots__ = ("study", "client_id", "search_space", "lineage")
    STUDY_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    SEARCH_SPACE_FIELD_NUMBER: _ClassVar[int]
    LINEAGE_FIELD_NUMBER: _ClassVar[int]
    study: str
    client_id: str
    search_space: _study_pb2.SearchSpace
    lineage: _tracking_pb2.Lineage
    def __init__(self, study: _Optional[str] = ..., client_id: _Optional[str] = ..., search_space: _Optional[_Union[_study_pb2.SearchSpace, _Mapping]] = ..., lineage: _Optional[_Union[_tracking_pb2.Lineage, _Mapping]] = ...) -> None: ...

class AskResponse(_message.Message):
    __slots__ = ("trial", "budget_spent", "heartbeat_seconds", "proposals")
    TRIAL_FIELD_NUMBER: _ClassVar[int]
    BUDGET_SPENT_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    PROPOSALS_FIELD_NUMBER: _ClassVar[int]
    trial: _study_pb2.Trial
    budget_spent: bool
    heartbeat_seconds: float
    proposals: _containers.RepeatedCompositeFieldContainer[_study_pb2.Param]
    def __init__(self, trial: _Optional[_Union[_study_pb2.Trial, _Mapping]] = ..., budget_spent: _Optional[bool] = ..., heartbeat_seconds: _Optional[float] = ..., proposals: _Optional[_Iterable[_Union[_study_pb2.Param, _Mapping]]] = ...) -> None: ...

class SuggestRequest(_message.Message):
    __slots__ = ("study", "trial_number", "name", "distribution", "study_id", "used")
    STUDY_FIELD_NUMBER: _ClassVar[int]
    TRIAL_NUMBER_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DISTRIBUTION_FIELD_NUMBER: _ClassVar[int]
    STUDY_ID_FIELD_NUMBER: _ClassVar[int]
    USED_FIELD_NUMBER: _ClassVar[int]
    study: str
    trial_number: int
    name: str
    distribution: _study_pb2.Distribution
    study_id: int
    used: _containers.RepeatedCompositeFieldContainer[_study_pb2.Param]
    def __init__(self, study: _Optional[str] = ..., trial_number: _Optional[int] = ..., name: _Optional[str] = ..., distribution: _Optional[_Union[_study_pb2.Distribution, _Mapping]] = ..., study_id: _Optional[int] = ..., used: _Optional[_Iterable[_Union[_study_pb2.Param, _Mapping]]] = ...) -> None: ...

class SuggestResponse(_message.Message):
    __slots__ = ("value",)
    VALUE_FIELD_NUMBER: _ClassVar[int]
    value: _study_pb2.ParamValue
    def __init__(self, value: _Optional[_Union[_study_pb2.ParamValue, _Mapping]] = ...) -> None: ...

class ReportRequest(_message.Message):
    __slots__ = ("study", "trial_number", "step", "value", "request_id", "study_id", "values", "used")
    STUDY_FIELD_NUMBER: _ClassVar[int]
    TRIAL_NUMBER_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    STUDY_ID_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    USED_FIELD_NUMBER: _ClassVar[int]
    study: str
    trial_number: int
    step: int
    value: float
    request_id: str
    study_id: int
    values: _containers.RepeatedScalarFieldContainer[float]
    used: _containers.RepeatedCompositeFieldContainer[_study_pb2.Param]
    def __init__(self, study: _Optional[str] = ..., trial_number: _Optional[int] = ..., step: _Optional[int] = ..., value: _Optional[float] = ..., request_id: _Optional[str] = ..., study_id: _Optional[int] = ..., values: _Optional[_Iterable[float]] = ..., used: _Optional[_Iterable[_Union[_study_pb2.Param, _Mapping]]] = ...) -> None: ...

class ReportResponse(_message.Message):
    __slots__ = ("should_prune",)
    SHOULD_PRUNE_FIELD_NUMBER: _ClassVar[int]
    should_prune: bool
    def __init__(self, should_prune: _Optional[bool] = ...) -> None: ...

class TellRequest(_message.Message):
    __slots__ = ("study", "trial_number", "state", "values", "request_id", "fail_reason", "study_id", "used")
    STUDY_FIELD_NUMBER: _ClassVar[int]
    TRIAL_NUMBER_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    FAIL_REASON_FIELD_NUMBER: _ClassVar[int]
    STUDY_ID_FIELD_NUMBER: _ClassVar[int]
    USED_FIELD_NUMBER: _ClassVar[int]
    study: str
    trial_number: int
    state: _study_pb2.TrialState
    values: _containers.RepeatedScalarFieldContainer[float]
    request_id: str
    fail_reason: str
    study_id: int
    used: _containers.RepeatedCompositeFieldContainer[_study_pb2.Param]
    def __init__(self, study: _Optional[str] = ..., trial_number: _Optional[int] = ..., state: _Optional[_Union[_study_pb2.TrialState, str]] = ..., values: _Optional[_Iterable[float]] = ..., request_id: _Optional[str] = ..., fail_reason: _Optional[str] = ..., study_id: _Optional[int] = ..., used: _Optional[_Iterable[_Union[_study_pb2.Param, _Mapping]]] = ...) -> None: ...

class TellAndAskRequest(_message.Message):
    __slots__ = ("tell", "ask")
    TELL_FIELD_NUMBER: _ClassVar[int]
    ASK_FIELD_NUMBER: _ClassVar[int]
    tell: TellRequest
    ask: AskRequest
    def __init__(self, tell: _Optional[_Union[TellRequest, _Mapping]] = ..., ask: _Optional[_Union[AskRequest, _Mapping]] = ...) -> None: ...

class TellAndAskResponse(_message.Message):
    __slots__ = ("told", "next")
    TOLD_FIELD_NUMBER: _ClassVar[int]
    NEXT_FIELD_NUMBER: _ClassVar[int]
    told: _study_pb2.Trial
    next: AskResponse
    def __init__(self, told: _Optional[_Union[_study_pb2.Trial, _Mapping]] = ..., next: _Optional[_Union[AskResponse, _Mapping]] = ...) -> None: ...

class HeartbeatRequest(_message.Message):
    __slots__ = ("study", "trial_number", "study_id")
    STUDY_FIELD_NUMBER: _ClassVar[int]
    TRIAL_NUMBER_FIELD_NUMBER: _ClassVar[int]
    STUDY_ID_FIELD_NUMBER: _ClassVar[int]
    study: str
    trial_number: int
    study_id: int
    def __init__(self, study: _Optional[str] = ..., trial_number: _Optional[int] = ..., study_id: _Optional[int] = ...) -> None: ...

class HeartbeatResponse(_message.Message):
    __slots__ = ("lease_seconds",)
    LEASE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    lease_seconds: float
    def __init__(self, lease_seconds: _Optional[float] = ...) -> None: ...

class SetTrialUserAttrRequest(_message.Message):
    __slots__ = ("study", "trial_number", "key", "value_json", "study_id")
    STUDY_FIELD_NUMBER: _ClassVar[int]
    TRIAL_NUMBER_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_JSON_FIELD_NUMBER: _ClassVar[int]
    STUDY_ID_FIELD_NUMBER: _ClassVar[int]
    study: str
    trial_number: int
    key: str
    value_json: str
    study_id: int
    def __init__(self, study: _Optional[str] = ..., trial_number: _Optional[int] = ..., key: _Optional[str] = ..., value_json: _Optional[str] = ..., study_id: _Optional[int] = ...) -> None: ...

class SetTrialUserAttrResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetTrialRequest(_message.Message):
    __slots__ = ("study", "trial_number")
    STUDY_FIELD_NUMBER: _ClassVar[int]
    TRIAL_NUMBER_FIELD_NUMBER: _ClassVar[int]
    study: str
    trial_number: int
    def __init__(self, study: _Optional[str] = ..., trial_number: _Optional[int] = ...) -> None: ...

class ListTrialsRequest(_message.Message):
    __slots__ = ("study", "states", "page_size", "page_token")
    STUDY_FIELD_NUMBER: _ClassVar[int]
    STATES_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    study: str
    states: _containers.RepeatedScalarFieldContainer[_study_pb2.TrialState]
    page_size: int
    page_token: str
    def __init__(self, study: _Optional[str] = ..., states: _Optional[_Iterable[_Union[_study_pb2.TrialState, str]]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListTrialsResponse(_message.Message):
    __slots__ = ("trials", "next_page_token")
    TRIALS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    trials: _containers.RepeatedCompositeFieldContainer[_study_pb2.Trial]
    next_page_token: str
    def __init__(self, trials: _Optional[_Iterable[_Union[_study_pb2.Trial, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetBestTrialsRequest(_message.Message):
    __slots__ = ("study",)
    STUDY_FIELD_NUMBER: _ClassVar[int]
    study: str
    def __init__(self, study: _Optional[str] = ...) -> None: ...

class GetBestTrialsResponse(_message.Message):
    __slots__ = ("trials",)
    TRIALS_FIELD_NUMBER: _ClassVar[int]
    trials: _containers.RepeatedCompositeFieldContainer[_study_pb2.Trial]
    def __init__(self, trials: _Optional[_Iterable[_Union[_study_pb2.Trial, _Mapping]]] = ...) -> None: ...

class EnqueueTrialRequest(_message.Message):
    __slots__ = ("study", "params", "user_attrs")
    class ParamsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _study_pb2.ParamValue
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_study_pb2.ParamValue, _Mapping]] = ...) -> None: ...
    class UserAttrsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    STUDY_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    USER_ATTRS_FIELD_NUMBER: _ClassVar[int]
    study: str
    params: _containers.MessageMap[str, _study_pb2.ParamValue]
    user_attrs: _containers.ScalarMap[str, str]
    def __init__(self, study: _Optional[str] = ..., params: _Optional[_Mapping[str, _study_pb2.ParamValue]] = ..., user_attrs: _Optional[_Mapping[str, str]] = ...) -> None: ...
