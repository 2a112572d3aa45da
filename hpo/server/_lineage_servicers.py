"""gRPC servicers of the Tracking and Registry services (thin: decode, call, encode)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from google.protobuf import json_format
from google.protobuf.timestamp_pb2 import Timestamp

from hpo.errors import InvalidArgumentError
from hpo.service import RegistryService, TrackingService
from hpo.storage._lineage import ArtifactRow, DataRow, TrialRecords
from hpo.storage._registry import VersionRow
from hpo.v1 import registry_pb2 as reg
from hpo.v1 import registry_pb2_grpc as reg_grpc
from hpo.v1 import tracking_pb2 as trk
from hpo.v1 import tracking_pb2_grpc as trk_grpc


def lineage_to_json(message: trk.Lineage) -> str:
    return json_format.MessageToJson(message, preserving_proto_field_name=True, indent=None)


def _artifact_pb(row: ArtifactRow) -> trk.ArtifactRecord:
    return trk.ArtifactRecord(name=row.name, digest=row.digest, size_bytes=row.size_bytes)


class TrackingServicer(trk_grpc.TrackingServicer):
    def __init__(self, service: TrackingService) -> None:
        self._service = service

    def RecordLineage(self, request: trk.RecordLineageRequest, context: Any) -> Any:
        self._service.record_lineage(
            request.study, request.trial_number, lineage_to_json(request.lineage)
        )
        return trk.RecordLineageResponse()

    def LogData(self, request: trk.LogDataRequest, context: Any) -> Any:
        d = request.data
        row = DataRow(d.name, d.digest, d.kind, d.size_bytes, d.source)
        self._service.log_data(request.study, request.trial_number, row)
        return trk.LogDataResponse()

    def LogMetrics(self, request: trk.LogMetricsRequest, context: Any) -> Any:
        values = [(m.name, m.step, m.value) for m in request.metrics]
        self._service.log_metrics(request.study, request.trial_number, values)
        return trk.LogMetricsResponse()

    def UploadArtifact(
        self, request_iterator: Iterator[trk.UploadArtifactRequest], context: Any
    ) -> Any:
        first = next(request_iterator, None)
        if first is None or first.WhichOneof("part") != "header":
            raise InvalidArgumentError.for_field("header", "the first message must be the header")
        header = first.header

        def chunks() -> Iterator[bytes]:
            for message in request_iterator:
                if message.WhichOneof("part") != "chunk":
                    raise InvalidArgumentError.for_field("chunk", "only one header is allowed")
                yield message.chunk

        row = self._service.upload_artifact(
            header.study, header.trial_number, header.name, header.expected_digest, chunks()
        )
        return _artifact_pb(row)

    def DownloadArtifact(self, request: trk.DownloadArtifactRequest, context: Any) -> Any:
        for data in self._service.download_artifact(request.digest):
            yield trk.ArtifactChunk(data=data)

    def GetTrialLineage(self, request: trk.GetTrialLineageRequest, context: Any) -> Any:
        trial, records = self._service.records(request.study, request.trial_number)
        return trial_lineage_pb(request.study, trial.number, records)


def trial_lineage_pb(study: str, number: int, records: TrialRecords) -> trk.TrialLineage:
    """Everything recorded for a trial, as the wire carries it."""
    message = trk.TrialLineage(
        study=study,
        trial_number=number,
        data=[
            trk.DataRecord(
                name=d.name, digest=d.digest, kind=d.kind, size_bytes=d.size_bytes, source=d.source
            )
            for d in records.data
        ],
        metrics=[trk.Metric(name=n, step=s, value=v) for n, s, v in records.metrics],
        artifacts=[_artifact_pb(a) for a in records.artifacts],
    )
    if records.lineage:
        json_format.Parse(records.lineage, message.lineage)
    return message


def version_pb(row: VersionRow) -> reg.ModelVersion:
    created = Timestamp()
    created.FromNanoseconds(int(row.created_at * 1e9))
    return reg.ModelVersion(
        name=row.name,
        version=row.version,
        study=row.study,
        trial_number=row.trial_number,
        artifact=trk.ArtifactRecord(
            name=row.artifact_name, digest=row.digest, size_bytes=row.size_bytes
        ),
        aliases=list(row.aliases),
        create_time=created,
    )


class RegistryServicer(reg_grpc.RegistryServicer):
    def __init__(self, service: RegistryService) -> None:
        self._service = service

    def RegisterModel(self, request: reg.RegisterModelRequest, context: Any) -> Any:
        number = request.trial_number if request.HasField("trial_number") else None
        row = self._service.register(
            request.name, request.study, number, request.artifact_name, request.request_id
        )
        return version_pb(row)

    def SetAlias(self, request: reg.SetAliasRequest, context: Any) -> Any:
        return version_pb(self._service.set_alias(request.name, request.version, request.alias))

    def GetModelVersion(self, request: reg.GetModelVersionRequest, context: Any) -> Any:
        selector = request.WhichOneof("selector")
        row = self._service.get(
            request.name,
            version=request.version if selector == "version" else None,
            alias=request.alias if selector == "alias" else "",
        )
        return version_pb(row)

    def ListModels(self, request: reg.ListModelsRequest, context: Any) -> Any:
        models: dict[str, reg.RegisteredModel] = {}
        for row in self._service.list_versions():
            models.setdefault(row.name, reg.RegisteredModel(name=row.name)).versions.append(
                version_pb(row)
            )
        return reg.ListModelsResponse(models=list(models.values()))


__all__ = ["RegistryServicer", "TrackingServicer", "lineage_to_json", "version_pb"]
