import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Direction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DIRECTION_UNSPECIFIED: _ClassVar[Direction]
    DIRECTION_MINIMIZE: _ClassVar[Direction]
    DIRECTION_MAXIMIZE: _ClassVar[Direction]

class TrialState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRIAL_STATE_UNSPECIFIED: _ClassVar[TrialState]
    TRIAL_STATE_RUNNING: _ClassVar[TrialState]
    TRIAL_STATE_COMPLETE: _ClassVar[TrialState]
    TRIAL_STATE_PRUNED: _ClassVar[TrialState]
    TRIAL_STATE_FAILED: _ClassVar[TrialState]
    TRIAL_STATE_WAITING: _ClassVar[TrialState]
DIRECTION_UNSPECIFIED: Direction
DIRECTION_MINIMIZE: Direction
DIRECTION_MAXIMIZE: Direction
TRIAL_STATE_UNSPECIFIED: TrialState
TRIAL_STATE_RUNNING: TrialState
TRIAL_STATE_COMPLETE: TrialState
TRIAL_STATE_PRUNED: TrialState
TRIAL_STATE_FAILED: TrialState
TRIAL_STATE_WAITING: TrialState

class ParamValue(_message.Message):
    __slots__ = ("double_value", "int_value", "string_value", "bool_value", "null_value")
    DOUBLE_VALUE_FIELD_NUMBER: _ClassVar[int]
    INT_VALUE_FIELD_NUMBER: _ClassVar[int]
    STRING_VALUE_FIELD_NUMBER: _ClassVar[int]
    BOOL_VALUE_FIELD_NUMBER: _ClassVar[int]
    NULL_VALUE_FIELD_NUMBER: _ClassVar[int]
    double_value: float
    int_value: int
    string_value: str
    bool_value: bool
    null_value: bool
    def __init__(self, double_value: _Optional[float] = ..., int_value: _Optional[int] = ..., string_value: _Optional[str] = ..., bool_value: _Optional[bool] = ..., null_value: _Optional[bool] = ...) -> None: ...

class FloatDistribution(_message.Message):
    __slots__ = ("low", "high", "log", "step")
    LOW_FIELD_NUMBER: _ClassVar[int]
    HIGH_FIELD_NUMBER: _ClassVar[int]
    LOG_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    low: float
    high: float
    log: bool
    step: float
    def __init__(self, low: _Optional[float] = ..., high: _Optional[float] = ..., log: _Optional[bool] = ..., step: _Optional[float] = ...) -> None: ...

class IntDistribution(_message.Message):
    __slots__ = ("low", "high", "log", "step")
    LOW_FIELD_NUMBER: _ClassVar[int]
    HIGH_FIELD_NUMBER: _ClassVar[int]
    LOG_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    low: int
    high: int
    log: bool
    step: int
    def __init__(self, low: _Optional[int] = ..., high: _Optional[int] = ..., log: _Optional[bool] = ..., step: _Optional[int] = ...) -> None: ...

class CategoricalDistribution(_message.Message):
    __slots__ = ("choices",)
    CHOICES_FIELD_NUMBER: _ClassVar[int]
    choices: _containers.RepeatedCompositeFieldContainer[ParamValue]
    def __init__(self, choices: _Optional[_Iterable[_Union[ParamValue, _Mapping]]] = ...) -> None: ...

class Distribution(_message.Message):
    __slots__ = ("float_distribution", "int_distribution", "categorical_distribution")
    FLOAT_DISTRIBUTION_FIELD_NUMBER: _ClassVar[int]
    INT_DISTRIBUTION_FIELD_NUMBER: _ClassVar[int]
    CATEGORICAL_DISTRIBUTION_FIELD_NUMBER: _ClassVar[int]
    float_distribution: FloatDistribution
    int_distribution: IntDistribution
    categorical_distribution: CategoricalDistribution
    def __init__(self, float_distribution: _Optional[_Union[FloatDistribution, _Mapping]] = ..., int_distribution: _Optional[_Union[IntDistribution, _Mapping]] = ..., categorical_distribution: _Optional[_Union[CategoricalDistribution, _Mapping]] = ...) -> None: ...

class Param(_message.Message):
    __slots__ = ("name", "distribution", "value")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DISTRIBUTION_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    name: str
    distribution: Distribution
    value: ParamValue
    def __init__(self, name: _Optional[str] = ..., distribution: _Optional[_Union[Distribution, _Mapping]] = ..., value: _Optional[_Union[ParamValue, _Mapping]] = ...) -> None: ...

class SearchSpace(_message.Message):
    __slots__ = ("params",)
    class ParamsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: Distribution
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[Distribution, _Mapping]] = ...) -> None: ...
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    params: _containers.MessageMap[str, Distribution]
    def __init__(self, params: _Optional[_Mapping[str, Distribution]] = ...) -> None: ...

class AlgorithmSpec(_message.Message):
    __slots__ = ("name", "options_json")
    NAME_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_JSON_FIELD_NUMBER: _ClassVar[int]
    name: str
    options_json: str
    def __init__(self, name: _Optional[str] = ..., options_json: _Optional[str] = ...) -> None: ...

