"""The model registry from Python: register a trial's artifact, alias versions, load by name.

import hpo.registry
version = hpo.registry.register("digits-clf", study="digits")      # best trial
hpo.registry.set_alias("digits-clf", version.version, "champion")
path = hpo.registry.load("digits-clf", alias="champion")           # local, digest checked
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from hpo.client import connect, resolve_address
from hpo.client._connection import Connection
from hpo.errors import IntegrityError
from hpo.tracking import hash_file
from hpo.v1 import registry_pb2 as reg
from hpo.v1 import tracking_pb2 as trk

__all__ = ["cache_dir", "get_version", "list_models", "load", "register", "set_alias"]

CACHE_ENV = "HPO_CACHE_DIR"


def _connection(address: str | None, storage: str | None) -> Connection:
    return connect(resolve_address(address, storage))


def register(
    name: str,
    study: str,
    trial: int | None = None,
    artifact: str = "",
    *,
    request_id: str | None = None,
    address: str | None = None,
    storage: str | None = None,
) -> reg.ModelVersion:
    """Register a new version of ``name`` from a COMPLETE trial (default: the study's best)
    and its artifact (default: its only one). Retries are safe: the call carries a request id.
    """
    request = reg.RegisterModelRequest(
        name=name, study=study, artifact_name=artifact, request_id=request_id or uuid.uuid4().hex
    )
    if trial is not None:
        request.trial_number = trial
    return _connection(address, storage).call("RegisterModel", request, service="registry")


def set_alias(
    name: str, version: int, alias: str, *, address: str | None = None, storage: str | None = None
) -> reg.ModelVersion:
    """Point ``alias`` (e.g. "champion") at ``version`` of model ``name``."""
    request = reg.SetAliasRequest(name=name, version=version, alias=alias)
    return _connection(address, storage).call("SetAlias", request, service="registry")


def get_version(
    name: str,
    version: int | None = None,
    alias: str | None = None,
    *,
    address: str | None = None,
    storage: str | None = None,
) -> reg.ModelVersion:
    """One version of a model, by number or by alias."""
    if (version is None) == (alias is None):
        raise ValueError("pass exactly one of version= and alias=")
    request = reg.GetModelVersionRequest(name=name)
    if alias is not None:
        request.alias = alias
    else:
        request.version = int(version)  # type: ignore[arg-type]
    return _connection(address, storage).call("GetModelVersion", request, service="registry")


def list_models(
    *, address: str | None = None, storage: str | None = None
) -> list[reg.RegisteredModel]:
    """Every model with its versions."""
    response = _connection(address, storage).call(
        "ListModels", reg.ListModelsRequest(), service="registry"
    )
    return list(response.models)


def cache_dir() -> Path:
    """Where loaded artifacts are kept: ``$HPO_CACHE_DIR``, else ``~/.cache/hpo/artifacts``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "hpo" / "artifacts")


def load(
    name: str,
    alias: str | None = None,
    version: int | None = None,
    *,
    address: str | None = None,
    storage: str | None = None,
) -> Path:
    """The local path of a model version's artifact, fetched from the store when not cached
    and checked against its digest (``hpo.IntegrityError`` on a mismatch, never a silently
    wrong model). The file keeps the artifact's name, in a folder named by its digest."""
    connection = _connection(address, storage)
    model = get_version(name, version=version, alias=alias, address=connection.address)
    digest = model.artifact.digest
    target = cache_dir() / digest / model.artifact.name
    if target.is_file() and hash_file(target) == digest:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
    try:
        with open(partial, "wb") as out:
            for chunk in connection.download(trk.DownloadArtifactRequest(digest=digest)):
                out.write(chunk)
        received = hash_file(partial)
        if received != digest:
            raise IntegrityError(
                f"artifact of {name} v{model.version} hashes to {received}, "
                f"not its recorded {digest}"
            )
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target
