"""Scale: what a coordinator costs against the history in its database.

    python bench/bench_scale.py [--repeats 3] [--no-million] [--only-big] [--no-snapshot]

Each coordinator is a whole `hpo server` process, as users run it, on a SQLite file:
- start time (until its health check answers SERVING), first-ask latency on a fresh study
  and RSS, over databases holding 0, 100,000 and 1,000,000 trials in other studies;
- load time (first call naming it) and RSS of one 100,000-trial study;
- RSS after 1,000 studies were each touched once, while held and after they went idle.
Medians of ``--repeats`` runs; ratios against the empty database.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

sys.path.insert(0, str(Path(__file__).parent))
from _prefill import prefill  # noqa: E402
from _servers import free_port  # noqa: E402

import hpo  # noqa: E402
from hpo.storage import open_storage  # noqa: E402


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


class Server:
    """``hpo server`` in its own process; ``started`` is seconds until it served."""

    def __init__(self, url: str, *extra: str) -> None:
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        began = time.perf_counter()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hpo.cli",
                "server",
                "--db",
                url,
                "--port",
                str(self.port),
                *extra,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        with grpc.insecure_channel(self.address) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"hpo server exited with {self.proc.returncode}")
                try:
                    reply = health.Check(health_pb2.HealthCheckRequest(), timeout=0.5)
                    if reply.status == health_pb2.HealthCheckResponse.SERVING:
                        break
                except grpc.RpcError:
                    time.sleep(0.02)
        self.started = time.perf_counter() - began

    @property
    def rss(self) -> float:
        return rss_mib(self.proc.pid)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def fill(url: str, studies: int, trials_each: int) -> None:
    storage = open_storage(url)
    try:
        for s in range(studies):
            prefill(storage, f"old-{s}", trials_each)
    finally:
        storage.close()


def timed(call: Callable[[], object]) -> float:
    began = time.perf_counter()
    call()
    return time.perf_counter() - began


def serve_fresh(url: str, repeats: int) -> tuple[float, float, float]:
    """Median start (s), first ask (ms) and RSS (MiB) of a server serving one fresh study."""
    starts, asks, rss = [], [], []
    for _ in range(repeats):
        server = Server(url)
        try:
            study = hpo.create_study(f"fresh-{uuid.uuid4().hex[:8]}", address=server.address)
            asks.append(timed(study.ask) * 1e3)
            starts.append(server.started)
            rss.append(server.rss)
        finally:
            server.close()
    return statistics.median(starts), statistics.median(asks), statistics.median(rss)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-million", action="store_true", help="skip the 1,000,000 row")
    parser.add_argument(
        "--only-big", action="store_true", help="only the one study of 100,000 trials"
    )
    parser.add_argument(
        "--no-snapshot",
        action="store_true",
        help="leave the big study without a snapshot (loading replays its whole log)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if not args.only_big:
            many_studies(tmp, args)
        big_study(tmp, args)
        if not args.only_big:
            touched_once(tmp)


def many_studies(tmp: str, args: argparse.Namespace) -> None:
    sizes = [0, 100_000] + ([] if args.no_million else [1_000_000])
    print("# a coordinator serving one fresh study; other studies hold the trials")
    print(
        f"{'trials elsewhere':>16} {'start s':>8} {'1st ask ms':>10} {'RSS MiB':>8} {'start x':>8} {'RSS +MiB':>9}"
    )
    base = None
    for size in sizes:
        url = f"sqlite:///{tmp}/scale-{size}.db"
        fill(url, studies=size // 10_000, trials_each=10_000)
        start, ask, rss = serve_fresh(url, args.repeats)
        base = base or (start, rss)
        print(
            f"{size:>16,} {start:>8.2f} {ask:>10.1f} {rss:>8.0f} "
            f"{start / base[0]:>7.2f}x {rss - base[1]:>+9.0f}",
            flush=True,
        )


def big_study(tmp: str, args: argparse.Namespace) -> None:
    """First use of one 100,000-trial study: an ask alone, then an ask and a TPE suggestion
    (which reads every completed trial)."""
    url = f"sqlite:///{tmp}/big.db"
    storage = open_storage(url)
    prefill(storage, "big", 100_000, snapshot=not args.no_snapshot)
    storage.close()

    def first_use(address: str, suggest: bool) -> None:
        trial = hpo.load_study("big", address=address).ask()
        if suggest:  # TPE reads every completed trial
            trial.suggest_float("x0", 0.0, 1.0)

    loads, suggests, rss = [], [], []
    for _ in range(args.repeats):
        for sink, suggest in ((loads, False), (suggests, True)):
            server = Server(url)
            try:
                sink.append(timed(lambda s=server, x=suggest: first_use(s.address, x)))
                if not suggest:
                    rss.append(server.rss)
            finally:
                server.close()
    how = "no snapshot" if args.no_snapshot else "with its snapshot"
    print(
        f"\n# one study of 100,000 trials ({how}), loaded on first use: "
        f"{statistics.median(loads):.2f} s, RSS {statistics.median(rss):.0f} MiB; "
        f"first ask + TPE suggest: {statistics.median(suggests):.2f} s",
        flush=True,
    )


def touched_once(tmp: str) -> None:
    url = f"sqlite:///{tmp}/many.db"
    server = Server(url, "--study-idle-seconds", "1")
    try:
        empty = server.rss
        for i in range(1_000):
            study = hpo.create_study(f"s{i}", address=server.address)
            study.tell(study.ask(), 1.0)
        held = server.rss
        time.sleep(7)  # the reaper's round (5 s) lets idle studies go
        idle = server.rss
    finally:
        server.close()
    print(
        f"# 1,000 studies touched once: RSS {empty:.0f} MiB before, {held:.0f} MiB held, "
        f"{idle:.0f} MiB after they went idle"
    )


if __name__ == "__main__":
    main()
