"""Two coordinators on one PostgreSQL, clients spread over both by gRPC round-robin."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import hpo
from hpo.server import Coordinator

CLIENT = Path(__file__).parent / "clients" / "ask_tell_client.py"


def test_round_robin_over_two_replicas_keeps_every_invariant(postgres_url) -> None:
    with Coordinator(postgres_url) as first, Coordinator(postgres_url) as second:
        both = f"ipv4:127.0.0.1:{first.port},127.0.0.1:{second.port}"
        hpo.create_study("rr", sampler={"name": "random", "seed": 0}, address=first.address)
        procs = [
            subprocess.Popen(
                [sys.executable, str(CLIENT), both, "rr", "12"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(4)
        ]
        told = {}
        for proc in procs:
            out, err = proc.communicate(timeout=240)
            assert proc.returncode == 0, err
            for line in out.splitlines():
                _, number, value = line.split()
                told[int(number)] = float(value)
        trials = hpo.load_study("rr", address=second.address).trials
        written = [c.storage.studies.units_committed for c in (first, second)]
    assert [t.number for t in trials] == list(range(48))
    assert {t.number: t.value for t in trials} == told  # no tell lost, none doubled
    assert all(n > 0 for n in written), written  # both replicas wrote trial changes


def test_two_reapers_one_winner(postgres_url) -> None:
    with (
        Coordinator(postgres_url, reap_interval=3600) as first,
        Coordinator(postgres_url, reap_interval=3600) as second,
    ):
        study = hpo.create_study("reap", lease_seconds=0.2, retry_budget=1, address=first.address)
        trial = study.ask()
        trial.suggest_float("x", 0, 1)
        study._heartbeat.discard(trial.number)  # this client goes silent
        time.sleep(0.5)
        results: list = []
        barrier = threading.Barrier(2)

        def reap(coordinator: Coordinator) -> None:
            barrier.wait()
            results.append(coordinator.service.expire_stale_leases())

        threads = [threading.Thread(target=reap, args=(c,)) for c in (first, second)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        trials = hpo.load_study("reap", address=second.address).trials
    assert sorted(len(r) for r in results) == [0, 1]  # exactly one reaper failed it
    assert [t.state for t in trials] == [hpo.TrialState.FAIL, hpo.TrialState.WAITING]
    assert trials[1].system_attrs["hpo:retry_of"] == 0
