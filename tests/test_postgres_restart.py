"""Reliability: PostgreSQL restarted while clients run. Calls fail with UNAVAILABLE during the
outage, the SDK's retries succeed afterwards, and nothing is lost or doubled.

Restarts the machine's PostgreSQL cluster with pg_ctlcluster (as .ci/run starts it)."""

from __future__ import annotations

import glob
import os
import subprocess
import sys
import time
from pathlib import Path

import hpo
from hpo.server import Coordinator

CLIENT = Path(__file__).parent / "clients" / "ask_tell_client.py"


def restart_postgres() -> None:
    version = sorted(os.path.basename(p) for p in glob.glob("/etc/postgresql/*"))[-1]
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    for _ in range(60):
        if subprocess.run(["pg_isready", "-h", "127.0.0.1", "-p", "5432", "-q"]).returncode == 0:
            return
        time.sleep(0.5)
    raise AssertionError("PostgreSQL did not come back")


def test_clients_ride_out_a_postgres_restart(postgres_url) -> None:
    with Coordinator(postgres_url) as coordinator:
        hpo.create_study("pg", sampler="random", address=coordinator.address)
        procs = [
            subprocess.Popen(
                [sys.executable, str(CLIENT), coordinator.address, "pg", "40"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(3)
        ]
        study = hpo.load_study("pg", address=coordinator.address)
        while len(study.trials) < 10:
            time.sleep(0.05)
        restart_postgres()
        told = {}
        for proc in procs:
            out, err = proc.communicate(timeout=300)
            assert proc.returncode == 0, err
            for line in out.splitlines():
                _, number, value = line.split()
                told[int(number)] = float(value)
        trials = hpo.load_study("pg", address=coordinator.address).trials
    assert len(told) == 120
    complete = {t.number: t.value for t in trials if t.state == hpo.TrialState.COMPLETE}
    assert complete == told  # every tell arrived once, with its value
    assert [t.number for t in trials] == list(range(len(trials)))
    # a trial whose Ask died with the connection is left running for its lease, never doubled
    assert all(t.state in (hpo.TrialState.COMPLETE, hpo.TrialState.RUNNING) for t in trials)
