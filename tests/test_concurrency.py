"""Many client processes against one coordinator: numbering and tells stay exact."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
