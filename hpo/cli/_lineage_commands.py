"""``hpo trials show``, ``hpo compare`` and ``hpo models ...``: lineage and the registry."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from google.protobuf.json_format import MessageToDict
from rich.console import Console
from rich.table import Table

from hpo.cli._app import app, models_app, trials_app
from hpo.cli._common import Address, AsJson, Storage, _call, _fail
from hpo.v1 import coordinator_pb2 as api
from hpo.v1 import registry_pb2 as reg
from hpo.v1 import tracking_pb2 as trk

_out = Console()


def _trial_and_lineage(
    address: str | None, storage: str | None, study: str, number: int
) -> dict[str, Any]:
    trial = _call(
        address, storage, "GetTrial", api.GetTrialRequest(study=study, trial_number=number)
    )
    lineage = _call(
        address,
        storage,
        "GetTrialLineage",
        trk.GetTrialLineageRequest(study=study, trial_number=number),
        service="tracking",
    )
    return {
        "trial": MessageToDict(trial, preserving_proto_field_name=True),
        "lineage": MessageToDict(lineage, preserving_proto_field_name=True),
    }


def _flatten(record: dict[str, Any]) -> dict[str, str]:
    """One "section.key" -> value map per trial, for showing and comparing."""
    trial, lineage = record["trial"], record["lineage"]
    flat: dict[str, str] = {
        "state": trial.get("state", "").removeprefix("TRIAL_STATE_").lower(),
        "values": ", ".join(f"{v:.6g}" for v in trial.get("values", [])),
    }
    for param in trial.get("params", []):
        flat[f"param.{param['name']}"] = str(next(iter(param.get("value", {"": ""}).values())))
    last: dict[str, tuple[int, float]] = {}
    for m in lineage.get("metrics", []):
        step = int(m.get("step", 0))
        if m["name"] not in last or step >= last[m["name"]][0]:
            last[m["name"]] = (step, m.get("value", 0.0))
    for name, (step, value) in sorted(last.items()):
        flat[f"metric.{name}"] = f"{value:.6g} (step {step})"
    code = lineage.get("lineage", {}).get("code", {})
    if not code.get("has_git"):
        flat["code"] = "no git"
    else:
        flat["code.commit"] = code.get("commit", "")
        flat["code.branch"] = code.get("branch", "") or "(detached)"
        flat["code.dirty"] = str(code.get("dirty", False)).lower()
        if code.get("diff_digest"):
            flat["code.diff_digest"] = code["diff_digest"]
    env = lineage.get("lineage", {}).get("environment", {})
    for key in ("python", "platform", "hostname"):
        if key in env:
            flat[f"env.{key}"] = env[key]
    for name, version in sorted(env.get("packages", {}).items()):
        flat[f"env.package.{name}"] = version
    if env.get("gpus"):
        flat["env.gpus"] = ", ".join(env["gpus"])
    if "seed" in lineage.get("lineage", {}):
        flat["seed"] = str(lineage["lineage"]["seed"])
    for d in lineage.get("data", []):
        flat[f"data.{d['name']}"] = f"{d['kind']} {d['digest'][:16]}… {d.get('size_bytes', 0)} B"
    for a in lineage.get("artifacts", []):
        flat[f"artifact.{a['name']}"] = f"{a['digest'][:16]}… {a.get('size_bytes', 0)} B"
    return flat


@trials_app.command("show")
def trials_show(
    study: str,
    number: int,
    address: Address = None,
    storage: Storage = None,
    as_json: AsJson = False,
) -> None:
    """One trial with all its lineage: params, values, metrics, code, data, environment."""
    record = _trial_and_lineage(address, storage, study, number)
    if as_json:
        print(json.dumps(record, indent=2))
        return
    table = Table("field", "value", title=f"{study} trial {number}", show_header=False)
    for key, value in _flatten(record).items():
        table.add_row(key, value)
    _out.print(table)


@app.command()
def compare(
    study: str,
    a: int,
    b: int,
    address: Address = None,
    storage: Storage = None,
    as_json: AsJson = False,
) -> None:
    """What differs between two trials: params, metrics, code, data, environment."""
    left = _flatten(_trial_and_lineage(address, storage, study, a))
    right = _flatten(_trial_and_lineage(address, storage, study, b))
    keys = [k for k in dict.fromkeys([*left, *right]) if left.get(k) != right.get(k)]
    if as_json:
        print(json.dumps({k: [left.get(k), right.get(k)] for k in keys}, indent=2))
        return
    table = Table("field", f"trial {a}", f"trial {b}", title=f"{study}: {len(keys)} differences")
    for key in keys:
        table.add_row(key, left.get(key, "-"), right.get(key, "-"))
    _out.print(table)


def _print_versions(versions: list[reg.ModelVersion], as_json: bool) -> None:
    if as_json:
        print(
            json.dumps(
                [MessageToDict(v, preserving_proto_field_name=True) for v in versions], indent=2
            )
        )
        return
    table = Table("model", "version", "aliases", "study", "trial", "artifact", "digest")
    for v in versions:
        table.add_row(
            v.name,
            str(v.version),
            ", ".join(v.aliases),
            v.study,
            str(v.trial_number),
            v.artifact.name,
            v.artifact.digest[:16] + "…",
        )
    _out.print(table)


@models_app.command("register")
def models_register(
    name: str,
    study: Annotated[str, typer.Option(help="Study of the trial.")],
    trial: Annotated[int | None, typer.Option(help="Trial number; default the best.")] = None,
    artifact: Annotated[str, typer.Option(help="Artifact name; default the only one.")] = "",
    address: Address = None,
    storage: Storage = None,
    as_json: AsJson = False,
) -> None:
    """Register a new version of NAME from a completed trial's artifact."""
    import uuid

    request = reg.RegisterModelRequest(
        name=name, study=study, artifact_name=artifact, request_id=uuid.uuid4().hex
    )
    if trial is not None:
        request.trial_number = trial
    _print_versions(
        [_call(address, storage, "RegisterModel", request, service="registry")], as_json
    )


