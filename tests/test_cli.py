"""The `hpo` command: a server process that drains on SIGTERM, and the inspection commands."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest

import hpo

HPO = [sys.executable, "-m", "hpo.cli"]


def hpo_cli(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([*HPO, *args], capture_output=True, text=True, timeout=120)
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture
def server(sqlite_url: str) -> Iterator[tuple[subprocess.Popen, str]]:
    proc = subprocess.Popen(
        [*HPO, "server", "--db", sqlite_url, "--port", "0", "--grace", "5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline()
    assert "listening on" in line, proc.stderr.read()
    address = line.split("listening on ")[1].split()[0]
    yield proc, address
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_server_drains_and_exits_cleanly_on_sigterm(server, sqlite_url) -> None:
    proc, address = server
    study = hpo.create_study("kept", address=address)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
    os.kill(proc.pid, signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "stopped" in out
    # nothing was lost: a new coordinator on the same file sees every trial
    assert len(hpo.load_study("kept", storage=sqlite_url).trials) == 3


def test_inspection_commands(server) -> None:
    _, address = server
    study = hpo.create_study("cli", sampler="random", address=address)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=4)

    studies = json.loads(hpo_cli("studies", "list", "--address", address, "--json").stdout)
    assert [s["name"] for s in studies] == ["cli"]
    assert studies[0]["trial_counts"] == {"TRIAL_STATE_COMPLETE": "4"}
    assert "random" in hpo_cli("studies", "show", "cli", "--address", address).stdout

    trials = json.loads(hpo_cli("trials", "list", "cli", "--address", address, "--json").stdout)
    assert [int(t.get("number", 0)) for t in trials] == [0, 1, 2, 3]
    table = hpo_cli("trials", "list", "cli", "--state", "complete", "--address", address).stdout
    assert "complete" in table and "x=" in table

    best = json.loads(hpo_cli("best", "cli", "--address", address, "--json").stdout)
    assert best[0]["values"] == [min(t.value for t in study.trials)]

    missing = hpo_cli("studies", "show", "nope", "--address", address, check=False)
    assert missing.returncode == 1 and "NOT_FOUND" in missing.stderr
    assert "Traceback" not in missing.stderr

    hpo_cli("studies", "delete", "cli", "--yes", "--address", address)
    assert json.loads(hpo_cli("studies", "list", "--address", address, "--json").stdout) == []


def test_help_explains_itself() -> None:
    out = hpo_cli("--help").stdout
    for command in ("server", "studies", "trials", "best", "dashboard"):
        assert command in out
    assert "--db" in hpo_cli("server", "--help").stdout
