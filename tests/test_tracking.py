"""Lineage: captured without asking, hashed fast and right, frozen once the trial finishes."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import blake3
import grpc
import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

import hpo
from hpo.server import Coordinator
from hpo.tracking import DigestCache, code_version, hash_array, hash_dataframe, hash_path
from hpo.v1 import tracking_pb2 as trk
from hpo.v1 import tracking_pb2_grpc as trk_grpc


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout.strip()


def test_code_version_of_clean_dirty_and_no_git(tmp_path) -> None:
    assert code_version.__wrapped__(str(tmp_path)) == {"has_git": False}
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(
        repo,
        "-c",
        "user.email=a@b",
        "-c",
        "user.name=t",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "x",
    )
    (repo / "train.py").write_text("print(1)\n")
    git(repo, "add", "train.py")
    git(repo, "-c", "user.email=a@b", "-c", "user.name=t", "commit", "-q", "-m", "train")
    clean = code_version.__wrapped__(str(repo))
    assert clean == {
        "has_git": True,
        "commit": git(repo, "rev-parse", "HEAD"),
        "branch": "main",
        "dirty": False,
    }

    (repo / "train.py").write_text("print(2)\n")
    edited = code_version.__wrapped__(str(repo))
    assert edited["dirty"] and len(edited["diff_digest"]) == 64
    (repo / "notes.txt").write_text("untracked")
    with_untracked = code_version.__wrapped__(str(repo))
    assert with_untracked["diff_digest"] != edited["diff_digest"]
    (repo / "notes.txt").write_text("untracked, edited")
    assert code_version.__wrapped__(str(repo))["diff_digest"] != with_untracked["diff_digest"]


def test_hashes_are_stable_and_content_based(tmp_path) -> None:
    (tmp_path / "d" / "sub").mkdir(parents=True)
    (tmp_path / "d" / "a.csv").write_text("1,2\n")
    (tmp_path / "d" / "sub" / "b.csv").write_text("3,4\n")
    first = hash_path(tmp_path / "d")
    assert first.kind == "directory" and first.size_bytes == 8
    os.rename(tmp_path / "d", tmp_path / "e")  # the tree, not where it lives, is hashed
    assert hash_path(tmp_path / "e").digest == first.digest
    (tmp_path / "e" / "sub" / "b.csv").write_text("3,5\n")
    assert hash_path(tmp_path / "e").digest != first.digest

    assert hash_array(np.arange(6).reshape(2, 3)).digest != hash_array(np.arange(6)).digest
    assert hash_array(np.arange(6)).digest == hash_array(np.arange(6).copy()).digest
    frame = pd.DataFrame({"x": [1, 2], "y": ["a", "b"]})
    assert hash_dataframe(frame).digest == hash_dataframe(frame.copy()).digest
    assert hash_dataframe(frame).digest != hash_dataframe(frame.rename(columns={"y": "z"})).digest


def test_unchanged_files_are_not_read_again(tmp_path) -> None:
    data = tmp_path / "data.bin"
    data.write_bytes(os.urandom(1 << 20))
    cache = DigestCache()
    first = hash_path(data, cache)
    data.chmod(0o000)  # a second read would fail: the cached digest must be used
    try:
        if os.geteuid() == 0:  # root reads anyway; prove the cache by the entry it holds
            assert len(cache._digests) == 1
        assert hash_path(data, cache) == first
    finally:
        data.chmod(0o644)
    with open(data, "ab") as f:
        f.write(b"more")  # size and mtime change: hashed again
    assert hash_path(data, cache).digest != first.digest


def test_every_trial_records_code_and_environment(sqlite_coordinator: Coordinator) -> None:
    study = hpo.create_study("auto", address=sqlite_coordinator.address)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    for number in (0, 1):
        lineage = study.lineage(number).lineage
        assert lineage.environment.python and lineage.environment.hostname
        assert lineage.environment.packages["optuna"]
        assert lineage.environment.ray_node_id == ""  # not run in a Ray worker
        assert lineage.code.has_git == (code_version()["has_git"])


def test_log_calls_and_frozen_lineage(sqlite_coordinator: Coordinator, tmp_path) -> None:
    study = hpo.create_study("frozen", address=sqlite_coordinator.address)
    trial = study.ask()
    trial.log_seed(7)
    csv = tmp_path / "train.csv"
    csv.write_text("a,b\n1,2\n")
    trial.log_data(csv)
    trial.log_data(np.ones(3), name="weights")
    trial.log_metric("val_loss", 0.5, step=0)
    trial.log_metric("val_loss", 0.4, step=1)
    trial.log_metric("val_loss", 9.9, step=1)  # the first value of a step stays
    model = tmp_path / "model.bin"
    model.write_bytes(b"weights" * 1000)
    record = trial.log_artifact(model)
    study.tell(trial, 0.4)

    lineage = study.lineage(trial.number)
    assert lineage.lineage.seed == 7
    assert {d.name: d.kind for d in lineage.data} == {"train.csv": "file", "weights": "ndarray"}
    assert [(m.step, m.value) for m in lineage.metrics] == [(0, 0.5), (1, 0.4)]
    assert [(a.name, a.size_bytes) for a in lineage.artifacts] == [("model.bin", 7000)]
    assert record.digest == hash_path(model).digest

    with sqlite_coordinator.storage.engine.connect() as conn:
        before = [
            conn.execute(sa.text(f"SELECT COUNT(*) FROM {t}")).scalar_one()
            for t in ("hpo_lineage", "hpo_data", "hpo_metrics", "hpo_artifacts")
        ]
    for late in (
        lambda: trial.log_metric("late", 1.0),
        lambda: trial.log_data(np.zeros(2)),
        lambda: trial.log_seed(1),
        lambda: trial.log_artifact(model),
    ):
        with pytest.raises(hpo.FailedPreconditionError):
            late()
    with sqlite_coordinator.storage.engine.connect() as conn:
        after = [
            conn.execute(sa.text(f"SELECT COUNT(*) FROM {t}")).scalar_one()
            for t in ("hpo_lineage", "hpo_data", "hpo_metrics", "hpo_artifacts")
        ]
    assert after == before


def test_uploads_that_break_off_or_lie_leave_nothing(sqlite_coordinator: Coordinator) -> None:
    study = hpo.create_study("uploads", address=sqlite_coordinator.address)
    trial = study.ask()
    store = Path(sqlite_coordinator.artifacts_url)
    whole = b"x" * 5000
    header = trk.ArtifactHeader(
        study="uploads",
        trial_number=trial.number,
        name="m.bin",
        expected_digest=blake3.blake3(whole).hexdigest(),
    )

    def broken():
        yield trk.UploadArtifactRequest(header=header)
        yield trk.UploadArtifactRequest(chunk=b"x" * 1000)
        raise RuntimeError("client died mid-upload")

    with grpc.insecure_channel(sqlite_coordinator.address) as channel:
        stub = trk_grpc.TrackingStub(channel)
        with pytest.raises(grpc.RpcError):
            stub.UploadArtifact(broken())  # the server sees 1000 of the 5000 bytes announced
        lying = trk.ArtifactHeader(
            study="uploads", trial_number=trial.number, name="m.bin", expected_digest="0" * 64
        )
        with pytest.raises(grpc.RpcError) as info:
            stub.UploadArtifact(
                iter(
                    [
                        trk.UploadArtifactRequest(header=lying),
                        trk.UploadArtifactRequest(chunk=b"abc"),
                    ]
                )
            )
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "expected_digest" in info.value.details()
        for bad, field in (
            ("../x", "header.name"),
            ("", "header.name"),
            ("ok.bin", "header.expected_digest"),
        ):
            request = trk.ArtifactHeader(
                study="uploads",
                trial_number=trial.number,
                name=bad,
                expected_digest="" if bad == "ok.bin" else "a" * 64,
            )
            with pytest.raises(grpc.RpcError) as info:
                stub.UploadArtifact(iter([trk.UploadArtifactRequest(header=request)]))
            assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert field in info.value.details()
    assert list((store / "tmp").iterdir()) == []
    assert [p for p in (store / "objects").rglob("*") if p.is_file()] == []
    assert len(study.lineage(trial.number).artifacts) == 0
