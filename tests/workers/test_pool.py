"""The Ray worker pool: GPU placement, failures, SIGKILLed workers, budgets."""

from __future__ import annotations

import os
import signal

import pytest
from hpo.workers import WorkerPool, run_sweep

import hpo

from .conftest import objective, poll_in_background


def overlaps(windows: list[list[float]]) -> int:
    """The largest number of windows open at one moment."""
    events = sorted([(s, 1) for s, _ in windows] + [(e, -1) for _, e in windows])
    most = now = 0
    for _, delta in events:
        now += delta
        most = max(most, now)
    return most


def two_trials_on_one_worker(study: str, address: str) -> None:
    run_sweep(
        objective("sleepy_objective"),
        study=study,
        n_trials=2,
        workers=1,
        coordinator=address,
        progress=False,
    )


def test_half_gpu_trials_run_four_at_a_time_each_on_its_own_gpu(ray_cluster, sqlite_coordinator):
    result = run_sweep(
        objective("gpu_objective"),
        study="gpus",
        n_trials=12,
        workers=6,
        cpus_per_trial=0.25,
        gpus_per_trial=0.5,
        coordinator=sqlite_coordinator.address,
        progress=False,
    )
    assert result.counts["complete"] == 12 and result.stopped is None
    trials = hpo.load_study("gpus", address=sqlite_coordinator.address).trials
    for t in trials:
        assert t.user_attrs["device"] == "cuda"
        assert t.user_attrs["cuda_visible_devices"] in ("0", "1")
        assert t.user_attrs["gpu_ids"] == [t.user_attrs["cuda_visible_devices"]]
    assert 2 <= overlaps([t.user_attrs["window"] for t in trials]) <= 4
    for gpu in ("0", "1"):
        on_gpu = [
            t.user_attrs["window"] for t in trials if t.user_attrs["cuda_visible_devices"] == gpu
        ]
        assert overlaps(on_gpu) <= 2


def test_sigkilled_worker_loses_no_trial(ray_cluster, sqlite_coordinator):
    address = sqlite_coordinator.address
    killed: list[int] = []

    def kill_one_mid_trial(pool: WorkerPool) -> None:
        study = hpo.load_study("killed", address=address)

        def kill_one() -> bool:
            for t in study.get_trials(states=(hpo.TrialState.RUNNING,)):
                if len(t.intermediate_values) >= 3 and "pid" in t.user_attrs:
                    os.kill(t.user_attrs["pid"], signal.SIGKILL)
                    killed.append(t.number)
                    return True
            return False

        poll_in_background(kill_one)

    result = run_sweep(
        objective("slow_objective"),
        study="killed",
        n_trials=6,
        workers=2,
        coordinator=address,
        pruner="none",
        progress=False,
        on_start=kill_one_mid_trial,
    )
    assert killed, "no worker was killed"
    trials = hpo.load_study("killed", address=address).trials
    assert [t.number for t in trials] == list(range(len(trials)))
    finished = [t for t in trials if t.state == hpo.TrialState.COMPLETE]
    assert len(finished) == 6 == result.counts["complete"]
    assert not [t for t in trials if t.state == hpo.TrialState.RUNNING]
    victim = trials[killed[0]]
    # resumed by the restarted worker (same client id), or failed by its lease and retried
    assert victim.state == hpo.TrialState.COMPLETE or any(
        t.system_attrs.get("hpo:retry_of") == victim.number for t in trials
    )


