"""``hpo trials show``, ``hpo compare``, ``hpo models ...`` and ``hpo export``: lineage and the
registry."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from hpo.cli import _json
from hpo.cli import _render as render
from hpo.cli._common import AsJson, CoordinatorOption, DbOption, call, describe, fail
from hpo.errors import HpoError
from hpo.v1 import coordinator_pb2 as api
from hpo.v1 import registry_pb2 as reg
from hpo.v1 import tracking_pb2 as trk

models_app = typer.Typer(
    help="Register, alias, list and show model versions.", no_args_is_help=True
)
export_app = typer.Typer(help="Export studies to other tools.", no_args_is_help=True)


def _trial_and_lineage(
    coordinator: str | None, db: str | None, study: str, number: int
) -> dict[str, Any]:
    trial = call(coordinator, db, "GetTrial", api.GetTrialRequest(study=study, trial_number=number))
    lineage = call(
        coordinator,
        db,
        "GetTrialLineage",
        trk.GetTrialLineageRequest(study=study, trial_number=number),
        service="tracking",
    )
    return {"trial": _json.trial(trial), "lineage": _json.plain(lineage)}


def _flatten(record: dict[str, Any]) -> dict[str, str]:
    """One "section.key" -> value map per trial, for showing and comparing."""
    trial, lineage = record["trial"], record["lineage"]
    flat: dict[str, str] = {
        "state": trial["state"].lower(),
        "values": ", ".join(f"{v:.6g}" for v in trial["values"]),
    }
    reason = [line for line in (trial.get("fail_reason") or "").splitlines() if line.strip()]
    if reason:  # the objective's traceback ends with what went wrong
        flat["fail_reason"] = reason[-1].strip()
    for name, value in trial["params"].items():
        flat[f"param.{name}"] = str(value)
    last: dict[str, tuple[int, float]] = {}
    for m in lineage["metrics"]:
        if m["name"] not in last or m["step"] >= last[m["name"]][0]:
            last[m["name"]] = (m["step"], m["value"])
    for name, (step, value) in sorted(last.items()):
        flat[f"metric.{name}"] = f"{value:.6g} (step {step})"
    flat.update(lineage_fields(lineage))
    return flat


def lineage_fields(lineage: dict[str, Any]) -> dict[str, str]:
    """A trial's lineage as "section.key" -> text: code, environment, seed, data and
    artifacts of a ``TrialLineage`` message in its ``--json`` shape."""
    flat: dict[str, str] = {}
    code = (lineage["lineage"] or {}).get("code") or {}
    if not code.get("has_git"):
        flat["code"] = "no git"
    else:
        flat["code.commit"] = code["commit"]
        flat["code.branch"] = code["branch"] or "(detached)"
        flat["code.dirty"] = str(code["dirty"]).lower()
        if code["diff_digest"]:
            flat["code.diff_digest"] = code["diff_digest"]
    env = (lineage["lineage"] or {}).get("environment") or {}
    for key in ("python", "platform", "hostname", "ray_node_id"):
        if env.get(key):
            flat[f"env.{key}"] = env[key]
    for name, version in sorted(env.get("packages", {}).items()):
        flat[f"env.package.{name}"] = version
    if env.get("gpus"):
        flat["env.gpus"] = ", ".join(env["gpus"])
    if (lineage["lineage"] or {}).get("seed") is not None:
        flat["seed"] = str(lineage["lineage"]["seed"])
    for d in lineage["data"]:
        flat[f"data.{d['name']}"] = f"{d['kind']} {d['digest'][:16]}… {d['size_bytes']} B"
    for a in lineage["artifacts"]:
        flat[f"artifact.{a['name']}"] = f"{a['digest'][:16]}… {a['size_bytes']} B"
    return flat


def trials_show(
    study: str,
    number: int,
    coordinator: CoordinatorOption = None,
    db: DbOption = None,
    as_json: AsJson = False,
) -> None:
    """One trial with all its lineage: params, values, metrics, code, data, environment."""
    record = _trial_and_lineage(coordinator, db, study, number)
    if as_json:
        return _json.dump(record)
    table = Table("field", "value", title=escape(f"{study} trial {number}"), show_header=False)
    for key, value in _flatten(record).items():
        table.add_row(escape(key), escape(value))
    render.out.print(table)


def compare(
    study: str,
    a: int,
    b: int,
    coordinator: CoordinatorOption = None,
    db: DbOption = None,
    as_json: AsJson = False,
) -> None:
    """What differs between two trials: params, metrics, code, data, environment."""
    left = _flatten(_trial_and_lineage(coordinator, db, study, a))
    right = _flatten(_trial_and_lineage(coordinator, db, study, b))
    keys = [k for k in dict.fromkeys([*left, *right]) if left.get(k) != right.get(k)]
    if as_json:
        return _json.dump({k: [left.get(k), right.get(k)] for k in keys})
    table = Table(
        "field", f"trial {a}", f"trial {b}", title=escape(f"{study}: {len(keys)} differences")
    )
    for key in keys:
        table.add_row(escape(key), escape(left.get(key, "-")), escape(right.get(key, "-")))
    render.out.print(table)


@models_app.command("register")
def models_register(
    name: str,
    study: Annotated[str, typer.Option(help="Study of the trial.")],
    trial: Annotated[int | None, typer.Option(help="Trial number; default the best.")] = None,
    artifact: Annotated[str, typer.Option(help="Artifact name; default the only one.")] = "",
    coordinator: CoordinatorOption = None,
    db: DbOption = None,
    as_json: AsJson = False,
) -> None:
    """Register a new version of NAME from a completed trial's artifact."""
    import uuid

    request = reg.RegisterModelRequest(
        name=name, study=study, artifact_name=artifact, request_id=uuid.uuid4().hex
    )
    if trial is not None:
        request.trial_number = trial
    version = call(coordinator, db, "RegisterModel", request, service="registry")
    render.versions([version], as_json)


