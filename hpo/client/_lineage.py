"""The SDK's side of lineage: what it sends with every Ask, and the trial's log_* calls."""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from google.protobuf import json_format

from hpo.tracking import code_version, environment, hash_data, hash_file
from hpo.v1 import tracking_pb2 as trk

if TYPE_CHECKING:
    from hpo.client._connection import Connection

CHUNK = 1024 * 1024


@functools.cache
def own_lineage() -> trk.Lineage:
    """This process's code version and environment (captured once)."""
    return trk.Lineage(
        code=json_format.ParseDict(code_version(), trk.CodeVersion()),
        environment=json_format.ParseDict(environment(), trk.Environment()),
    )


def record_seed(connection: Connection, study: str, number: int, seed: int) -> None:
    lineage = trk.Lineage()
    lineage.CopyFrom(own_lineage())
    lineage.seed = int(seed)
    request = trk.RecordLineageRequest(study=study, trial_number=number, lineage=lineage)
    connection.call("RecordLineage", request, service="tracking")


def log_data(
    connection: Connection, study: str, number: int, data: Any, name: str | None
) -> trk.DataRecord:
    digest = hash_data(data)
    if name is None:
        name = Path(os.fspath(data)).name if isinstance(data, (str, os.PathLike)) else "data"
    record = trk.DataRecord(
        name=name,
        digest=digest.digest,
        kind=digest.kind,
        size_bytes=digest.size_bytes,
        source=digest.source,
    )
    request = trk.LogDataRequest(study=study, trial_number=number, data=record)
    connection.call("LogData", request, service="tracking")
    return record


def log_metrics(
    connection: Connection, study: str, number: int, values: list[tuple[str, int, float]]
) -> None:
    request = trk.LogMetricsRequest(
        study=study,
        trial_number=number,
        metrics=[trk.Metric(name=n, step=s, value=v) for n, s, v in values],
    )
    connection.call("LogMetrics", request, service="tracking")


def log_artifact(
    connection: Connection, study: str, number: int, path: str | os.PathLike[str], name: str | None
) -> trk.ArtifactRecord:
    source = Path(path)
    if not source.is_file():
        raise FileNotFoundError(f"log_artifact: no file {os.fspath(path)!r}")
    header = trk.ArtifactHeader(
        study=study,
        trial_number=number,
        name=name or source.name,
        expected_digest=hash_file(source),
    )

    def requests() -> Iterator[trk.UploadArtifactRequest]:
        yield trk.UploadArtifactRequest(header=header)
        with open(source, "rb") as f:
            while chunk := f.read(CHUNK):
                yield trk.UploadArtifactRequest(chunk=chunk)

    return connection.upload(requests())


def trial_lineage(connection: Connection, study: str, number: int) -> trk.TrialLineage:
    request = trk.GetTrialLineageRequest(study=study, trial_number=number)
    return connection.call("GetTrialLineage", request, service="tracking")