class Study(_message.Message):
    __slots__ = ("name", "directions", "sampler", "pruner", "search_space", "trial_budget", "retry_budget", "lease_seconds", "create_time", "trial_counts", "study_id", "warm_start")
    class TrialCountsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    DIRECTIONS_FIELD_NUMBER: _ClassVar[int]
    SAMPLER_FIELD_NUMBER: _ClassVar[int]
    PRUNER_FIELD_NUMBER: _ClassVar[int]
    SEARCH_SPACE_FIELD_NUMBER: _ClassVar[int]
    TRIAL_BUDGET_FIELD_NUMBER: _ClassVar[int]
    RETRY_BUDGET_FIELD_NUMBER: _ClassVar[int]
    LEASE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    TRIAL_COUNTS_FIELD_NUMBER: _ClassVar[int]
    STUDY_ID_FIELD_NUMBER: _ClassVar[int]
    WARM_START_FIELD_NUMBER: _ClassVar[int]
    name: str
    directions: _containers.RepeatedScalarFieldContainer[Direction]
    sampler: AlgorithmSpec
    pruner: AlgorithmSpec
    search_space: SearchSpace
    trial_budget: int
    retry_budget: int
    lease_seconds: float
    create_time: _timestamp_pb2.Timestamp
    trial_counts: _containers.ScalarMap[str, int]
    study_id: int
    warm_start: WarmStartRecord
    def __init__(self, name: _Optional[str] = ..., directions: _Optional[_Iterable[_Union[Direction, str]]] = ..., sampler: _Optional[_Union[AlgorithmSpec, _Mapping]] = ..., pruner: _Optional[_Union[AlgorithmSpec, _Mapping]] = ..., search_space: _Optional[_Union[SearchSpace, _Mapping]] = ..., trial_budget: _Optional[int] = ..., retry_budget: _Optional[int] = ..., lease_seconds: _Optional[float] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., trial_counts: _Optional[_Mapping[str, int]] = ..., study_id: _Optional[int] = ..., warm_start: _Optional[_Union[WarmStartRecord, _Mapping]] = ...) -> None: ...

class WarmStart(_message.Message):
    __slots__ = ("auto", "studies", "data_digests")
    AUTO_FIELD_NUMBER: _ClassVar[int]
    STUDIES_FIELD_NUMBER: _ClassVar[int]
    DATA_DIGESTS_FIELD_NUMBER: _ClassVar[int]
    auto: bool
    studies: _containers.RepeatedScalarFieldContainer[str]
    data_digests: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, auto: _Optional[bool] = ..., studies: _Optional[_Iterable[str]] = ..., data_digests: _Optional[_Iterable[str]] = ...) -> None: ...

class WarmStartSource(_message.Message):
    __slots__ = ("study", "reason", "trials", "status")
    STUDY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    TRIALS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    study: str
    reason: str
    trials: int
    status: str
    def __init__(self, study: _Optional[str] = ..., reason: _Optional[str] = ..., trials: _Optional[int] = ..., status: _Optional[str] = ...) -> None: ...

class WarmStartRecord(_message.Message):
    __slots__ = ("requested", "sources")
    REQUESTED_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    requested: WarmStart
    sources: _containers.RepeatedCompositeFieldContainer[WarmStartSource]
    def __init__(self, requested: _Optional[_Union[WarmStart, _Mapping]] = ..., sources: _Optional[_Iterable[_Union[WarmStartSource, _Mapping]]] = ...) -> None: ...

class IntermediateValue(_message.Message):
    __slots__ = ("step", "value", "values")
    STEP_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    step: int
    value: float
    values: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, step: _Optional[int] = ..., value: _Optional[float] = ..., values: _Optional[_Iterable[float]] = ...) -> None: ...

class Trial(_message.Message):
    __slots__ = ("study", "number", "state", "values", "params", "intermediate_values", "start_time", "complete_time", "user_attrs", "client_id", "retry_of", "fail_reason", "study_id")
    class UserAttrsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    STUDY_FIELD_NUMBER: _ClassVar[int]
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    INTERMEDIATE_VALUES_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    COMPLETE_TIME_FIELD_NUMBER: _ClassVar[int]
    USER_ATTRS_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    RETRY_OF_FIELD_NUMBER: _ClassVar[int]
    FAIL_REASON_FIELD_NUMBER: _ClassVar[int]
    STUDY_ID_FIELD_NUMBER: _ClassVar[int]
    study: str
    number: int
    state: TrialState
    values: _containers.RepeatedScalarFieldContainer[float]
    params: _containers.RepeatedCompositeFieldContainer[Param]
    intermediate_values: _containers.RepeatedCompositeFieldContainer[IntermediateValue]
    start_time: _timestamp_pb2.Timestamp
    complete_time: _timestamp_pb2.Timestamp
    user_attrs: _containers.ScalarMap[str, str]
    client_id: str
    retry_of: int
    fail_reason: str
    study_id: int
    def __init__(self, study: _Optional[str] = ..., number: _Optional[int] = ..., state: _Optional[_Union[TrialState, str]] = ..., values: _Optional[_Iterable[float]] = ..., params: _Optional[_Iterable[_Union[Param, _Mapping]]] = ..., intermediate_values: _Optional[_Iterable[_Union[IntermediateValue, _Mapping]]] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., complete_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., user_attrs: _Optional[_Mapping[str, str]] = ..., client_id: _Optional[str] = ..., retry_of: _Optional[int] = ..., fail_reason: _Optional[str] = ..., study_id: _Optional[int] = ...) -> None: ...