@models_app.command("alias")
def models_alias(
    name: str,
    version: int,
    alias: str,
    coordinator: CoordinatorOption = None,
    db: DbOption = None,
    as_json: AsJson = False,
) -> None:
    """Point ALIAS (e.g. champion) at VERSION of model NAME."""
    request = reg.SetAliasRequest(name=name, version=version, alias=alias)
    render.versions([call(coordinator, db, "SetAlias", request, service="registry")], as_json)


@models_app.command("list")
def models_list(
    coordinator: CoordinatorOption = None, db: DbOption = None, as_json: AsJson = False
) -> None:
    """Every model version with its aliases."""
    response = call(coordinator, db, "ListModels", reg.ListModelsRequest(), service="registry")
    render.versions([v for m in response.models for v in m.versions], as_json)


@models_app.command("show")
def models_show(
    name: str,
    version: Annotated[int | None, typer.Option(help="Version number.")] = None,
    alias: Annotated[str | None, typer.Option(help="Alias, e.g. champion.")] = None,
    coordinator: CoordinatorOption = None,
    db: DbOption = None,
    as_json: AsJson = False,
) -> None:
    """One version of a model (by --version or --alias), or all its versions."""
    if version is None and alias is None:
        response = call(coordinator, db, "ListModels", reg.ListModelsRequest(), service="registry")
        found = [v for m in response.models if m.name == name for v in m.versions]
        if not found:
            fail(f"NOT_FOUND: name: no model named {name!r}")
        return render.versions(found, as_json)
    request = reg.GetModelVersionRequest(name=name)
    if alias is not None:
        request.alias = alias
    else:
        request.version = version  # type: ignore[assignment]
    render.versions(
        [call(coordinator, db, "GetModelVersion", request, service="registry")], as_json
    )


@export_app.command("mlflow")
def export_mlflow(
    study: Annotated[str, typer.Option(help="The study to export.")],
    tracking_uri: Annotated[
        str, typer.Option(help="MLflow tracking URI, e.g. sqlite:///mlflow.db")
    ],
    coordinator: CoordinatorOption = None,
    db: DbOption = None,
) -> None:
    """Log each finished trial as an MLflow run and mirror registered model versions
    (needs `pip install 'hpo[mlflow]'`). Running it again adds only what is new."""
    from hpo.bridges.mlflow import export_study, mlflow_errors

    if coordinator and db:
        fail("pass --coordinator (a running coordinator) or --db (an embedded one), not both")
    try:
        summary = export_study(study, tracking_uri, address=coordinator, storage=db)
    except HpoError as e:
        fail(describe(e))
    except mlflow_errors() as e:
        fail(f"mlflow: {' '.join(str(getattr(e, 'message', e)).split())[:500]}")
    print(
        f"experiment {summary.experiment_id}: {summary.runs_created} runs logged, "
        f"{summary.runs_skipped} already there, {summary.versions_created} model versions"
    )