@models_app.command("alias")
def models_alias(
    name: str,
    version: int,
    alias: str,
    address: Address = None,
    storage: Storage = None,
    as_json: AsJson = False,
) -> None:
    """Point ALIAS (e.g. champion) at VERSION of model NAME."""
    request = reg.SetAliasRequest(name=name, version=version, alias=alias)
    _print_versions([_call(address, storage, "SetAlias", request, service="registry")], as_json)


@models_app.command("list")
def models_list(address: Address = None, storage: Storage = None, as_json: AsJson = False) -> None:
    """Every model version with its aliases."""
    response = _call(address, storage, "ListModels", reg.ListModelsRequest(), service="registry")
    _print_versions([v for m in response.models for v in m.versions], as_json)


@models_app.command("show")
def models_show(
    name: str,
    version: Annotated[int | None, typer.Option(help="Version number.")] = None,
    alias: Annotated[str | None, typer.Option(help="Alias, e.g. champion.")] = None,
    address: Address = None,
    storage: Storage = None,
    as_json: AsJson = False,
) -> None:
    """One version of a model (by --version or --alias), or all its versions."""
    if version is None and alias is None:
        response = _call(
            address, storage, "ListModels", reg.ListModelsRequest(), service="registry"
        )
        _print_versions([v for m in response.models if m.name == name for v in m.versions], as_json)
        return
    request = reg.GetModelVersionRequest(name=name)
    if alias is not None:
        request.alias = alias
    else:
        request.version = version  # type: ignore[assignment]
    _print_versions(
        [_call(address, storage, "GetModelVersion", request, service="registry")], as_json
    )


export_app = typer.Typer(help="Export studies to other tools.", no_args_is_help=True)
app.add_typer(export_app, name="export")


@export_app.command("mlflow")
def export_mlflow(
    study: Annotated[str, typer.Option(help="The study to export.")],
    tracking_uri: Annotated[
        str, typer.Option(help="MLflow tracking URI, e.g. sqlite:///mlflow.db")
    ],
    address: Address = None,
    storage: Storage = None,
) -> None:
    """Log each finished trial as an MLflow run and mirror registered model versions
    (needs `pip install 'hpo[mlflow]'`). Running it again adds only what is new."""
    from hpo.bridges.mlflow import export_study, mlflow_errors

    try:
        summary = export_study(study, tracking_uri, address=address, storage=storage)
    except mlflow_errors() as e:
        _fail(f"mlflow: {' '.join(str(getattr(e, 'message', e)).split())[:500]}")
    print(
        f"experiment {summary.experiment_id}: {summary.runs_created} runs logged, "
        f"{summary.runs_skipped} already there, {summary.versions_created} model versions"
    )
