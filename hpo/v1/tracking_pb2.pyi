from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CodeVersion(_message.Message):
    __slots__ = ("has_git", "commit", "branch", "dirty", "diff_digest")
    HAS_GIT_FIELD_NUMBER: _ClassVar[int]
    COMMIT_FIELD_NUMBER: _ClassVar[int]
    BRANCH_FIELD_NUMBER: _ClassVar[int]
    DIRTY_FIELD_NUMBER: _ClassVar[int]
    DIFF_DIGEST_FIELD_NUMBER: _ClassVar[int]
    has_git: bool
    commit: str
    branch: str
    dirty: bool
    diff_digest: str
    def __init__(self, has_git: _Optional[bool] = ..., commit: _Optional[str] = ..., branch: _Optional[str] = ..., dirty: _Optional[bool] = ..., diff_digest: _Optional[str] = ...) -> None: ...

class Environment(_message.Message):
    __slots__ = ("python", "platform", "hostname", "packages", "gpus", "ray_node_id")
    class PackagesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    PYTHON_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    HOSTNAME_FIELD_NUMBER: _ClassVar[int]
    PACKAGES_FIELD_NUMBER: _ClassVar[int]
    GPUS_FIELD_NUMBER: _ClassVar[int]
    RAY_NODE_ID_FIELD_NUMBER: _ClassVar[int]
    python: str
    platform: str
    hostname: str
    packages: _containers.ScalarMap[str, str]
    gpus: _containers.RepeatedScalarFieldContainer[str]
    ray_node_id: str
    def __init__(self, python: _Optional[str] = ..., platform: _Optional[str] = ..., hostname: _Optional[str] = ..., packages: _Optional[_Mapping[str, str]] = ..., gpus: _Optional[_Iterable[str]] = ..., ray_node_id: _Optional[str] = ...) -> None: ...

class Lineage(_message.Message):
    __slots__ = ("code", "environment", "seed")
    CODE_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    code: CodeVersion
    environment: Environment
    seed: int
    def __init__(self, code: _Optional[_Union[CodeVersion, _Mapping]] = ..., environment: _Optional[_Union[Environment, _Mapping]] = ..., seed: _Optional[int] = ...) -> None: ...

class DataRecord(_message.Message):
    __slots__ = ("name", "digest", "kind", "size_bytes", "source")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    name: str
    digest: str
    kind: str
    size_bytes: int
    source: str
    def __init__(self, name: _Optional[str] = ..., digest: _Optional[str] = ..., kind: _Optional[str] = ..., size_bytes: _Optional[int] = ..., source: _Optional[str] = ...) -> None: ...

class Metric(_message.Message):
    __slots__ = ("name", "step", "value")
    NAME_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    name: str
    step: int
    value: float
    def __init__(self, name: _Optional[str] = ..., step: _Optional[int] = ..., value: _Optional[float] = ...) -> None: ...

class ArtifactRecord(_message.Message):
    __slots__ = ("name", "digest", "size_bytes")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    name: str
    digest: str
    size_bytes: int
    def __init__(self, name: _Optional[str] = ..., digest: _Optional[str] = ..., size_bytes: _Optional[int] = ...) -> None: ...

class TrialLineage(_message.Message):
    __slots__ = ("study", "trial_number", "lineage", "data", "metrics", "artifacts")
    STUDY_FIELD_NUMBER: _ClassVar[int]
    TRIAL_NUMBER_FIELD_NUMBER: _ClassVar[int]
    LINEAGE_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    ARTIFACTS_FIELD_NUMBER: _ClassVar[int]
    study: str
    trial_number: int
    lineage: Lineage
    data: _containers.RepeatedCompositeFieldContainer[DataRecord]
    metrics: _containers.RepeatedCompositeFieldContainer[Metric]
    artifacts: _containers.RepeatedCompositeFieldContainer[ArtifactRecord]
    def __init__(self, study: _Optional[str] = ..., trial_number: _Optional[int] = ..., lineage: _Optional[_Union[Lineage, _Mapping]] = ..., data: _Optional[_Iterable[_Union[DataRecord, _Mapping]]] = ..., metrics: _Optional[_Iterable[_Union[Metric, _Mapping]]] = ..., artifacts: _Optional[_Iterable[_Union[ArtifactRecord, _Mapping]]] = ...) -> None: ...

class RecordLineageRequest(_message.Message):
    __slots__ = ("study", "trial_number", "lineage")
    STUDY_FIELD_NUMBER: _ClassVar[int]
    TRIAL_NUMBER_FIELD_NUMBER: _ClassVar[int]
    LINEAGE_FIELD_NUMBER: _ClassVar[int]
    study: str
    trial_number: int
    lineage: Lineage
    def __init__(self, study: _Optional[str] = ..., trial_number: _Optional[int] = ..., lineage: _Optional[_Union[Lineage, _Mapping]] = ...) -> None: ...

class RecordLineageResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class LogDataRequest(_message.Message):
    __slots__ = ("study", "trial_number", "data")
    STUDY_FIELD_NUMBER: _ClassVar[int]
    TRIAL_NUMBER_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    study: str
    trial_number: int
    data: DataRecord
    def __init__(self, study: _Optional[str] = ..., trial_number: _Optional[int] = ..., data: _Optional[_Union[DataRecord, _Mapping]] = ...) -> None: ...

class LogDataResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class LogMetricsRequest(_message.Message):
    __slots__ = ("study", "trial_number", "metrics")
    STUDY_FIELD_NUMBER: _ClassVar[int]
    TRIAL_NUMBER_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    study: str
    trial_number: int
    metrics: _containers.RepeatedCompositeFieldContainer[Metric]
    def __init__(self, study: _Optional[str] = ..., trial_number: _Optional[int] = ..., metrics: _Optional[_Iterable[_Union[Metric, _Mapping]]] = ...) -> None: ...

class LogMetricsResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ArtifactHeader(_message.Message):
    __slots__ = ("study", "trial_number", "name", "expected_digest")
    STUDY_FIELD_NUMBER: _ClassVar[int]
    TRIAL_NUMBER_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_DIGEST_FIELD_NUMBER: _ClassVar[int]
    study: str
    trial_number: int
    name: str
    expected_digest: str
    def __init__(self, study: _Optional[str] = ..., trial_number: _Optional[int] = ..., name: _Optional[str] = ..., expected_digest: _Optional[str] = ...) -> None: ...

class UploadArtifactRequest(_message.Message):
    __slots__ = ("header", "chunk")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    header: ArtifactHeader
    chunk: bytes
    def __init__(self, header: _Optional[_Union[ArtifactHeader, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class DownloadArtifactRequest(_message.Message):
    __slots__ = ("digest",)
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    digest: str
    def __init__(self, digest: _Optional[str] = ...) -> None: ...

class ArtifactChunk(_message.Message):
    __slots__ = ("data",)
    DATA_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    def __init__(self, data: _Optional[bytes] = ...) -> None: ...

class GetTrialLineageRequest(_message.Message):
    __slots__ = ("study", "trial_number")
    STUDY_FIELD_NUMBER: _ClassVar[int]
    TRIAL_NUMBER_FIELD_NUMBER: _ClassVar[int]
    study: str
    trial_number: int
    def __init__(self, study: _Optional[str] = ..., trial_number: _Optional[int] = ...) -> None: ...
