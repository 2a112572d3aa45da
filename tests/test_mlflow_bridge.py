"""`hpo export mlflow` against a local MLflow SQLite store."""

from __future__ import annotations

import pickle

import mlflow
import numpy as np
import pytest

import hpo
from hpo.bridges.mlflow import export_study
from hpo.server import Coordinator


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
