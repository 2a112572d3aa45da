"""SQLite under concurrent writers: two coordinators on one file, many client threads each;
"database is locked" never reaches a client, and every invariant holds."""

from __future__ import annotations

import threading

import hpo
from hpo.server import Coordinator


def test_concurrent_writers_on_one_sqlite_file(sqlite_url) -> None:
    errors: list[BaseException] = []
    with Coordinator(sqlite_url) as first, Coordinator(sqlite_url) as second:
        hpo.create_study("busy", sampler="random", address=first.address)

        def client(address: str) -> None:
            try:
                study = hpo.load_study("busy", address=address)
                for _ in range(10):
                    trial = study.ask()
                    x = trial.suggest_float("x", 0, 1)
                    trial.report(x, 0)
                    study.tell(trial, x)
            except BaseException as e:  # surfaced below, with the whole list
                errors.append(e)

        threads = [threading.Thread(target=client, args=(c.address,)) for c in (first, second) * 4]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        trials = hpo.load_study("busy", address=first.address).trials
    assert errors == []
    assert [t.number for t in trials] == list(range(80))
    assert all(t.state == hpo.TrialState.COMPLETE and t.intermediate_values for t in trials)
