"""Coordinator throughput and TPE ask latency against Optuna, measured side by side.

    python bench/bench_coordinator.py                 # both parts, 3 repeats, medians
    python bench/bench_coordinator.py throughput --repeats 5
    python bench/bench_coordinator.py tpe-latency

Throughput: trials per second with the random sampler on a fresh SQLite file per run, for
1 and 4 client processes, with a declared 5-float space and define-by-run (5 suggest_float a
trial). Each client loads its study before the clock starts and runs its own library's loop:
hpo's ask once, then tell_and_ask between two trials (bench/_client.py), Optuna's ask + tell,
Vizier's suggest + complete. Peers on the same kind of file: Optuna's gRPC storage proxy
(run_grpc_proxy_server on RDBStorage + GrpcStorageProxy), in-process RDBStorage, and
in-process InMemoryStorage (one process). Ratios are hpo / peer; medians of the repeats.
OSS Vizier is a peer for the declared space (it has no define-by-run): its own server
(DefaultVizierServer over a SQLite file, RANDOM_SEARCH) and clients running suggest(1) ->
complete through vizier.service.clients, all in the venv bench/setup_vizier.sh builds
(or the one whose Python --vizier-python names); without one, Vizier's column is skipped.

TPE latency: median time of one ask (5-float declared space) after 100 / 500 / 1,000 completed
trials, through an hpo coordinator vs in-process Optuna (InMemoryStorage), same sampler; and
where the difference goes: the coordinator's service layer called in-process (interleaved ask
by ask with Optuna's, same process) and the round trip of a gRPC health check (the floor any
call pays).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.distributions import FloatDistribution

sys.path.insert(0, str(Path(__file__).parent))
from _client import optuna_loop  # noqa: E402
from _servers import (  # noqa: E402
    VIZIER_PEER,
    hpo_server,
    optuna_proxy,
    trials_per_second,
    vizier_server,
)

import hpo  # noqa: E402

CLIENT = Path(__file__).parent / "_client.py"
SPACE = {f"x{i}": FloatDistribution(0.0, 1.0) for i in range(5)}
# Trials per client process, sized so each run takes a few seconds.
TRIALS = {"hpo": 500, "proxy": 15, "rdb": 25, "memory": 1000, "vizier": 60}
VIZIER_VENV = Path(__file__).parent.parent / ".bench-venvs" / "vizier"


def run_clients(kind: str, target: str, study: str, mode: str, processes: int) -> float:
    """Start the clients, release them together, return trials per second."""
    command = [sys.executable, str(CLIENT), kind, target, study, mode, str(TRIALS[kind])]
    return trials_per_second([command] * processes)


def in_memory(mode: str) -> float:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler())
    start = time.perf_counter()
    optuna_loop(study, mode, TRIALS["memory"])
    return TRIALS["memory"] / (time.perf_counter() - start)


def vizier_clients(python: str, db_url: str, processes: int) -> float:
    with vizier_server(python, db_url, "bench") as address:
        command = [python, str(VIZIER_PEER), "client", address, "bench", str(TRIALS["vizier"])]
        return trials_per_second([command] * processes, env={**os.environ, "JAX_PLATFORMS": "cpu"})


def measure(peer: str, mode: str, processes: int, vizier_python: str | None = None) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        if peer == "vizier":
            assert vizier_python is not None and mode == "declared"
            return vizier_clients(vizier_python, url, processes)
        if peer == "hpo":
            with hpo_server(url) as address:
                hpo.create_study(
                    "bench",
                    sampler="random",
                    address=address,
                    search_space=SPACE if mode == "declared" else None,
                )
                return run_clients("hpo", address, "bench", mode, processes)
        if peer == "memory":
            return in_memory(mode)
        storage = optuna.storages.RDBStorage(url)
        optuna.create_study(study_name="bench", storage=storage)
        storage.engine.dispose()
        if peer == "rdb":
            return run_clients("rdb", url, "bench", mode, processes)
        with optuna_proxy(url) as address:
            return run_clients("proxy", address, "bench", mode, processes)


def find_vizier_python(given: str | None) -> str | None:
    """The Python of the Vizier venv: --vizier-python, else the one setup_vizier.sh builds."""
    if given is not None:
        return given
    default = VIZIER_VENV / "bin" / "python"
    return str(default) if default.exists() else None


def throughput(repeats: int, vizier_python: str | None) -> None:
    print(f"# trials/s, random sampler, SQLite file; median of {repeats} runs")
    if vizier_python is None:
        print(
            "# Vizier: not measured, no venv; build it with `bash bench/setup_vizier.sh` "
            "or pass --vizier-python PATH"
        )
    print(
        f"{'mode':<9} {'procs':>5} {'hpo':>8} {'proxy':>8} {'rdb':>8} {'memory':>8} "
        f"{'vizier':>8} {'hpo/proxy':>10} {'hpo/rdb':>8} {'hpo/mem':>8} {'hpo/viz':>8}"
    )
    for mode in ("declared", "dbr"):
        for processes in (1, 4):
            peers = ["hpo", "proxy", "rdb"] + (["memory"] if processes == 1 else [])
            if vizier_python is not None and mode == "declared":
                peers.append("vizier")
            runs: dict[str, list[float]] = {p: [] for p in peers}
            for _ in range(repeats):  # interleaved, so drift on a shared machine hits all
                for peer in peers:
                    runs[peer].append(measure(peer, mode, processes, vizier_python))
            med = {p: statistics.median(v) for p, v in runs.items()}
            print(
                f"{mode:<9} {processes:>5} {med['hpo']:>8.1f} {med['proxy']:>8.1f} "
                f"{med['rdb']:>8.1f} {_rate(med, 'memory')} {_rate(med, 'vizier')} "
                f"{med['hpo'] / med['proxy']:>9.1f}x {med['hpo'] / med['rdb']:>7.1f}x "
                f"{_ratio(med, 'memory')} {_ratio(med, 'vizier')}",
                flush=True,
            )


def _rate(med: dict[str, float], peer: str) -> str:
    return f"{med[peer]:>8.1f}" if peer in med else f"{'-':>8}"


def _ratio(med: dict[str, float], peer: str) -> str:
    return f"{med['hpo'] / med[peer]:>7.2f}x" if peer in med else f"{'-':>8}"


def _history(n: int, seed: int) -> list[optuna.trial.FrozenTrial]:
    rng = np.random.default_rng(seed)
    trials = []
    for _ in range(n):
        params = {name: float(rng.random()) for name in SPACE}
        trials.append(
            optuna.trial.create_trial(
                params=params, distributions=dict(SPACE), value=sum(v * v for v in params.values())
            )
        )
    return trials


def tpe_latency(repeats: int, asks: int = 15) -> None:
    print(f"# TPE ask latency (ms, median of {asks} asks x {repeats} runs), 5-float declared space")
    print(
        "# each run: in-process Optuna, then through a coordinator (gRPC), then the "
        "coordinator's service layer called in-process (no gRPC), each ask right after the "
        "last; rpc floor: a gRPC health check to the same coordinator"
    )
    print(
        f"{'trials':>6} {'hpo':>8} {'optuna':>8} {'ratio':>7} {'service':>8} {'ratio':>7} "
        f"{'rpc floor':>10}"
    )
    for n in (100, 500, 1000):
        history = _history(n, seed=n)
        times: dict[str, list[float]] = {"hpo": [], "optuna": [], "service": [], "floor": []}
        for _ in range(repeats):
            study = _optuna_tpe(history)
            times["optuna"] += [_ask_and_tell(study.ask, study.tell, SPACE) for _ in range(asks)]
            with tempfile.TemporaryDirectory() as tmp:
                with hpo_server(_tpe_database(f"{tmp}/served.db", history)) as address:
                    remote = hpo.load_study("tpe", address=address)
                    remote.tell(remote.ask(), 1.0)  # warm the coordinator's study cache
                    times["hpo"] += [_ask_and_tell(remote.ask, remote.tell) for _ in range(asks)]
                    times["floor"] += _health_round_trips(address, asks * 10)
                with _in_process("tpe", tmp, history) as service:
                    times["service"] += [service() for _ in range(asks)]
        med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
        print(
            f"{n:>6} {med['hpo']:>8.2f} {med['optuna']:>8.2f} {med['hpo'] / med['optuna']:>6.2f}x "
            f"{med['service']:>8.2f} {med['service'] / med['optuna']:>6.2f}x "
            f"{med['floor']:>10.2f}",
            flush=True,
        )


def _ask_and_tell(ask: Callable[..., Any], tell: Callable[..., Any], *args: Any) -> float:
    """Seconds ``ask(*args)`` took; the trial it returned is then told 1.0."""
    start = time.perf_counter()
    trial = ask(*args)
    seconds = time.perf_counter() - start
    tell(trial, 1.0)
    return seconds


def _optuna_tpe(history: list[optuna.trial.FrozenTrial]) -> optuna.Study:
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0))
    study.add_trials(history)
    return study


def _tpe_database(path: str, history: list[optuna.trial.FrozenTrial]) -> str:
    """A SQLite file at ``path`` holding study "tpe" (TPE, seed 0, SPACE) with ``history``."""
    from hpo.service import StudyConfig, StudyService
    from hpo.service._algorithms import AlgorithmSpec
    from hpo.storage import open_storage

    url = f"sqlite:///{path}"
    storage = open_storage(url)
    StudyService(storage).create_study(
        "tpe",
        [optuna.study.StudyDirection.MINIMIZE],
        StudyConfig(sampler=AlgorithmSpec("tpe", {"seed": 0}), search_space=SPACE),
    )
    optuna.load_study(study_name="tpe", storage=storage.optuna).add_trials(history)
    storage.close()
    return url


@contextlib.contextmanager
def _in_process(
    name: str, tmp: str, history: list[optuna.trial.FrozenTrial]
) -> Iterator[Callable[[], float]]:
    """A function that asks (timed) and tells one trial of study ``name`` through the
    coordinator's service layer in this process, on a database of its own."""
    from hpo.service import StudyService
    from hpo.storage import open_storage

    storage = open_storage(_tpe_database(f"{tmp}/in-process.db", history))
    service = StudyService(storage)

    def ask_and_tell() -> float:
        start = time.perf_counter()
        outcome = service.ask(name)
        seconds = time.perf_counter() - start
        assert outcome.trial is not None
        service.tell(name, outcome.trial.trial.number, optuna.trial.TrialState.COMPLETE, [1.0])
        return seconds

    try:
        ask_and_tell()  # load the study, as the warm-up ask through the coordinator does
        yield ask_and_tell
    finally:
        storage.close()


def _health_round_trips(address: str, calls: int) -> list[float]:
    """Seconds of ``calls`` gRPC health checks: what any call to the coordinator costs."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(address) as channel:
        check = health_pb2_grpc.HealthStub(channel).Check
        request = health_pb2.HealthCheckRequest(service="")
        check(request)
        seconds = []
        for _ in range(calls):
            start = time.perf_counter()
            check(request)
            seconds.append(time.perf_counter() - start)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "part", nargs="?", choices=["throughput", "tpe-latency", "all"], default="all"
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--vizier-python",
        metavar="PATH",
        help=f"Python of a venv with google-vizier[jax] (default: {VIZIER_VENV}/bin/python)",
    )
    args = parser.parse_args()
    if args.vizier_python is not None and not os.access(args.vizier_python, os.X_OK):
        parser.error(f"--vizier-python: {args.vizier_python} is not an executable")
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    if args.part in ("throughput", "all"):
        throughput(args.repeats, find_vizier_python(args.vizier_python))
    if args.part in ("tpe-latency", "all"):
        tpe_latency(args.repeats)


if __name__ == "__main__":
    main()
