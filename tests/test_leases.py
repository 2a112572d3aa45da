"""Leases, client ids and request ids, with client processes killed by SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

import hpo
from hpo.server import Coordinator
from hpo.v1 import coordinator_pb2 as api
from hpo.v1 import coordinator_pb2_grpc as api_grpc
from hpo.v1 import study_pb2 as pb

CLIENT = Path(__file__).parent / "clients" / "ask_tell_client.py"


def start_hanging_client(address: str, study: str, client_id: str) -> tuple[subprocess.Popen, int]:
    """A client process that asks one trial, suggests x, and then hangs holding it."""
    proc = subprocess.Popen(
        [sys.executable, str(CLIENT), address, study, "1", client_id, "hang"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline()
    assert line.startswith("asked"), proc.stderr.read()
    return proc, int(line.split()[1])


def kill(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def wait_for(predicate, timeout: float = 20.0) -> None:
    give_up = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < give_up, "condition not reached in time"
        time.sleep(0.05)


@pytest.fixture
def stub(coordinator: Coordinator) -> Iterator[api_grpc.CoordinatorStub]:
    with grpc.insecure_channel(coordinator.address) as channel:
        yield api_grpc.CoordinatorStub(channel)


def test_ask_with_same_client_id_after_kill_returns_its_trial(coordinator: Coordinator) -> None:
    study = hpo.create_study("c", address=coordinator.address)
    proc, number = start_hanging_client(coordinator.address, "c", "worker-7")
    held = study.trials[number]
    kill(proc)

    again = study.ask(client_id="worker-7")
    assert again.number == number
    assert again.suggest_float("x", 0.0, 1.0) == held.params["x"]
    assert study.ask(client_id="worker-8").number != number
    study.tell(again, 1.0)
    assert study.ask(client_id="worker-7").number not in (number,)


def test_stale_lease_is_failed_and_requeued_within_retry_budget(coordinator: Coordinator) -> None:
    study = hpo.create_study("l", lease_seconds=0.5, retry_budget=1, address=coordinator.address)

    proc, first = start_hanging_client(coordinator.address, "l", "w")
    x = study.trials[first].params["x"]
    kill(proc)
    wait_for(lambda: study.trials[first].state == hpo.TrialState.FAIL)
    failed, retry = study.trials[first], study.trials[first + 1]
    assert "lease expired" in failed.system_attrs["hpo:fail_reason"]
    assert retry.state == hpo.TrialState.WAITING
    assert retry.system_attrs["hpo:retry_of"] == first
    assert retry.params == {"x": x}

    # The retry is handed out next, with the same parameters; kill its holder too.
    proc, second = start_hanging_client(coordinator.address, "l", "w2")
    assert second == first + 1
    assert study.trials[second].params == {"x": x}
    kill(proc)
    wait_for(lambda: study.trials[second].state == hpo.TrialState.FAIL)
    time.sleep(1.0)  # the budget of one retry is spent: nothing more is queued
    assert [t.state for t in study.trials] == [hpo.TrialState.FAIL, hpo.TrialState.FAIL]


def test_an_ask_takes_back_the_budget_that_run_out_leases_held(tmp_path) -> None:
    """A sweep killed mid-trial and run again at once: its dead workers' trials still hold
    the whole budget until the reaper's next round; the new workers' Ask must not be told
    "spent" (the sweep would end with them RUNNING) but fail them and get trials."""
    url = f"sqlite:///{tmp_path / 'b.db'}"
    with Coordinator(url, port=0, reap_interval=3600) as coordinator:  # no reaper round
        study = hpo.create_study(
            "b", trial_budget=2, lease_seconds=0.5, address=coordinator.address
        )
        with grpc.insecure_channel(coordinator.address) as channel:
            stub = api_grpc.CoordinatorStub(channel)
            for worker in ("dead-1", "dead-2"):  # raw calls: no SDK heartbeat renews them
                assert not stub.Ask(api.AskRequest(study="b", client_id=worker)).budget_spent
            assert stub.Ask(api.AskRequest(study="b", client_id="live")).budget_spent
            time.sleep(0.8)  # both leases run out
            again = stub.Ask(api.AskRequest(study="b", client_id="live"))
        assert not again.budget_spent
        states = [t.state for t in study.trials]
        assert states.count(hpo.TrialState.FAIL) == 2, states  # failed and re-queued as WAITING
        assert study.tell(again.trial.number, 1.0).state == hpo.TrialState.COMPLETE


def test_live_heartbeats_keep_the_lease(coordinator: Coordinator) -> None:
    study = hpo.create_study("h", lease_seconds=0.6, address=coordinator.address)
    trial = study.ask()
    time.sleep(2.0)  # the SDK beats every lease/4 seconds
    assert study.tell(trial, 1.0).state == hpo.TrialState.COMPLETE


def test_late_worker_gets_failed_precondition(coordinator: Coordinator, stub) -> None:
    stub.CreateStudy(
        api.CreateStudyRequest(name="late", directions=[pb.DIRECTION_MINIMIZE], lease_seconds=0.3)
    )
    number = stub.Ask(api.AskRequest(study="late")).trial.number
    wait_for(
        lambda: (
            stub.GetTrial(api.GetTrialRequest(study="late", trial_number=number)).state
            == pb.TRIAL_STATE_FAILED
        )
    )
    for call, request in [
        (stub.Heartbeat, api.HeartbeatRequest(study="late", trial_number=number)),
        (stub.Report, api.ReportRequest(study="late", trial_number=number, step=1, value=1)),
        (
            stub.Tell,
            api.TellRequest(
                study="late", trial_number=number, state=pb.TRIAL_STATE_COMPLETE, values=[1]
            ),
        ),
    ]:
        with pytest.raises(grpc.RpcError) as info:
            call(request)
        assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_tell_twice_with_one_request_id_has_one_effect(coordinator: Coordinator, stub) -> None:
    stub.CreateStudy(api.CreateStudyRequest(name="t", directions=[pb.DIRECTION_MINIMIZE]))
    number = stub.Ask(api.AskRequest(study="t")).trial.number
    tell = api.TellRequest(
        study="t",
        trial_number=number,
        state=pb.TRIAL_STATE_COMPLETE,
        values=[0.5],
        request_id="r-1",
    )
    first, second = stub.Tell(tell), stub.Tell(tell)
    assert first == second
    assert first.state == pb.TRIAL_STATE_COMPLETE and list(first.values) == [0.5]

    changed = api.TellRequest(
        study="t",
        trial_number=number,
        state=pb.TRIAL_STATE_COMPLETE,
        values=[0.7],
        request_id="r-1",
    )
    with pytest.raises(grpc.RpcError) as info:
        stub.Tell(changed)
    assert (
        info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        and "request_id" in info.value.details()
    )
    changed.request_id = "r-2"
    with pytest.raises(grpc.RpcError) as info:
        stub.Tell(changed)
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    trial = stub.GetTrial(api.GetTrialRequest(study="t", trial_number=number))
    assert list(trial.values) == [0.5]


def test_report_request_ids(coordinator: Coordinator, stub) -> None:
    stub.CreateStudy(api.CreateStudyRequest(name="r", directions=[pb.DIRECTION_MINIMIZE]))
    number = stub.Ask(api.AskRequest(study="r")).trial.number
    report = api.ReportRequest(study="r", trial_number=number, step=3, value=0.25, request_id="q-1")
    assert stub.Report(report) == stub.Report(report)
    report.value = 0.5
    with pytest.raises(grpc.RpcError) as info:
        stub.Report(report)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    trial = stub.GetTrial(api.GetTrialRequest(study="r", trial_number=number))
    assert [(iv.step, iv.value) for iv in trial.intermediate_values] == [(3, 0.25)]


def test_a_beat_that_races_its_own_tell_warns_of_nothing(
    sqlite_coordinator: Coordinator, caplog: pytest.LogCaptureFixture
) -> None:
    """A heartbeat sent just before a Tell may come back "already COMPLETE" after the Tell
    committed: that is the Tell, not a lost lease. A trial whose lease really ran out while
    nobody was telling it still warns."""
    study = hpo.create_study("race", address=sqlite_coordinator.address)
    heartbeat = study._heartbeat
    told, lost = study.ask(), study.ask()
    heartbeat.telling(told.number)  # what Study.tell does before its call
    other = hpo.load_study("race", address=sqlite_coordinator.address)
    other.tell(told.number, 1.0)  # the Tell lands while the beat is on its way
    other.tell(lost.number, state="fail")  # as the reaper does to a lease that ran out
    with caplog.at_level("WARNING", logger="hpo.client._heartbeat"):
        heartbeat._beat(told.number)
        heartbeat._beat(lost.number)
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and f"trial {lost.number} lost its lease" in warnings[0]
