"""The model registry: from best trial to a model loaded by name, and its refusals."""

from __future__ import annotations

import pickle
import subprocess
import sys
import threading
from pathlib import Path

import grpc
import pytest
import sqlalchemy as sa

import hpo
from hpo.server import Coordinator
from hpo.v1 import registry_pb2 as reg
from hpo.v1 import registry_pb2_grpc as reg_grpc


def study_with_artifacts(address: str, tmp_path: Path, name: str = "models") -> hpo.Study:
    study = hpo.create_study(name, direction="maximize", address=address)
    for value in (0.5, 0.9):
        trial = study.ask()
        path = tmp_path / f"model-{trial.number}.pkl"
        path.write_bytes(pickle.dumps({"value": value}))
        trial.log_artifact(path, name="model.pkl")
        study.tell(trial, value)
    return study


def counts(coordinator: Coordinator) -> tuple[int, int]:
    with coordinator.storage.engine.connect() as conn:
        return tuple(
            conn.execute(sa.text(f"SELECT COUNT(*) FROM {t}")).scalar_one()
            for t in ("hpo_model_versions", "hpo_model_aliases")
        )


def test_refusals_write_nothing(sqlite_coordinator: Coordinator, tmp_path) -> None:
    address = sqlite_coordinator.address
    study = study_with_artifacts(address, tmp_path)
    running = study.ask()
    bare = study.ask()
    study.tell(bare, 0.1)  # complete, but no artifact
    cases = [
        (
            lambda: hpo.registry.register("m", "models", trial=running.number, address=address),
            hpo.FailedPreconditionError,
            "RUNNING",
        ),
        (
            lambda: hpo.registry.register("m", "models", trial=bare.number, address=address),
            hpo.FailedPreconditionError,
            "no artifact",
        ),
        (
            lambda: hpo.registry.register("m", "models", trial=1, artifact="x", address=address),
            hpo.InvalidArgumentError,
            "artifact_name",
        ),
        (
            lambda: hpo.registry.register("bad name!", "models", address=address),
            hpo.InvalidArgumentError,
            "name",
        ),
        (lambda: hpo.registry.register("m", "nope", address=address), hpo.NotFoundError, "nope"),
        (
            lambda: hpo.registry.set_alias("m", 3, "champion", address=address),
            hpo.NotFoundError,
            "version",
        ),
        (
            lambda: hpo.registry.get_version("m", alias="champion", address=address),
            hpo.NotFoundError,
            "alias",
        ),
    ]
    for call, error, text in cases:
        with pytest.raises(error, match=text):
            call()
    assert counts(sqlite_coordinator) == (0, 0)
    version = hpo.registry.register("m", "models", address=address)  # the best trial
    assert (version.version, version.trial_number) == (1, 1)
    for alias in ("7", "with space"):
        with pytest.raises(hpo.InvalidArgumentError, match="alias"):
            hpo.registry.set_alias("m", 1, alias, address=address)
    assert counts(sqlite_coordinator) == (1, 0)


def test_concurrent_registrations_and_retries(coordinator: Coordinator, tmp_path) -> None:
    address = coordinator.address
    study_with_artifacts(address, tmp_path)
    versions: list[int] = []

    def register() -> None:
        versions.append(hpo.registry.register("race", "models", address=address).version)

    threads = [threading.Thread(target=register) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(versions) == [1, 2, 3, 4]

    with grpc.insecure_channel(address) as channel:
        stub = reg_grpc.RegistryStub(channel)
        request = reg.RegisterModelRequest(name="race", study="models", request_id="r-1")
        first, again = stub.RegisterModel(request), stub.RegisterModel(request)
        assert first.version == again.version == 5
        request.trial_number = 0
        with pytest.raises(grpc.RpcError) as info:
            stub.RegisterModel(request)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "request_id" in info.value.details()
        request.request_id = "r" * 1025  # stored with the version: at most 1,024 characters
        with pytest.raises(grpc.RpcError) as info:
            stub.RegisterModel(request)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert info.value.details().startswith("request_id: at most 1024")
    assert [v.version for m in hpo.registry.list_models(address=address) for v in m.versions] == [
        1,
        2,
        3,
        4,
        5,
    ]


LOAD_AND_SCORE = """
import pickle, sys, hpo
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
X, y = load_digits(return_X_y=True)
_, X_val, _, y_val = train_test_split(X, y, test_size=0.3, random_state=0)
path = hpo.registry.load("digits-clf", alias="champion", address=sys.argv[1])
model = pickle.loads(path.read_bytes())
print(repr(float(model.score(X_val, y_val))))
"""


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_sweep_register_alias_load_predict(sqlite_coordinator: Coordinator, tmp_path, monkeypatch):
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.3, random_state=0)
    address = sqlite_coordinator.address

    def objective(trial: hpo.Trial) -> float:
        trial.log_data(X_train, name="X_train")
        model = LogisticRegression(C=trial.suggest_float("C", 1e-4, 10, log=True), max_iter=300)
        model.fit(X_train, y_train)
        accuracy = float(model.score(X_val, y_val))
        trial.log_metric("val_accuracy", accuracy)
        path = tmp_path / f"model-{trial.number}.pkl"
        path.write_bytes(pickle.dumps(model))
        trial.log_artifact(path, name="model.pkl")
        return accuracy

    study = hpo.create_study(
        "digits-lr", direction="maximize", address=address, sampler={"name": "random", "seed": 0}
    )
    study.optimize(objective, n_trials=4)
    version = hpo.registry.register("digits-clf", "digits-lr", address=address)
    hpo.registry.set_alias("digits-clf", version.version, "champion", address=address)
    best = study.best_trial
    recorded = {m.name: m.value for m in study.lineage(best.number).metrics}["val_accuracy"]

    cache = tmp_path / "cache"
    env = {"HPO_CACHE_DIR": str(cache), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-c", LOAD_AND_SCORE, address],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert float(result.stdout.strip()) == recorded == best.value

    # A corrupted object in the store is refused, never loaded.
    store = Path(sqlite_coordinator.artifacts_url) / "objects"
    digest = version.artifact.digest
    (store / digest[:2] / digest).write_bytes(b"tampered")
    monkeypatch.setenv("HPO_CACHE_DIR", str(tmp_path / "fresh-cache"))
    with pytest.raises(hpo.IntegrityError):
        hpo.registry.load("digits-clf", alias="champion", address=address)
    assert not list((tmp_path / "fresh-cache").rglob("*.pkl"))
