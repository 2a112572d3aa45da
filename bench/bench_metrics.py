"""What Prometheus metrics cost a coordinator: trials per second with `--metrics-port` off and
on (scraped every second, as a busy Prometheus would), measured side by side.

    python bench/bench_metrics.py                 # 2 clients, 300 trials each, 3 repeats
    python bench/bench_metrics.py --clients 4 --repeats 5

Each run: a fresh SQLite file, `hpo server` as its own process, client processes doing
ask (declared 5-float space) + tell with the random sampler. Prints medians and on/off.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _servers import free_port, running, trials_per_second  # noqa: E402
from optuna.distributions import FloatDistribution  # noqa: E402

import hpo  # noqa: E402

CLIENT = Path(__file__).parent / "_client.py"


@contextlib.contextmanager
def scraping(port: int) -> Iterator[list[int]]:
    """Scrape http://127.0.0.1:PORT/metrics every second until the block ends."""
    scrapes: list[int] = []
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(1.0):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                scrapes.append(len(r.read()))

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield scrapes
    finally:
        stop.set()
        thread.join()


def one_run(metrics: bool, clients: int, trials: int) -> float:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.db"
        port = free_port()
        command = [sys.executable, "-m", "hpo.cli", "server", "--db", url, "--port", str(port)]
        metrics_port = free_port()
        if metrics:
            command += ["--metrics-port", str(metrics_port)]
        with running(command, port) as address:
            space = {f"x{i}": FloatDistribution(0.0, 1.0) for i in range(5)}
            hpo.create_study("bench", sampler="random", address=address, search_space=space)
            commands = [
                [sys.executable, str(CLIENT), "hpo", address, "bench", "declared", str(trials)]
                for _ in range(clients)
            ]
            if not metrics:
                return trials_per_second(commands)
            with scraping(metrics_port) as scrapes:
                rate = trials_per_second(commands)
            assert scrapes, "no scrape answered"
            return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--trials", type=int, default=300, help="per client")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rates: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(args.repeats):
        for metrics in (False, True):  # alternate, so load on the machine hits both alike
            rates[metrics].append(one_run(metrics, args.clients, args.trials))
    off, on = statistics.median(rates[False]), statistics.median(rates[True])
    print(f"{args.clients} clients x {args.trials} trials, median of {args.repeats}:")
    print(f"  metrics off: {off:8.1f} trials/s   {[round(r) for r in rates[False]]}")
    print(f"  metrics on:  {on:8.1f} trials/s   {[round(r) for r in rates[True]]}")
    print(f"  on / off:    {on / off:8.3f}")


if __name__ == "__main__":
    main()
