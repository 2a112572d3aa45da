"""Objectives the worker-pool tests run; loaded by path in Ray workers, like `hpo sweep`."""

from __future__ import annotations

import os
import time

import optuna


def gpu_objective(trial) -> float:
    """Records where it ran and when, holding its slot for a moment."""
    start = time.time()
    x = trial.suggest_float("x", 0, 1)
    time.sleep(0.4)
    trial.set_user_attr("cuda_visible_devices", os.environ.get("CUDA_VISIBLE_DEVICES", ""))
    trial.set_user_attr("gpu_ids", trial.gpu_ids)
    trial.set_user_attr("device", trial.device)
    trial.set_user_attr("window", [start, time.time()])
    return x


def slow_objective(trial) -> float:
    """Reports for about two seconds, publishing its process id first (for SIGKILL tests)."""
    trial.set_user_attr("pid", os.getpid())
    x = trial.suggest_float("x", 0, 1)
    for step in range(20):
        time.sleep(0.1)
        trial.report(x + step, step)
    return x


def flaky_objective(trial) -> float:
    x = trial.suggest_float("x", 0, 1)
    time.sleep(0.1)
    if trial.number % 2 == 0:
        raise RuntimeError(f"objective bug on trial {trial.number}")
    return x


def sleepy_objective(trial) -> float:
    x = trial.suggest_float("x", 0, 1)
    time.sleep(0.3)
    if x > 2:  # never: keeps the optuna import honest for pruning-capable objectives
        raise optuna.TrialPruned()
    return x


def model_objective(trial) -> float:
    """Saves a "model" file and uploads it as the trial's artifact."""
    import pickle
    import tempfile
    from pathlib import Path

    x = trial.suggest_float("x", 0, 1)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.pkl"
        path.write_bytes(pickle.dumps({"x": x}))
        trial.log_artifact(path)
    return x


def late_objective(trial) -> float:
    """Trial 0 goes silent past its lease (heartbeats stopped) and then reports late."""
    x = trial.suggest_float("x", 0, 1)
    if trial.number == 0:
        trial.study._heartbeat.discard(trial.number)
        time.sleep(1.5)
        trial.report(x, 0)  # FAILED_PRECONDITION: the coordinator failed this trial
    return x


def steady_objective(trial) -> float:
    """Publishes its process id, then holds its worker for a second (a node can be lost
    mid-trial)."""
    trial.set_user_attr("pid", os.getpid())
    x = trial.suggest_float("x", 0, 1)
    time.sleep(1.0)
    return x


def chatty_objective(trial) -> float:
    """Prints three lines as the last thing it does (their delivery is what is tested)."""
    x = trial.suggest_float("x", 0, 1)
    for line in range(3):
        print(f"trial {trial.number} says {line}", flush=True)
    return x
