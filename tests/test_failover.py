"""Several coordinator addresses: round-robin over replicas, failover when one dies."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

import hpo
from hpo._address import channel_target, is_loopback_address
from hpo.server import Coordinator
from tests.conftest import user_environment
from tests.serverproc import hpo_server

CLIENT = Path(__file__).parent / "clients" / "optimize_client.py"


def test_an_address_list_becomes_one_round_robin_target() -> None:
    assert channel_target("127.0.0.1:5001, localhost:5002") == (
        "ipv4:127.0.0.1:5001,127.0.0.1:5002",
        "127.0.0.1:5001",
    )
    assert channel_target("[::1]:5001,[::1]:5002") == ("ipv6:[::1]:5001,[::1]:5002", "[::1]:5001")
    for target in ("127.0.0.1:5001", "dns:///hpo:50051", "ipv4:10.0.0.1:1,10.0.0.2:1"):
        assert channel_target(target) == (target, None)
    assert is_loopback_address("127.0.0.1:5001,localhost:5002")
    assert not is_loopback_address("127.0.0.1:5001,10.0.0.2:5002")


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("127.0.0.1:5001,", "'' in '127.0.0.1:5001,' is not host:port"),
        ("127.0.0.1:5001,10.0.0.2", "'10.0.0.2' in"),
        ("127.0.0.1:5001,no-such-host.invalid:1", "cannot resolve 'no-such-host.invalid'"),
        ("127.0.0.1:5001,[::1]:5002", "mixes IPv4 and IPv6"),
    ],
)
def test_a_bad_address_list_is_one_line_naming_it(hpo_cli, address: str, problem: str) -> None:
    with pytest.raises(hpo.InvalidArgumentError, match="address: .*" + problem.replace("[", r"\[")):
        hpo.load_study("s", address=address)
    result = hpo_cli("studies", "list", "--coordinator", address, check=False)
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()  # one line, no traceback
    assert line.startswith("error: INVALID_ARGUMENT: address: ")
    assert problem in line


def test_calls_spread_over_every_listed_replica(postgres_url) -> None:
    with Coordinator(postgres_url) as first, Coordinator(postgres_url) as second:
        both = f"127.0.0.1:{first.port},localhost:{second.port}"
        study = hpo.create_study("rr", sampler={"name": "random", "seed": 0}, address=both)
        for _ in range(6):
            trial = study.ask()
            study.tell(trial, trial.suggest_float("x", 0, 1))
        written = [c.storage.studies.units_committed for c in (first, second)]
    assert all(n > 0 for n in written), written


def test_sigkill_of_one_replica_mid_optimize_loses_nothing(postgres_url, hpo_cli) -> None:
    n_trials = 30
    with (
        hpo_server("--db", postgres_url) as (doomed, doomed_address),
        hpo_server("--db", postgres_url) as (_, survivor),
    ):
        both = f"{doomed_address},{survivor}"
        hpo.create_study("failover", sampler={"name": "random", "seed": 0}, address=survivor)
        client = subprocess.Popen(
            [sys.executable, str(CLIENT), "failover", str(n_trials)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=user_environment(HPO_ADDRESS=both),
        )
        lines = [client.stdout.readline() for _ in range(8)]  # the run is under way
        doomed.send_signal(signal.SIGKILL)
        doomed.wait()
        out, err = client.communicate(timeout=240)
        assert client.returncode == 0, err
        told: dict[int, float] = {}
        for line in [*lines, *out.splitlines()]:
            _, number, value = line.split()
            assert int(number) not in told, f"trial {number} told twice"
            told[int(number)] = float(value)
        trials = hpo.load_study("failover", address=survivor).trials
        listed = hpo_cli("trials", "list", "failover", "--coordinator", both)
    assert [t.number for t in trials] == list(range(n_trials))  # consecutive, none doubled
    assert all(t.state == hpo.TrialState.COMPLETE for t in trials)  # nothing left RUNNING
    assert {t.number: t.value for t in trials} == told  # no tell lost, none applied twice
    assert f"{n_trials - 1}" in listed.stdout  # the CLI fails over to the survivor too
