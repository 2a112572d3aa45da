"""Export a study to MLflow: each trial as a run, registered versions as model versions.

Needs the ``mlflow`` extra (``pip install 'hpo[mlflow]'``). Reads everything through the
coordinator's API, so it works against any coordinator. Running it again adds only what is
new: runs carry the tag ``hpo.trial`` and model versions ``hpo.model_version``.

MLflow accepts fewer metric and parameter names than hpo. A name it would refuse is exported
sanitized: characters other than letters, digits, ``_ - . : /`` and space become ``_``, empty,
``.`` and ``..`` path segments are dropped, a leading ``..`` gets a ``_`` before it, and names
are cut to 250 characters (``../../m'`` becomes ``m_``); a clash gets ``_2``, ``_3``... The
run's tag ``hpo.renamed`` maps each exported name back to the original (JSON). A run whose
export fails is deleted, so running the export again exports that trial.
"""

from __future__ import annotations

import json
import posixpath
import re
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hpo import registry
from hpo.client import load_study
from hpo.errors import FailedPreconditionError
from hpo.v1 import tracking_pb2 as trk

TRIAL_TAG = "hpo.trial"
VERSION_TAG = "hpo.model_version"
RENAMED_TAG = "hpo.renamed"
MAX_NAME = 250  # MLflow's limit on metric and parameter names
_BATCH = 100  # entities per log_batch call, within MLflow's limits on each kind
_NOT_IN_NAMES = re.compile(r"[^\w.\- :/]")


@dataclass(frozen=True)
class ExportSummary:
    experiment_id: str
    runs_created: int
    runs_skipped: int
    versions_created: int


def mlflow_errors() -> tuple[type[BaseException], ...]:
    """The exceptions MLflow raises for what it refuses (none when it is not installed)."""
    try:
        from mlflow.exceptions import MlflowException
    except ImportError:
        return ()
    return (MlflowException,)


def _mlflow() -> Any:
    try:
        import mlflow
    except ImportError as e:
        raise FailedPreconditionError(
            "the MLflow bridge needs mlflow: pip install 'hpo[mlflow]'"
        ) from e
    return mlflow


def export_study(
    study: str, tracking_uri: str, *, address: str | None = None, storage: str | None = None
) -> ExportSummary:
    """Log every finished trial of ``study`` as an MLflow run in the experiment of the same
    name (params, values, intermediate values and metrics with their steps, the git commit
    as ``mlflow.source.git.commit``, data sets as dataset inputs with their digests, artifacts),
    then mirror the registry's versions of models from this study into MLflow's registry."""
    mlflow = _mlflow()
    handle = load_study(study, address=address, storage=storage)
    client = mlflow.tracking.MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    experiment = client.get_experiment_by_name(study)
    experiment_id = experiment.experiment_id if experiment else client.create_experiment(study)
    existing = {
        run.data.tags[TRIAL_TAG]: run.info.run_id
        for run in client.search_runs([experiment_id], max_results=50_000)
        if TRIAL_TAG in run.data.tags
    }
    created = skipped = 0
    run_ids: dict[int, str] = {}
    for trial in handle.trials:
        if not trial.state.is_finished():
            continue
        key = f"{study}/{trial.number}"
        if key in existing:
            run_ids[trial.number] = existing[key]
            skipped += 1
            continue
        run_ids[trial.number] = _export_trial(client, experiment_id, handle, trial, key)
        created += 1
    versions = _mirror_registry(client, study, run_ids, handle)
    return ExportSummary(experiment_id, created, skipped, versions)


def _export_trial(client: Any, experiment_id: str, handle: Any, trial: Any, key: str) -> str:
    from mlflow.entities import Metric, Param

    lineage: trk.TrialLineage = handle.lineage(trial.number)
    code, env = lineage.lineage.code, lineage.lineage.environment
    tags = {
        TRIAL_TAG: key,
        "hpo.state": trial.state.name,
        "mlflow.runName": f"trial-{trial.number}",
    }
    if code.has_git:
        tags.update(
            {
                "mlflow.source.git.commit": code.commit,
                "hpo.code.branch": code.branch,
                "hpo.code.dirty": str(code.dirty).lower(),
            }
        )
        if code.diff_digest:
            tags["hpo.code.diff_digest"] = code.diff_digest
    else:
        tags["hpo.code"] = "no git"
    if env.python:
        tags.update(
            {
                "hpo.env.python": env.python,
                "hpo.env.platform": env.platform,
                "hpo.env.hostname": env.hostname,
            }
        )
    if lineage.lineage.HasField("seed"):
        tags["hpo.seed"] = str(lineage.lineage.seed)
    stamp = int((trial.datetime_start.timestamp() if trial.datetime_start else 0) * 1000)
    values = trial.values or []
    value_names = ["value"] if len(values) == 1 else [f"value_{i}" for i in range(len(values))]
    names = mlflow_names(["intermediate_value", *value_names, *(m.name for m in lineage.metrics)])
    param_names = mlflow_names(trial.params)
    metrics = [
        Metric("intermediate_value", v, stamp, s)
        for s, v in sorted(trial.intermediate_values.items())
    ]
    metrics += [Metric(names[m.name], m.value, stamp, m.step) for m in lineage.metrics]
    metrics += [Metric(names[n], v, stamp, 0) for n, v in zip(value_names, values, strict=True)]
    params = [Param(param_names[k], str(v)) for k, v in trial.params.items()]
    renamed = {new: old for old, new in (*names.items(), *param_names.items()) if new != old}
    if renamed:
        tags[RENAMED_TAG] = _json_within(renamed, 8000)  # MLflow's limit on a tag's value
    run_id = client.create_run(experiment_id, tags=tags).info.run_id
    try:
        _log(client, run_id, trial, lineage, handle, metrics, params)
    except BaseException:
        client.delete_run(run_id)  # no half-exported run that a rerun would skip
        raise
    return run_id


