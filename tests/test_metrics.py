"""Prometheus metrics: a real `hpo server --metrics-port` process scraped over HTTP, and a
coordinator whose reaper expires a lease."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import grpc
import pytest
from prometheus_client.parser import text_string_to_metric_families

import hpo
from hpo.errors import UnavailableError
from hpo.server import Coordinator, ServerSecurity, add_token
from hpo.storage._engine import translate_db_errors
from hpo.v1 import coordinator_pb2 as api
from hpo.v1 import coordinator_pb2_grpc as api_grpc
from hpo.v1 import study_pb2 as pb

HPO = [sys.executable, "-m", "hpo.cli"]
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def scrape(port: int) -> Samples:
    """Every sample of the endpoint, by (name, labels)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def rpc_calls(samples: Samples, method: str, code: str = "OK") -> float:
    return value(
        samples, "hpo_rpc_calls_total", service="hpo.v1.Coordinator", method=method, code=code
    )


@pytest.fixture
def metrics_server(sqlite_url: str) -> Iterator[tuple[str, int]]:
    """`hpo server` on port 0 with metrics on a free port: (gRPC address, metrics port)."""
    port = free_port()
    proc = subprocess.Popen(
        [*HPO, "server", "--db", sqlite_url, "--port", "0", "--metrics-port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert "listening on" in line, proc.stderr.read()
        assert f":{port}/metrics" in proc.stdout.readline()
        yield line.split("listening on ")[1].split()[0], port
    finally:
        proc.kill()
        proc.wait()


def test_a_small_study_moves_the_counters(metrics_server) -> None:
    address, port = metrics_server
    before = scrape(port)
    assert rpc_calls(before, "Tell") == 0
    assert value(before, "hpo_journal_append_duration_seconds_count") == 0

    study = hpo.create_study("scraped", sampler="random", address=address)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=5)
    with pytest.raises(hpo.errors.NotFoundError):
        hpo.load_study("missing", address=address)

    after = scrape(port)
    # The loop asks the next trial with each Tell but the last (one round trip for both).
    assert rpc_calls(after, "TellAndAsk") == 4
    assert rpc_calls(after, "Tell") == 1
    assert rpc_calls(after, "Ask") >= 1
    assert rpc_calls(after, "GetStudy", "NOT_FOUND") == 1
    ask_latency = value(
        after, "hpo_rpc_duration_seconds_count",
        service="hpo.v1.Coordinator", method="Ask", code="OK",
    )  # fmt: skip
    assert ask_latency == rpc_calls(after, "Ask")
    assert value(after, "hpo_trials", study="scraped", state="COMPLETE") == 5
    assert value(after, "hpo_trials", study="scraped", state="RUNNING") == 0
    assert value(after, "hpo_journal_append_duration_seconds_count") > 0
    assert value(after, "process_resident_memory_bytes") > 0


def test_tell_and_ask_commits_once_where_tell_then_ask_commit_twice(metrics_server) -> None:
    address, port = metrics_server
    study = hpo.create_study("units", sampler="random", address=address)
    trial = study.ask(client_id="w")
    trial.suggest_float("x", 0, 1)  # from here on, Ask proposes x: no Suggest calls

    def commits() -> float:
        return value(scrape(port), "hpo_journal_append_duration_seconds_count")

    before = commits()
    _, trial = study.tell_and_ask(trial, 0.5, client_id="w")
    one_call = commits() - before
    trial.suggest_float("x", 0, 1)
    before = commits()
    study.tell(trial, 0.5)
    trial = study.ask(client_id="w")
    two_calls = commits() - before
    assert (one_call, two_calls) == (1, 2)


def test_a_busy_metrics_port_is_one_clear_line(sqlite_url: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [*HPO, "server", "--db", sqlite_url, "--port", "0", "--metrics-port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert f"cannot serve metrics on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_expired_leases_and_database_errors_are_counted(sqlite_url: str) -> None:
    port = free_port()
    with Coordinator(sqlite_url, port=0, reap_interval=0.2, metrics_port=port) as coordinator:
        before = scrape(port)
        before_expired = value(before, "hpo_leases_expired_total")
        with grpc.insecure_channel(coordinator.address) as channel:
            stub = api_grpc.CoordinatorStub(channel)
            stub.CreateStudy(
                api.CreateStudyRequest(
                    name="silent", directions=[pb.DIRECTION_MINIMIZE], lease_seconds=0.3
                )
            )
            stub.Ask(api.AskRequest(study="silent"))  # and never a heartbeat
            give_up = time.monotonic() + 20
            while value(scrape(port), "hpo_leases_expired_total") == before_expired:
                assert time.monotonic() < give_up, "no lease expiry was counted in time"
                time.sleep(0.1)
        with pytest.raises(UnavailableError), translate_db_errors():
            raise sqlite3.OperationalError("database is locked")
        after = scrape(port)
    assert value(after, "hpo_leases_expired_total") - before_expired == 1
    assert value(after, "hpo_trials", study="silent", state="FAIL") == 1
    errors = ("hpo_database_errors_total", "unavailable")
    assert value(after, errors[0], kind=errors[1]) - value(before, errors[0], kind=errors[1]) == 1


def test_calls_refused_for_their_token_are_counted(sqlite_url: str, tmp_path) -> None:
    tokens = tmp_path / "tokens.txt"
    add_token(tokens, "alice")
    port = free_port()
    security = ServerSecurity(token_file=str(tokens))
    with Coordinator(sqlite_url, port=0, security=security, metrics_port=port) as coordinator:
        before = rpc_calls(scrape(port), "ListStudies", "UNAUTHENTICATED")
        with grpc.insecure_channel(coordinator.address) as channel:
            stub = api_grpc.CoordinatorStub(channel)
            with pytest.raises(grpc.RpcError) as refused:
                stub.ListStudies(api.ListStudiesRequest())
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert rpc_calls(scrape(port), "ListStudies", "UNAUTHENTICATED") - before == 1
