"""A sweep given two coordinator replicas goes on when one is SIGKILLed."""

from __future__ import annotations

import signal

from hpo.workers import WorkerPool, run_sweep

import hpo
from tests.serverproc import hpo_server

from .conftest import objective, poll_in_background

# Long enough (0.3 s a trial, two workers) that the replica dies mid-sweep on a busy machine
# (12 was not, once, nor 30 once in a full suite: the poller saw three trials done only when
# all were).
BUDGET = 45


def test_sweep_survives_sigkill_of_one_coordinator_replica(ray_cluster, postgres_url) -> None:
    with (
        hpo_server("--db", postgres_url) as (doomed, doomed_address),
        hpo_server("--db", postgres_url) as (_, survivor),
    ):
        killed_after: list[int] = []

        def kill_one_replica_mid_sweep(pool: WorkerPool) -> None:
            study = hpo.load_study("replicas", address=survivor)

            def kill_once_three_finished() -> bool:
                done = len(study.get_trials(states=(hpo.TrialState.COMPLETE,)))
                if done >= 3:
                    doomed.send_signal(signal.SIGKILL)
                    killed_after.append(done)
                return done >= 3

            poll_in_background(kill_once_three_finished)

        result = run_sweep(
            objective("sleepy_objective"),
            study="replicas",
            n_trials=BUDGET,
            workers=2,
            cpus_per_trial=0.5,
            coordinator=f"{doomed_address},{survivor}",
            progress=False,
            on_start=kill_one_replica_mid_sweep,
        )
        assert doomed.wait(timeout=10) == -signal.SIGKILL
        trials = hpo.load_study("replicas", address=survivor).trials
    assert killed_after and killed_after[0] < BUDGET, "the replica was not killed mid-sweep"
    assert result.counts["complete"] == BUDGET and result.stopped is None
    assert [t.number for t in trials] == list(range(BUDGET))  # consecutive: none lost or doubled
    assert all(t.state == hpo.TrialState.COMPLETE for t in trials)  # nothing left RUNNING
    assert all(t.value == t.params["x"] for t in trials)  # every tell arrived as sent
