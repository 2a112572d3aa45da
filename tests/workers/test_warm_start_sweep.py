"""`hpo sweep --warm-start` as a user runs it, against a live coordinator."""

from __future__ import annotations

import os
import subprocess
import sys

import hpo
from hpo.client import connect
from hpo.server import Coordinator
from hpo.v1 import coordinator_pb2 as api

from .conftest import objective

HPO = [sys.executable, "-m", "hpo.cli"]


def sweep(address: str, ray: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "RAY_ADDRESS": ray, "RAY_AUTH_MODE": "disabled"}
    command = [
        *HPO,
        "sweep",
        objective("sleepy_objective"),
        "--coordinator",
        address,
        "--workers",
        "1",
        "--sampler",
        "tpe",
        "--pruner",
        "none",
        *args,
    ]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


def test_sweep_warm_started_from_a_named_study(ray_cluster, sqlite_coordinator: Coordinator):
    address = sqlite_coordinator.address
    first = hpo.create_study("first", sampler={"name": "tpe", "seed": 1}, address=address)
    first.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=8)

    done = sweep(
        address, ray_cluster, "--study", "second", "--trials", "4", "--warm-start", "first"
    )
    assert done.returncode == 0, done.stderr
    second = hpo.load_study("second", address=address)
    assert [t.number for t in second.trials] == [0, 1, 2, 3]  # its own trials only
    assert second.trials[0].params == first.best_params  # the source's best came first
    assert [(s.study, s.reason) for s in second.warm_start] == [
        ("first", "named; matched parameter by parameter (define-by-run)")
    ]
    shown = subprocess.run(
        [*HPO, "studies", "show", "second", "--address", address],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    assert "warm start" in shown.stdout and "first: named" in shown.stdout

    missing = sweep(
        address, ray_cluster, "--study", "third", "--trials", "2", "--warm-start", "nope"
    )
    assert missing.returncode == 1
    assert "NOT_FOUND: warm_start.studies[0]: no study named 'nope'" in missing.stderr
    assert "Traceback" not in missing.stderr
    listed = connect(address).call("ListStudies", api.ListStudiesRequest()).studies
    assert [s.name for s in listed] == ["first", "second"]  # the refused sweep created none