def _log(
    client: Any,
    run_id: str,
    trial: Any,
    lineage: trk.TrialLineage,
    handle: Any,
    metrics: Sequence[Any],
    params: Sequence[Any],
) -> None:
    from mlflow.data.meta_dataset import MetaDataset
    from mlflow.data.sources import (  # type: ignore[attr-defined]
        CodeDatasetSource,
        LocalArtifactDatasetSource,
    )
    from mlflow.entities import DatasetInput, InputTag

    for batch in _batches(params):
        client.log_batch(run_id, params=batch)
    for batch in _batches(metrics):
        client.log_batch(run_id, metrics=batch)
    inputs = []
    for data in lineage.data:
        source = (
            LocalArtifactDatasetSource(data.source)
            if data.source
            else CodeDatasetSource({"hpo.kind": data.kind})
        )
        dataset = MetaDataset(source, name=data.name, digest=data.digest[:36])  # type: ignore[abstract]
        inputs.append(
            DatasetInput(
                dataset._to_mlflow_entity(),
                tags=[
                    InputTag("mlflow.data.context", "training"),
                    InputTag("hpo.digest", data.digest),
                    InputTag("hpo.kind", data.kind),
                ],
            )
        )
    if inputs:
        client.log_inputs(run_id, datasets=inputs)
    if lineage.artifacts:
        with tempfile.TemporaryDirectory() as tmp:
            for artifact in lineage.artifacts:
                path = _fetch(artifact, Path(tmp), handle)
                client.log_artifact(run_id, str(path))
    status = "FINISHED" if trial.state.name in ("COMPLETE", "PRUNED") else "FAILED"
    end = int(trial.datetime_complete.timestamp() * 1000) if trial.datetime_complete else None
    client.set_terminated(run_id, status=status, end_time=end)


def mlflow_names(names: Iterable[str]) -> dict[str, str]:
    """Each name as exported: unchanged where MLflow takes it, else sanitized and unique
    (names MLflow takes keep theirs; a sanitized one yields to them)."""
    unique = list(dict.fromkeys(names))
    exported = {name: name for name in unique if mlflow_name(name) == name}
    taken = set(exported)
    for name in unique:
        if name in exported:
            continue
        candidate = base = mlflow_name(name)
        counter = 1
        while candidate in taken:
            counter += 1
            suffix = f"_{counter}"
            candidate = base[: MAX_NAME - len(suffix)] + suffix
        exported[name] = candidate
        taken.add(candidate)
    return {name: exported[name] for name in unique}


def mlflow_name(name: str) -> str:
    """``name`` made acceptable to MLflow as a metric or parameter name (see the module)."""
    cleaned = _NOT_IN_NAMES.sub("_", name)
    cleaned = "/".join(p for p in cleaned.split("/") if p not in ("", ".", ".."))
    if cleaned.startswith(".."):
        cleaned = "_" + cleaned
    cleaned = cleaned[:MAX_NAME].rstrip("/")
    if not cleaned or posixpath.normpath(cleaned) != cleaned:
        cleaned = "_" + cleaned.replace("/", "_")[: MAX_NAME - 1]
    return cleaned


def _json_within(mapping: dict[str, str], limit: int) -> str:
    """As many entries as fit, as JSON (never JSON cut in the middle)."""
    kept: dict[str, str] = {}
    for key, value in mapping.items():
        if len(json.dumps({**kept, key: value})) > limit:
            break
        kept[key] = value
    return json.dumps(kept)


def _batches(items: Sequence[Any]) -> Iterable[list[Any]]:
    for start in range(0, len(items), _BATCH):
        yield list(items[start : start + _BATCH])


def _fetch(artifact: trk.ArtifactRecord, folder: Path, handle: Any) -> Path:
    target = folder / artifact.name
    with open(target, "wb") as out:
        for chunk in handle._connection.download(
            trk.DownloadArtifactRequest(digest=artifact.digest)
        ):
            out.write(chunk)
    return target


def _mirror_registry(client: Any, study: str, run_ids: dict[int, str], handle: Any) -> int:
    created = 0
    for model in registry.list_models(address=handle.address):
        versions = [v for v in model.versions if v.study == study and v.trial_number in run_ids]
        if not versions:
            continue
        try:
            client.get_registered_model(model.name)
        except Exception:  # MLflow raises its own RestException for a missing model
            client.create_registered_model(model.name)
        mirrored = {
            mv.tags.get(VERSION_TAG): mv
            for mv in client.search_model_versions(f"name='{model.name}'")
        }
        for version in versions:
            key = str(version.version)
            if key not in mirrored:
                source = f"runs:/{run_ids[version.trial_number]}/{version.artifact.name}"
                mirrored[key] = client.create_model_version(
                    model.name,
                    source,
                    run_id=run_ids[version.trial_number],
                    tags={VERSION_TAG: key, "hpo.digest": version.artifact.digest},
                )
                created += 1
            for alias in version.aliases:
                client.set_registered_model_alias(model.name, alias, mirrored[key].version)
    return created
