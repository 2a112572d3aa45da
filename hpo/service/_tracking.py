"""The tracking service: lineage, data digests, metrics and artifacts of running trials."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator

from optuna.trial import FrozenTrial

from hpo.errors import (
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    ResourceExhaustedError,
)
from hpo.service._access import current_caller, may_access
from hpo.service._config import CONFIG_ATTR
from hpo.service._limits import ServerLimits, check_name
from hpo.service._service import StudyService
from hpo.storage._artifacts import ArtifactStore, ArtifactTooLargeError, DigestMismatchError
from hpo.storage._lineage import ArtifactRow, ConflictError, DataRow, TrialRecords

DATA_KINDS = ("file", "directory", "ndarray", "dataframe")
_DIGEST = re.compile(r"^[0-9a-f]{64}$")


def validate_digest(field: str, digest: str) -> None:
    if not _DIGEST.match(digest):
        raise InvalidArgumentError.for_field(field, "must be 64 lowercase hex digits (BLAKE3)")


def _validate_name(field: str, name: str, *, file_name: bool = False) -> None:
    check_name(field, name, printable=True)
    if file_name and ("/" in name or "\\" in name or name in (".", "..")):
        raise InvalidArgumentError.for_field(field, "must be a file name, not a path")


class TrackingService:
    """Records what a trial ran with; everything is frozen once the trial finishes."""

    def __init__(
        self,
        studies: StudyService,
        artifacts: ArtifactStore,
        max_artifact_bytes: int = ServerLimits.max_artifact_bytes,
    ) -> None:
        self._studies = studies
        self._lineage = studies.storage.lineage
        self.artifacts = artifacts
        self.max_artifact_bytes = max_artifact_bytes

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
            digest, size = self.artifacts.put(chunks, expected_digest, self.max_artifact_bytes)
        except DigestMismatchError as e:
            raise InvalidArgumentError.for_field("header.expected_digest", str(e)) from None
        except ArtifactTooLargeError as e:
            raise ResourceExhaustedError(f"chunk: the artifact is {e}") from None
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
        """The artifact's bytes, for a caller with access to a study that recorded it or to
        a model registered from it (admins: any). To others it does not exist: a digest
        names content, and answering otherwise would confirm who stored what."""
        validate_digest("digest", digest)
        if not self.artifacts.exists(digest) or not self._may_read(digest):
            raise NotFoundError(f"digest: no artifact {digest}")
        return self.artifacts.read(digest)

    def _may_read(self, digest: str) -> bool:
        caller = current_caller()
        if caller is None or caller.admin:
            return True
        storage = self._studies.storage
        for study_id in self._lineage.studies_with_artifact(digest):
            try:
                config = storage.optuna.get_study_system_attrs(study_id).get(CONFIG_ATTR) or {}
            except KeyError:  # deleted meanwhile
                continue
            if may_access(str(config.get("owner", ""))):
                return True
        models = {row.name for row in storage.registry.with_digest(digest)}
        return any(may_access(storage.registry.owner(name) or "") for name in models)

    def records(self, study: str, number: int | None = None) -> tuple[FrozenTrial, TrialRecords]:
        ref = self._studies.trial_ref(study, number)
        return ref.trial, self._lineage.records(ref.trial_id)


def require_complete(trial: FrozenTrial, study: str) -> None:
    if trial.state.name != "COMPLETE":
        raise FailedPreconditionError(
            f"trial_number: trial {trial.number} of study {study!r} is {trial.state.name}, "
            "not COMPLETE"
        )
