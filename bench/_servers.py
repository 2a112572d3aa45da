"""Servers the benchmarks start: hpo's coordinator, Optuna's gRPC storage proxy, OSS Vizier."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

PROXY_SCRIPT = """
import sys, optuna
optuna.logging.set_verbosity(optuna.logging.ERROR)
storage = optuna.storages.RDBStorage(sys.argv[1])
optuna.storages.run_grpc_proxy_server(storage, host="127.0.0.1", port=int(sys.argv[2]))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    give_up = time.monotonic() + timeout
    while time.monotonic() < give_up:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port}")


@contextlib.contextmanager
def running(command: list[str], port: int) -> Iterator[str]:
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for_port(port, proc)
        yield f"127.0.0.1:{port}"
    finally:
        stop(proc)


def stop(proc: subprocess.Popen) -> None:
    """Terminate ``proc``; kill it if it is still there 20 s later."""
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def trials_per_second(commands: list[list[str]], env: dict | None = None) -> float:
    """Start one client process per command; each prints "ready", waits for a line on stdin,
    runs, and prints JSON {start, end, trials}. Release them together; return trials/s."""
    procs = [
        subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        for command in commands
    ]
    for proc in procs:
        assert proc.stdout.readline().strip() == "ready"
    for proc in procs:
        proc.stdin.write("go\n")
        proc.stdin.flush()
    results = []
    for proc in procs:
        out, _ = proc.communicate(timeout=1200)
        assert proc.returncode == 0, f"client {proc.args!r} failed"
        results.append(json.loads(out.strip().splitlines()[-1]))
    elapsed = max(r["end"] for r in results) - min(r["start"] for r in results)
    return sum(r["trials"] for r in results) / elapsed


def hpo_server(db_url: str) -> contextlib.AbstractContextManager[str]:
    port = free_port()
    command = [sys.executable, "-m", "hpo.cli", "server", "--db", db_url, "--port", str(port)]
    return running(command, port)


def optuna_proxy(db_url: str) -> contextlib.AbstractContextManager[str]:
    port = free_port()
    return running([sys.executable, "-c", PROXY_SCRIPT, db_url, str(port)], port)


VIZIER_PEER = Path(__file__).parent / "_vizier_peer.py"


@contextlib.contextmanager
def vizier_server(python: str, db_url: str, study: str) -> Iterator[str]:
    """OSS Vizier's DefaultVizierServer run by the Vizier venv's PYTHON, with STUDY created;
    yields its address once it says "ready". Its log goes to a file beside the database."""
    port = free_port()
    log = Path(db_url.removeprefix("sqlite:///")).with_suffix(".log")
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    with log.open("w") as err:
        proc = subprocess.Popen(
            [python, str(VIZIER_PEER), "serve", db_url, str(port), study],
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            env=env,
        )
    try:
        if proc.stdout.readline().strip() != "ready":
            proc.wait(timeout=20)
            raise RuntimeError(f"Vizier server exited with {proc.returncode}:\n{log.read_text()}")
        yield f"127.0.0.1:{port}"
    finally:
        stop(proc)
