"""Load: 32 concurrent clients for 60 s against one coordinator, on PostgreSQL then SQLite;
then the coordinator's memory with 100,000 trials in one study.

    python bench/bench_load.py [--clients 32] [--seconds 60] [--trials-in-study 100000]
    python bench/bench_load.py --replicas 2 --studies 4 --trials-in-study 0

Clients are threads in 4 processes, each looping ask -> suggest -> report -> tell with the
random sampler. Reported: trials/s, p50/p99 latency of single calls, errors, and whether every
tell arrived (complete trials == tells the clients counted). PostgreSQL: a fresh database on
$HPO_BENCH_PG (default postgresql://postgres@127.0.0.1:5432/postgres). With --replicas N,
PostgreSQL is measured with 1 .. N `hpo server` processes on one database, the clients given
all their addresses (``a:1,b:2``: round-robin per call); with --studies K, client process i
works on study i mod K (K <= 4). --trials-in-study 0 leaves out the memory part.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).parent))
from _prefill import prefill as fill  # noqa: E402
from _servers import hpo_server  # noqa: E402

import hpo  # noqa: E402

CLIENT = r"""
import json, sys, threading, time
import hpo
address, threads, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
study = hpo.load_study(sys.argv[4], address=address)
latencies, errors, tells = [], [0], [0]
lock = threading.Lock()
def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    with lock:
        latencies.append(time.perf_counter() - start)
    return result
def loop():
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            trial = timed(study.ask)
            x = timed(trial.suggest_float, "x", 0, 1)
            timed(trial.report, x, 0)
            timed(study.tell, trial, x)
            with lock:
                tells[0] += 1
        except Exception:
            with lock:
                errors[0] += 1
workers = [threading.Thread(target=loop) for _ in range(threads)]
for w in workers: w.start()
for w in workers: w.join()
print(json.dumps({"latencies": latencies, "errors": errors[0], "tells": tells[0]}))
"""


def run_load(
    db_url: str, clients: int, seconds: float, replicas: int = 1, studies: int = 1
) -> dict:
    with contextlib.ExitStack() as servers:
        address = ",".join(servers.enter_context(hpo_server(db_url)) for _ in range(replicas))
        names = [f"load-{i}" for i in range(studies)]
        for name in names:
            hpo.create_study(name, sampler="random", address=address)
        processes = 4
        per = [clients // processes + (i < clients % processes) for i in range(processes)]
        start = time.perf_counter()
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", CLIENT, address, str(n), str(seconds), names[i % studies]],
                stdout=subprocess.PIPE,
                text=True,
            )
            for i, n in enumerate(per)
        ]
        results = [json.loads(p.communicate(timeout=seconds + 300)[0]) for p in procs]
        elapsed = time.perf_counter() - start
        complete = sum(
            len(hpo.load_study(name, address=address).get_trials(states=(hpo.TrialState.COMPLETE,)))
            for name in names
        )
    latencies = sorted(x for r in results for x in r["latencies"])
    tells = sum(r["tells"] for r in results)
    return {
        "trials_per_s": tells / elapsed,
        "p50_ms": statistics.median(latencies) * 1e3,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1e3,
        "errors": sum(r["errors"] for r in results),
        "lost": tells - complete,
    }


def prefill(db_url: str, n: int) -> None:
    """Write n completed trials of one study straight into its log, in big units."""
    from hpo.storage import open_storage

    storage = open_storage(db_url)
    try:
        fill(storage, "big", n)
    finally:
        storage.close()


def memory_with(db_url: str, n: int) -> float:
    prefill(db_url, n)
    with hpo_server(db_url) as address:
        study = hpo.load_study("big", address=address)
        study.tell(study.ask(), 0.5)  # the coordinator has replayed the whole study
        pid = int(
            subprocess.run(
                ["pgrep", "-f", "--", f"--port {address.rsplit(':', 1)[1]}"],
                capture_output=True,
                text=True,
            ).stdout.split()[0]
        )
        rss_kib = int(
            next(
                line
                for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                if line.startswith("VmRSS")
            ).split()[1]
        )
    return rss_kib / 1024


@contextlib.contextmanager
def fresh_pg() -> Iterator[str]:
    """A new PostgreSQL database for one run, dropped afterwards."""
    admin = os.environ.get("HPO_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"hpo_load_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--trials-in-study", type=int, default=100_000)
    parser.add_argument(
        "--replicas", type=int, default=1, help="up to N coordinators on PostgreSQL"
    )
    parser.add_argument("--studies", type=int, default=1, choices=[1, 2, 3, 4])
    args = parser.parse_args()
    print(
        f"# {args.clients} clients x {args.seconds:g} s, random sampler, "
        f"{args.studies} {'study' if args.studies == 1 else 'studies'}"
    )
    print(
        f"{'database':<11} {'replicas':>8} {'trials/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'errors':>7} {'lost':>5}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        runs = [("postgresql", n) for n in range(1, args.replicas + 1)] + [("sqlite", 1)]
        for label, replicas in runs:
            sqlite = contextlib.nullcontext(f"sqlite:///{tmp}/load-{replicas}.db")
            with fresh_pg() if label == "postgresql" else sqlite as url:
                r = run_load(url, args.clients, args.seconds, replicas, args.studies)
            print(
                f"{label:<11} {replicas:>8} {r['trials_per_s']:>9.1f} {r['p50_ms']:>8.2f} "
                f"{r['p99_ms']:>8.2f} {r['errors']:>7} {r['lost']:>5}",
                flush=True,
            )
        if args.trials_in_study:
            mib = memory_with(f"sqlite:///{tmp}/big.db", args.trials_in_study)
            print(f"coordinator RSS with {args.trials_in_study} trials in one study: {mib:.0f} MiB")


if __name__ == "__main__":
    main()
