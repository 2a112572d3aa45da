"""The tracking service: lineage, data digests, metrics and artifacts of running trials."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator

from optuna.trial import FrozenTrial

from hpo.errors import FailedPreconditionError, InvalidArgumentError, NotFoundError
from hpo.service._service import StudyService
from hpo.storage._artifacts import ArtifactStore, DigestMismatchError
from hpo.storage._lineage import ArtifactRow, ConflictError, DataRow, TrialRecords

DATA_KINDS = ("file", "directory", "ndarray", "dataframe")
_DIGEST = re.compile(r"^[0-9a-f]{64}$")
MAX_NAME = 256


def validate_digest(field: str, digest: str) -> None:
    if not _DIGEST.match(digest):
        raise InvalidArgumentError.for_field(field, "must be 64 lowercase hex digits (BLAKE3)")


def _validate_name(field: str, name: str, *, file_name: bool = False) -> None:
    if not name or len(name) > MAX_NAME or not name.isprintable():
        raise InvalidArgumentError.for_field(field, f"must be 1-{MAX_NAME} printable characters")
    if file_name and ("/" in name or "\\" in name or name in (".", "..")):
        raise InvalidArgumentError.for_field(field, "must be a file name, not a path")


class TrackingService:
    """Records what a trial ran with; everything is frozen once the trial finishes."""

    def __init__(self, studies: StudyService, artifacts: ArtifactStore) -> None:
        self._studies = studies
        self._lineage = studies.storage.lineage
        self.artifacts = artifacts

    def record_lineage(self, study: str, number: int, lineage_json: str) -> None:
        with self._studies.running_trial(study, number) as ref:
            self._lineage.record_lineage(ref.study_id, ref.trial_id, lineage_json)

    def log_data(self, study: str, number: int, row: DataRow) -> None:
        _validate_name("data.name", row.name)
        validate_digest("data.digest", row.digest)
        if row.kind not in DATA_KINDS:
            raise InvalidArgumentError.for_field("data.kind", f"must be one of {DATA_KINDS}")
        if row.size_bytes < 0:
            raise InvalidArgumentError.for_field("data.size_bytes", "must be >= 0")
        with self._studies.running_trial(study, number) as ref:
            try:
                self._lineage.log_data(ref.study_id, ref.trial_id, row)
            except ConflictError:
                raise InvalidArgumentError.for_field(
                    "data.name", f"{row.name!r} was recorded with another digest"
                ) from None

    def log_metrics(self, study: str, number: int, values: list[tuple[str, int, float]]) -> None:
        if not values:
            raise InvalidArgumentError.for_field("metrics", "at least one metric is required")
        for i, (name, step, value) in enumerate(values):
            _validate_name(f"metrics[{i}].name", name)
            if step < 0:
                raise InvalidArgumentError.for_field(f"metrics[{i}].step", "must be >= 0")
            if math.isnan(value):
                raise InvalidArgumentError.for_field(f"metrics[{i}].value", "must not be NaN")
        with self._studies.running_trial(study, number) as ref:
            self._lineage.log_metrics(ref.study_id, ref.trial_id, values)

    def upload_artifact(
        self, study: str, number: int, name: str, expected_digest: str, chunks: Iterable[bytes]
    ) -> ArtifactRow:
        """Store the streamed bytes and record them as the trial's artifact ``name``."""
        _validate_name("header.name", name, file_name=True)
        validate_digest("header.expected_digest", expected_digest)  # required: see the proto
        with self._studies.running_trial(study, number):
            pass  # refuse early, before reading the stream
        try:
            digest, size = self.artifacts.put(chunks, expected_digest)
        except DigestMismatchError as e:
            raise InvalidArgumentError.for_field("header.expected_digest", str(e)) from None
        row = ArtifactRow(name, digest, size)
        with self._studies.running_trial(study, number) as ref:
            try:
                self._lineage.add_artifact(ref.study_id, ref.trial_id, row)
            except ConflictError:
                raise InvalidArgumentError.for_field(
                    "header.name", f"artifact {name!r} was recorded with other bytes"
                ) from None
        return row

    def download_artifact(self, digest: str) -> Iterator[bytes]:
        validate_digest("digest", digest)
        if not self.artifacts.exists(digest):
            raise NotFoundError(f"digest: no artifact {digest}")
        return self.artifacts.read(digest)

    def records(self, study: str, number: int | None = None) -> tuple[FrozenTrial, TrialRecords]:
        ref = self._studies.trial_ref(study, number)
        return ref.trial, self._lineage.records(ref.trial_id)


def require_complete(trial: FrozenTrial, study: str) -> None:
    if trial.state.name != "COMPLETE":
        raise FailedPreconditionError(
            f"trial_number: trial {trial.number} of study {study!r} is {trial.state.name}, "
            "not COMPLETE"
        )
