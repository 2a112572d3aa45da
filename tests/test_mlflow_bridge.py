"""`hpo export mlflow` against a local MLflow SQLite store."""

from __future__ import annotations

import json
import pickle

import mlflow
import numpy as np
import pytest

import hpo
from hpo.bridges.mlflow import export_study, mlflow_names
from hpo.server import Coordinator


@pytest.fixture(autouse=True)
def _mlflow_writes_under_tmp_path(tmp_path, monkeypatch) -> None:
    """MLflow puts run artifacts in ./mlruns beside a SQLite tracking store: keep it here."""
    monkeypatch.chdir(tmp_path)


def test_trials_and_registry_appear_in_mlflow(sqlite_coordinator: Coordinator, tmp_path) -> None:
    address = sqlite_coordinator.address
    study = hpo.create_study(
        "exported", direction="maximize", address=address, sampler={"name": "random", "seed": 1}
    )
    data = tmp_path / "train.csv"
    data.write_text("x,y\n1,2\n")
    for _ in range(3):
        trial = study.ask()
        lr = trial.suggest_float("lr", 1e-3, 1.0, log=True)
        trial.log_data(data)
        trial.log_data(np.arange(4), name="labels")
        for step in range(3):
            trial.report(lr * step, step)
            trial.log_metric("loss", 1.0 / (step + 1), step=step)
        model = tmp_path / f"model-{trial.number}.pkl"
        model.write_bytes(pickle.dumps({"lr": lr}))
        trial.log_artifact(model, name="model.pkl")
        study.tell(trial, lr)
    version = hpo.registry.register("exported-model", "exported", address=address)
    hpo.registry.set_alias("exported-model", version.version, "champion", address=address)

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    summary = export_study("exported", uri, address=address)
    assert (summary.runs_created, summary.runs_skipped, summary.versions_created) == (3, 0, 1)
    assert export_study("exported", uri, address=address).runs_created == 0  # idempotent

    client = mlflow.tracking.MlflowClient(tracking_uri=uri, registry_uri=uri)
    runs = client.search_runs([summary.experiment_id])
    assert len(runs) == 3
    by_trial = {int(r.data.tags["hpo.trial"].split("/")[1]): r for r in runs}
    for trial in study.trials:
        run = by_trial[trial.number]
        assert float(run.data.params["lr"]) == pytest.approx(trial.params["lr"])
        assert run.data.metrics["value"] == pytest.approx(trial.value)
        history = client.get_metric_history(run.info.run_id, "loss")
        assert sorted((m.step, m.value) for m in history) == [(0, 1.0), (1, 0.5), (2, 1 / 3)]
        lineage = study.lineage(trial.number).lineage
        if lineage.code.has_git:
            assert run.data.tags["mlflow.source.git.commit"] == lineage.code.commit
        inputs = {d.dataset.name: d.dataset.digest for d in run.inputs.dataset_inputs}
        assert set(inputs) == {"train.csv", "labels"}
    mirrored = client.get_model_version_by_alias("exported-model", "champion")
    assert mirrored.run_id == by_trial[version.trial_number].info.run_id
    assert mirrored.tags["hpo.digest"] == version.artifact.digest


def test_names_mlflow_refuses_are_exported_sanitized(sqlite_coordinator, tmp_path) -> None:
    """Issue 10: a metric named ``../../m'`` crashed the export and left an empty RUNNING run
    that a rerun skipped. Now: exported under a sanitized name, the original in a tag."""
    address = sqlite_coordinator.address
    study = hpo.create_study("odd", address=address, sampler={"name": "random", "seed": 1})
    trial = study.ask()
    trial.suggest_float("../p", 0, 1)
    trial.suggest_int("x" * 256, 0, 3)
    trial.log_metric("../../m'", 1.0, step=0)
    trial.log_metric("..hidden", 2.0, step=0)
    trial.log_metric("m_", 3.0, step=0)  # already the sanitized form of the first: a clash
    study.tell(trial, 0.5)

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    summary = export_study("odd", uri, address=address)
    assert summary.runs_created == 1
    client = mlflow.tracking.MlflowClient(tracking_uri=uri)
    (run,) = client.search_runs([summary.experiment_id])
    assert run.info.status == "FINISHED"
    renamed = json.loads(run.data.tags["hpo.renamed"])
    assert {renamed[k]: run.data.metrics[k] for k in renamed if k in run.data.metrics} == {
        "../../m'": 1.0,
        "..hidden": 2.0,
    }
    assert run.data.metrics["m_"] == 3.0
    assert {renamed[k] for k in renamed if k in run.data.params} == {"../p", "x" * 256}
    assert [name for name in mlflow_names(["a/../b", "/abs", "a//b", "", " "]).values()] == [
        "a/b",
        "abs",
        "a/b_2",
        "_",
        " ",
    ]


def test_a_failed_export_leaves_no_run_behind(sqlite_coordinator, tmp_path, monkeypatch) -> None:
    import hpo.bridges.mlflow as bridge

    address = sqlite_coordinator.address
    study = hpo.create_study("half", address=address)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(bridge, "_log", broken)
    with pytest.raises(OSError):
        export_study("half", uri, address=address)
    monkeypatch.undo()
    client = mlflow.tracking.MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("half").experiment_id
    assert client.search_runs([experiment]) == []  # nothing RUNNING, nothing to skip
    assert export_study("half", uri, address=address).runs_created == 2


def test_the_cli_says_in_one_line_what_mlflow_refused(sqlite_coordinator, tmp_path) -> None:
    import subprocess
    import sys

    hpo.create_study("cli", address=sqlite_coordinator.address).optimize(
        lambda t: t.suggest_float("../../m'", 0, 1), n_trials=1
    )
    command = [sys.executable, "-m", "hpo.cli", "export", "mlflow", "--study", "cli"]
    command += ["--address", sqlite_coordinator.address]
    done = subprocess.run(
        [*command, "--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "1 runs logged" in done.stdout
    refused = subprocess.run(
        [*command, "--tracking-uri", "bogus-scheme://nowhere"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert refused.returncode == 1
    lines = [line for line in refused.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: mlflow: "), refused.stderr
