"""Reliability: a coordinator killed with SIGKILL mid-sweep and restarted loses nothing."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import hpo

CLIENT = """
import sys, time, hpo
study = hpo.load_study(sys.argv[2], address=sys.argv[1])
def objective(trial):
    x = trial.suggest_float("x", 0, 1)
    for step in range(3):
        time.sleep(0.05)
        trial.report(x + step, step)
    return x
study.optimize(objective, n_trials=1000)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(db: str, port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "hpo.cli", "server", "--db", db, "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert "listening on" in proc.stdout.readline(), proc.stderr.read()
    return proc


def test_coordinator_sigkill_mid_sweep_then_restart(tmp_path) -> None:
    db, port = f"sqlite:///{tmp_path / 'hpo.db'}", free_port()
    address = f"127.0.0.1:{port}"
    server = start_server(db, port)
    budget = 30
    hpo.create_study(
        "crash",
        sampler="random",
        trial_budget=budget,
        retry_budget=2,
        lease_seconds=5,
        address=address,
    )
    clients = [
        subprocess.Popen(
            [sys.executable, "-c", CLIENT, address, "crash"], stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    study = hpo.load_study("crash", address=address)
    while sum(t.state == hpo.TrialState.COMPLETE for t in study.trials) < 6:
        time.sleep(0.1)
    before = {t.number: t.value for t in study.trials if t.state == hpo.TrialState.COMPLETE}
    os.kill(server.pid, signal.SIGKILL)
    server.wait()
    time.sleep(1.0)  # clients now see UNAVAILABLE and retry with backoff
    server = start_server(db, port)
    try:
        for client in clients:
            _, err = client.communicate(timeout=240)
            assert client.returncode == 0, err
        trials = hpo.load_study("crash", address=address).trials
    finally:
        server.kill()
        server.wait()
    assert [t.number for t in trials] == list(range(len(trials)))
    done = [t for t in trials if t.state == hpo.TrialState.COMPLETE]
    assert len(done) == budget
    assert all(trials[n].value == v for n, v in before.items())  # completed trials intact
    assert not [t for t in trials if t.state in (hpo.TrialState.RUNNING, hpo.TrialState.WAITING)]
