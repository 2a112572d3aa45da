"""The Tracking and Registry contracts through the generated stubs only: every RPC, its
refusals by status code and field, and nothing written by a refused call."""

from __future__ import annotations

from collections.abc import Iterator

import blake3
import grpc
import pytest
import sqlalchemy as sa

from hpo.server import Coordinator
from hpo.v1 import coordinator_pb2 as api
from hpo.v1 import coordinator_pb2_grpc as api_grpc
from hpo.v1 import registry_pb2 as reg
from hpo.v1 import registry_pb2_grpc as reg_grpc
from hpo.v1 import study_pb2 as pb
from hpo.v1 import tracking_pb2 as trk
from hpo.v1 import tracking_pb2_grpc as trk_grpc

INVALID = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND
PRECONDITION = grpc.StatusCode.FAILED_PRECONDITION
TABLES = (
    "hpo_lineage",
    "hpo_data",
    "hpo_metrics",
    "hpo_artifacts",
    "hpo_model_versions",
    "hpo_model_aliases",
)


@pytest.fixture
def stubs(coordinator: Coordinator) -> Iterator[tuple]:
    with grpc.insecure_channel(coordinator.address) as channel:
        yield (
            api_grpc.CoordinatorStub(channel),
            trk_grpc.TrackingStub(channel),
            reg_grpc.RegistryStub(channel),
        )


def snapshot(coordinator: Coordinator) -> tuple[int, ...]:
    with coordinator.storage.engine.connect() as conn:
        return tuple(
            conn.execute(sa.text(f"SELECT COUNT(*) FROM {t}")).scalar_one() for t in TABLES
        )


def refused(coordinator, call, request, code, field) -> None:
    before = snapshot(coordinator)
    with pytest.raises(grpc.RpcError) as info:
        call(request)
    assert info.value.code() == code, info.value.details()
    assert field in info.value.details()
    assert snapshot(coordinator) == before


