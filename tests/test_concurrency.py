"""Many client processes against one coordinator: numbering and tells stay exact."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import hpo
from hpo.server import Coordinator

CLIENT = Path(__file__).parent / "clients" / "ask_tell_client.py"


def run_clients(address: str, study: str, processes: int, rounds: int) -> list[str]:
    procs = [
        subprocess.Popen(
            [sys.executable, str(CLIENT), address, study, str(rounds)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    lines = []
    for proc in procs:
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
        lines += out.splitlines()
    return lines


def test_processes_times_rounds_numbers_are_exact(coordinator: Coordinator) -> None:
    processes, rounds = 4, 15
    hpo.create_study("race", sampler={"name": "random", "seed": 0}, address=coordinator.address)

    told = run_clients(coordinator.address, "race", processes, rounds)

    study = hpo.load_study("race", address=coordinator.address)
    trials = study.trials
    assert [t.number for t in trials] == list(range(processes * rounds))
    assert all(t.state == hpo.TrialState.COMPLETE for t in trials)
    reported = {int(n): float(v) for _, n, v in (line.split() for line in told)}
    assert len(reported) == processes * rounds
    assert {t.number: t.value for t in trials} == reported
    assert all(t.intermediate_values == {0: t.params["x"]} for t in trials)


OPTIMIZE_CLIENT = """
import sys, hpo
study = hpo.load_study(sys.argv[2], address=sys.argv[1])
study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1000)
"""


def test_two_coordinators_on_one_database_never_overshoot_the_budget(db_url: str) -> None:
    budget = 24
    with Coordinator(db_url) as first, Coordinator(db_url) as second:
        hpo.create_study("shared", sampler="random", trial_budget=budget, address=first.address)
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", OPTIMIZE_CLIENT, address, "shared"],
                stderr=subprocess.PIPE,
                text=True,
            )
            for address in (first.address, second.address) * 2
        ]
        for proc in procs:
            _, err = proc.communicate(timeout=240)
            assert proc.returncode == 0, err
        trials = hpo.load_study("shared", address=second.address).trials
    assert [t.number for t in trials] == list(range(budget))
    assert all(t.state == hpo.TrialState.COMPLETE for t in trials)


def test_failed_trials_give_their_budget_back(sqlite_coordinator: Coordinator) -> None:
    study = hpo.create_study("fb", trial_budget=3, address=sqlite_coordinator.address)

    def sometimes_broken(trial: hpo.Trial) -> float:
        if trial.number == 0:
            raise RuntimeError("flaky")
        return trial.suggest_float("x", 0, 1)

    study.optimize(sometimes_broken, n_trials=10, catch=(RuntimeError,))
    states = [t.state for t in study.trials]
    assert states == [hpo.TrialState.FAIL] + [hpo.TrialState.COMPLETE] * 3
    study.enqueue_trial({"x": 0.5})  # the budget holds for enqueued trials too
    with pytest.raises(hpo.BudgetSpentError):
        study.ask()


def test_enqueued_trials_do_not_run_past_the_budget(sqlite_coordinator: Coordinator) -> None:
    study = hpo.create_study("queue", trial_budget=2, address=sqlite_coordinator.address)
    for x in range(5):
        study.enqueue_trial({"x": float(x)})
    handed_out = [study.ask().suggest_float("x", 0, 10) for _ in range(2)]
    with pytest.raises(hpo.BudgetSpentError):
        study.ask()
    assert handed_out == [0.0, 1.0]
    assert [t.state for t in study.trials].count(hpo.TrialState.WAITING) == 3
