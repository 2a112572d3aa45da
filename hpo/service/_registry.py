"""The model registry service: versions of named models pointing at trials' artifacts."""

from __future__ import annotations

import hashlib
import re

from hpo.errors import FailedPreconditionError, InvalidArgumentError, NotFoundError
from hpo.service import _limits as limits
from hpo.service._access import current_caller, may_access, require_access
from hpo.service._service import StudyService
from hpo.service._tracking import require_complete
from hpo.storage._registry import VersionRow

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
NAME_RULE = (
    "1-128 characters from letters, digits, '.', '_' and '-', starting with a letter or digit"
)


def validate_model_name(field: str, name: str) -> None:
    if not NAME_PATTERN.match(name):
        raise InvalidArgumentError.for_field(field, f"{name!r} is not {NAME_RULE}")


class RegistryService:
    def __init__(self, studies: StudyService) -> None:
        self._studies = studies
        self._store = studies.storage.registry
        self._lineage = studies.storage.lineage

    def register(
        self,
        name: str,
        study: str,
        trial_number: int | None = None,
        artifact_name: str = "",
        request_id: str = "",
    ) -> VersionRow:
        """A new version of ``name`` from a COMPLETE trial's artifact (the best trial when
        ``trial_number`` is None; its only artifact when ``artifact_name`` is empty)."""
        validate_model_name("name", name)
        limits.check_id("request_id", request_id)
        owner = self._store.owner(name)
        if owner is not None:
            require_access("model", name, owner)
        ref = self._studies.trial_ref(study, trial_number)
        require_complete(ref.trial, study)
        artifacts = {a.name: a for a in self._lineage.records(ref.trial_id).artifacts}
        if not artifacts:
            raise FailedPreconditionError(
                f"trial_number: trial {ref.trial.number} of study {study!r} has no artifact"
            )
        if not artifact_name:
            if len(artifacts) > 1:
                raise InvalidArgumentError.for_field(
                    "artifact_name", f"the trial has several artifacts: {sorted(artifacts)}"
                )
            artifact_name = next(iter(artifacts))
        artifact = artifacts.get(artifact_name)
        if artifact is None:
            raise InvalidArgumentError.for_field(
                "artifact_name", f"the trial has no artifact {artifact_name!r}: {sorted(artifacts)}"
            )
        digest = hashlib.sha256(
            f"{name}\0{study}\0{ref.trial.number}\0{artifact_name}".encode()
        ).hexdigest()
        row = self._store.add_version(
            VersionRow(
                name,
                0,
                study,
                ref.trial.number,
                artifact_name,
                artifact.digest,
                artifact.size_bytes,
                0.0,
                request_id or None,
                digest,
                owner=owner if owner is not None else _caller_name(),
            )
        )
        if request_id and row.request_digest != digest:
            raise InvalidArgumentError.for_field(
                "request_id", f"{request_id!r} was already used to register another version"
            )
        return self._with_aliases(row)

    def set_alias(self, name: str, version: int, alias: str) -> VersionRow:
        validate_model_name("alias", alias)
        self._require_model_access(name)
        if alias.isdigit():
            raise InvalidArgumentError.for_field("alias", "must not be all digits (a version)")
        row = self._version(name, version)
        self._store.set_alias(name, alias, version)
        return self._with_aliases(row)

    def get(self, name: str, version: int | None = None, alias: str = "") -> VersionRow:
        self._require_model_access(name)
        if alias:
            number = self._store.alias_version(name, alias)
            if number is None:
                raise NotFoundError(f"alias: model {name!r} has no alias {alias!r}")
            version = number
        if version is None:
            raise InvalidArgumentError.for_field("selector", "give a version or an alias")
        return self._version(name, version)

    def list_versions(self) -> list[VersionRow]:
        """Versions of the models the caller may see."""
        return [row for row in self._store.all_versions() if may_access(row.owner)]

    def _require_model_access(self, name: str) -> None:
        owner = self._store.owner(name)
        if owner is not None:
            require_access("name", name, owner)

    def _version(self, name: str, version: int) -> VersionRow:
        validate_model_name("name", name)
        row = self._store.get(name, version)
        if row is None:
            raise NotFoundError(f"version: model {name!r} has no version {version}")
        return self._with_aliases(row)

    def _with_aliases(self, row: VersionRow) -> VersionRow:
        return self._store.get(row.name, row.version) or row


def _caller_name() -> str:
    caller = current_caller()
    return caller.name if caller is not None else ""
