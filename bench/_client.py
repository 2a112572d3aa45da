"""One benchmark client process: loads the study, says "ready", waits for "go" on stdin, runs
N trials, prints JSON timing.

Usage: python _client.py KIND TARGET STUDY MODE N
  KIND   hpo (TARGET = host:port) | proxy (Optuna's GrpcStorageProxy, TARGET = host:port)
         | rdb (Optuna RDBStorage, TARGET = database URL)
  MODE   declared (ask with a 5-float space + tell) | dbr (ask + 5 suggest_float + tell)
"""

from __future__ import annotations

import json
import os
import sys
import time
import warnings

import optuna
from optuna.distributions import FloatDistribution

SPACE = {f"x{i}": FloatDistribution(0.0, 1.0) for i in range(5)}


def hpo_loop(study, mode: str, n: int) -> None:
    """N trials of the benchmark's objective through an hpo study (hpo.load_study): ask, then
    tell_and_ask (one round trip between two trials), and a last tell."""
    client_id = f"bench-{os.getpid()}"
    trial = study.ask(client_id=client_id)
    for done in range(1, n + 1):
        if mode == "dbr":
            value = sum(trial.suggest_float(name, 0.0, 1.0) for name in SPACE)
        else:
            value = sum(trial.params.values())
        if done == n:
            study.tell(trial, value)
        else:
            _, trial = study.tell_and_ask(trial, value, client_id=client_id)


def optuna_loop(study: optuna.Study, mode: str, n: int) -> None:
    """N trials of the benchmark's objective through an in-process Optuna study."""
    for _ in range(n):
        if mode == "dbr":
            trial = study.ask()
            value = sum(trial.suggest_float(name, 0.0, 1.0) for name in SPACE)
        else:
            trial = study.ask(SPACE)
            value = sum(trial.params.values())
        study.tell(trial, value)


def main() -> None:
    kind, target, study_name, mode, n = sys.argv[1:6]
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
    # Every peer's study is loaded (its connection made) before "ready", as Vizier's client
    # does: the timed part is the trials alone.
    if kind == "hpo":
        import hpo

        study = hpo.load_study(study_name, address=target)
        runner = lambda: hpo_loop(study, mode, int(n))  # noqa: E731
    else:
        if kind == "proxy":
            host, port = target.rsplit(":", 1)
            storage = optuna.storages.GrpcStorageProxy(host=host, port=int(port))
        else:
            storage = optuna.storages.RDBStorage(target)
        sampler = optuna.samplers.RandomSampler()
        loaded = optuna.load_study(study_name=study_name, storage=storage, sampler=sampler)
        runner = lambda: optuna_loop(loaded, mode, int(n))  # noqa: E731
    print("ready", flush=True)
    sys.stdin.readline()
    start = time.time()
    runner()
    print(json.dumps({"start": start, "end": time.time(), "trials": int(n)}), flush=True)


if __name__ == "__main__":
    main()