def test_objective_errors_fail_trials_and_max_failures_stops(ray_cluster, sqlite_coordinator):
    address = sqlite_coordinator.address
    result = run_sweep(
        objective("flaky_objective"),
        study="flaky",
        n_trials=4,
        workers=2,
        coordinator=address,
        progress=False,
    )
    assert result.counts["complete"] == 4 and result.stopped is None
    failed = hpo.load_study("flaky", address=address).get_trials(states=(hpo.TrialState.FAIL,))
    assert failed and all("objective bug" in t.system_attrs["hpo:fail_reason"] for t in failed)

    stopped = run_sweep(
        objective("flaky_objective"),
        study="flakier",
        n_trials=40,
        workers=2,
        coordinator=address,
        progress=False,
        max_failures=2,
    )
    assert stopped.stopped is not None
    assert stopped.stopped.startswith(
        "more than 2 trials failed; the last: RuntimeError: objective"
    )
    trials = hpo.load_study("flakier", address=address).trials
    assert len(trials) < 40
    assert not [t for t in trials if t.state == hpo.TrialState.RUNNING]


def test_an_existing_study_goes_on_with_its_own_settings(ray_cluster, sqlite_coordinator):
    address = sqlite_coordinator.address
    two_trials_on_one_worker("again", address)
    again = run_sweep(  # the same call again: the budget is spent, nothing runs
        objective("sleepy_objective"),
        study="again",
        n_trials=2,
        coordinator=address,
        progress=False,
    )
    assert again.counts["complete"] == 2 and again.worker_trials == {}
    with pytest.raises(hpo.FailedPreconditionError, match="directions: stored minimize"):
        run_sweep(
            objective("sleepy_objective"),
            study="again",
            direction="maximize",
            resume=True,
            coordinator=address,
            progress=False,
        )
    with pytest.raises(hpo.NotFoundError, match="does not exist"):
        run_sweep(
            objective("sleepy_objective"),
            study="never-started",
            resume=True,
            coordinator=address,
            progress=False,
        )
    assert len(hpo.load_study("again", address=address).trials) == 2


def test_python_function_objective(ray_cluster, sqlite_coordinator):
    """A function defined in a notebook or script travels to the workers by value."""
    offset = 3.0
    result = run_sweep(
        lambda trial: trial.suggest_float("x", 0, 1) + offset,
        study="fn",
        n_trials=3,
        workers=1,
        coordinator=sqlite_coordinator.address,
        progress=False,
    )
    assert result.counts["complete"] == 3
    assert all(t.value >= 3.0 for t in result.best_trials)


def test_each_trial_records_the_ray_node_it_ran_on(ray_cluster, sqlite_coordinator):
    import ray

    address = sqlite_coordinator.address
    two_trials_on_one_worker("where", address)
    node = ray.get_runtime_context().get_node_id()  # the driver's: the only node here
    study = hpo.load_study("where", address=address)
    assert [study.lineage(n).lineage.environment.ray_node_id for n in (0, 1)] == [node, node]


def test_sweep_registers_its_best_trial(ray_cluster, sqlite_coordinator):
    address = sqlite_coordinator.address
    result = run_sweep(
        objective("model_objective"),
        study="reg",
        n_trials=4,
        workers=2,
        direction="maximize",
        coordinator=address,
        progress=False,
        register="sweep-model",
    )
    best = max(hpo.load_study("reg", address=address).trials, key=lambda t: t.value)
    assert (result.registered.version, result.registered.trial_number) == (1, best.number)
    assert hpo.registry.load("sweep-model", version=1, address=address).name == "model.pkl"


def test_a_worker_declared_stale_stops_its_trial_cleanly(ray_cluster, sqlite_coordinator):
    """A worker whose lease expired (here: heartbeats slower than the lease) is told
    FAILED_PRECONDITION on its late calls; the pool carries on and the sweep completes."""
    address = sqlite_coordinator.address
    result = run_sweep(
        objective("late_objective"),
        study="late",
        n_trials=3,
        workers=1,
        coordinator=address,
        lease_seconds=0.3,
        retry_budget=0,
        pruner="none",
        progress=False,
    )
    trials = hpo.load_study("late", address=address).trials
    assert result.stopped is None and result.counts["complete"] == 3
    failed = [t for t in trials if t.state == hpo.TrialState.FAIL]
    assert failed and all("lease expired" in t.system_attrs["hpo:fail_reason"] for t in failed)