def test_every_tracking_and_registry_rpc(coordinator, stubs) -> None:
    coord, tracking, registry = stubs
    coord.CreateStudy(api.CreateStudyRequest(name="c", directions=[pb.DIRECTION_MAXIMIZE]))
    done = coord.Ask(api.AskRequest(study="c")).trial.number
    running = coord.Ask(api.AskRequest(study="c")).trial.number
    digest = "ab" * 32
    data = trk.DataRecord(name="x.csv", digest=digest, kind="file", size_bytes=3)

    # the happy path of every RPC
    tracking.RecordLineage(
        trk.RecordLineageRequest(study="c", trial_number=done, lineage=trk.Lineage(seed=3))
    )
    tracking.LogData(trk.LogDataRequest(study="c", trial_number=done, data=data))
    tracking.LogData(trk.LogDataRequest(study="c", trial_number=done, data=data))  # same again
    tracking.LogMetrics(
        trk.LogMetricsRequest(
            study="c", trial_number=done, metrics=[trk.Metric(name="m", step=1, value=2.0)]
        )
    )

    header = trk.ArtifactHeader(
        study="c",
        trial_number=done,
        name="model.bin",
        expected_digest=blake3.blake3(b"bytes").hexdigest(),
    )
    record = tracking.UploadArtifact(
        iter([trk.UploadArtifactRequest(header=header), trk.UploadArtifactRequest(chunk=b"bytes")])
    )
    assert (
        b"".join(
            c.data
            for c in tracking.DownloadArtifact(trk.DownloadArtifactRequest(digest=record.digest))
        )
        == b"bytes"
    )
    coord.Tell(
        api.TellRequest(study="c", trial_number=done, state=pb.TRIAL_STATE_COMPLETE, values=[1.0])
    )
    lineage = tracking.GetTrialLineage(trk.GetTrialLineageRequest(study="c", trial_number=done))
    assert (lineage.lineage.seed, lineage.data[0].digest, lineage.artifacts[0].name) == (
        3,
        digest,
        "model.bin",
    )
    version = registry.RegisterModel(reg.RegisterModelRequest(name="m", study="c"))
    assert (version.version, version.trial_number) == (1, done)
    registry.SetAlias(reg.SetAliasRequest(name="m", version=1, alias="champion"))
    assert registry.GetModelVersion(
        reg.GetModelVersionRequest(name="m", alias="champion")
    ).aliases == ["champion"]
    assert [m.name for m in registry.ListModels(reg.ListModelsRequest()).models] == ["m"]

    c = coordinator
    T = tracking
    refused(c, T.RecordLineage, trk.RecordLineageRequest(study="nope"), NOT_FOUND, "study")
    refused(
        c,
        T.RecordLineage,
        trk.RecordLineageRequest(study="c", trial_number=99),
        NOT_FOUND,
        "trial_number",
    )
    refused(
        c,
        T.RecordLineage,
        trk.RecordLineageRequest(study="c", trial_number=done),
        PRECONDITION,
        "trial_number",
    )
    for bad, field in [
        (trk.DataRecord(name="", digest=digest, kind="file"), "data.name"),
        (trk.DataRecord(name="d", digest="xyz", kind="file"), "data.digest"),
        (trk.DataRecord(name="d", digest=digest, kind="blob"), "data.kind"),
        (trk.DataRecord(name="d", digest=digest, kind="file", size_bytes=-1), "data.size_bytes"),
    ]:
        refused(
            c,
            T.LogData,
            trk.LogDataRequest(study="c", trial_number=running, data=bad),
            INVALID,
            field,
        )
    refused(
        c,
        T.LogData,
        trk.LogDataRequest(study="c", trial_number=done, data=data),
        PRECONDITION,
        "trial_number",
    )
    tracking.LogData(trk.LogDataRequest(study="c", trial_number=running, data=data))
    other = trk.DataRecord(name="x.csv", digest="cd" * 32, kind="file")
    refused(
        c,
        T.LogData,
        trk.LogDataRequest(study="c", trial_number=running, data=other),
        INVALID,
        "data.name",
    )
    for metrics, field in [
        ([], "metrics"),
        ([trk.Metric(name="", value=1)], "metrics[0].name"),
        ([trk.Metric(name="m", value=float("nan"))], "metrics[0].value"),
        ([trk.Metric(name="m", step=-1, value=1)], "metrics[0].step"),
    ]:
        refused(
            c,
            T.LogMetrics,
            trk.LogMetricsRequest(study="c", trial_number=running, metrics=metrics),
            INVALID,
            field,
        )
    refused(
        c,
        lambda r: list(T.DownloadArtifact(r)),
        trk.DownloadArtifactRequest(digest="zz"),
        INVALID,
        "digest",
    )
    refused(
        c,
        lambda r: list(T.DownloadArtifact(r)),
        trk.DownloadArtifactRequest(digest="0" * 64),
        NOT_FOUND,
        "digest",
    )
    refused(
        c,
        T.UploadArtifact,
        iter([trk.UploadArtifactRequest(chunk=b"no header")]),
        INVALID,
        "header",
    )
    refused(
        c,
        T.GetTrialLineage,
        trk.GetTrialLineageRequest(study="c", trial_number=99),
        NOT_FOUND,
        "trial_number",
    )

    R = registry
    refused(c, R.RegisterModel, reg.RegisterModelRequest(name="-bad", study="c"), INVALID, "name")
    refused(
        c,
        R.RegisterModel,
        reg.RegisterModelRequest(name="m", study="c", trial_number=running),
        PRECONDITION,
        "trial_number",
    )
    refused(
        c, R.RegisterModel, reg.RegisterModelRequest(name="m", study="nope"), NOT_FOUND, "study"
    )
    refused(
        c,
        R.RegisterModel,
        reg.RegisterModelRequest(name="m", study="c", artifact_name="x"),
        INVALID,
        "artifact_name",
    )
    refused(
        c,
        R.SetAlias,
        reg.SetAliasRequest(name="m", version=9, alias="champion"),
        NOT_FOUND,
        "version",
    )
    refused(c, R.SetAlias, reg.SetAliasRequest(name="m", version=1, alias="12"), INVALID, "alias")
    refused(c, R.GetModelVersion, reg.GetModelVersionRequest(name="m"), INVALID, "selector")
    refused(
        c, R.GetModelVersion, reg.GetModelVersionRequest(name="m", alias="nope"), NOT_FOUND, "alias"
    )
    refused(
        c,
        R.GetModelVersion,
        reg.GetModelVersionRequest(name="zzz", version=1),
        NOT_FOUND,
        "version",
    )
