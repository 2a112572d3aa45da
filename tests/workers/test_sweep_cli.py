"""`hpo sweep` as a user runs it: interrupted with Ctrl-C, then resumed to exactly its budget."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import hpo

from .conftest import objective


def test_interrupted_sweep_resumes_to_exactly_its_budget(ray_cluster, tmp_path) -> None:
    storage = f"sqlite:///{tmp_path / 'sweep.db'}"
    env = {**os.environ, "RAY_ADDRESS": ray_cluster, "RAY_AUTH_MODE": "disabled"}
    env.pop("HPO_ADDRESS", None)
    command = [
        sys.executable,
        "-m",
        "hpo.cli",
        "sweep",
        objective("sleepy_objective"),
        "--study",
        "resumable",
        "--trials",
        "12",
        "--workers",
        "2",
        "--storage",
        storage,
        "--sampler",
        "random",
        "--pruner",
        "none",
    ]
    first = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    give_up = time.monotonic() + 120
    while time.monotonic() < give_up:
        done = [t for t in _trials(storage) if t.state == hpo.TrialState.COMPLETE]
        if len(done) >= 3:
            break
        time.sleep(0.2)
    first.send_signal(signal.SIGINT)
    _, err = first.communicate(timeout=120)
    assert first.returncode == 130, err
    assert "--resume" in err
    interrupted = _trials(storage)
    assert 3 <= sum(t.state == hpo.TrialState.COMPLETE for t in interrupted) < 12
    assert not [t for t in interrupted if t.state == hpo.TrialState.RUNNING]

    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 1 and "--resume" in again.stderr  # an existing study needs it
    resumed = subprocess.run(
        [*command, "--resume"], env=env, capture_output=True, text=True, timeout=300
    )
    assert resumed.returncode == 0, resumed.stderr
    assert "best trials" in resumed.stdout
    final = _trials(storage)
    assert sum(t.state == hpo.TrialState.COMPLETE for t in final) == 12
    assert [t.number for t in final] == list(range(len(final)))


def _trials(storage: str) -> list:
    import optuna

    from hpo.storage import optuna_storage

    try:
        return optuna.load_study(study_name="resumable", storage=optuna_storage(storage)).trials
    except KeyError:
        return []
