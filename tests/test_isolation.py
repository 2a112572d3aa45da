"""One study, or a stalled database, cannot break the service for everyone (issue 10).

Each test goes through a real coordinator: the shapes an adversarial probe found.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import grpc
import optuna
import psycopg
import pytest
import sqlalchemy as sa
from dbstate import database_digest as db_digest
from grpc_health.v1 import health_pb2, health_pb2_grpc

import hpo
from hpo.server import Coordinator
from hpo.service import StudyConfig, StudyService
from hpo.storage import open_storage
from hpo.v1 import coordinator_pb2 as api
from hpo.v1 import coordinator_pb2_grpc as api_grpc


def wait_for(condition, timeout: float = 20.0) -> None:
    give_up = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < give_up, "condition not met in time"
        time.sleep(0.05)


def test_a_seed_near_two_to_the_32_and_a_broken_study_break_nothing_else(sqlite_url) -> None:
    with Coordinator(sqlite_url, port=0) as first:
        edge = hpo.create_study(
            "edge", sampler={"name": "tpe", "seed": 4294967290}, address=first.address
        )
        for _ in range(8):  # the rebuilt sampler's seed offset takes it past 2**32 - 1
            trial = edge.ask()
            edge.tell(trial, trial.suggest_float("x", 0, 1))
        hpo.create_study("broken", address=first.address).ask()
    engine = sa.create_engine(sqlite_url)
    with engine.begin() as conn:  # a stored configuration no coordinator can read
        conn.execute(
            sa.text("UPDATE hpo_studies SET system_attrs = :a WHERE name = 'broken'"),
            {"a": json.dumps({"hpo:config": {"sampler": 5}})},
        )
    engine.dispose()
    with Coordinator(sqlite_url, port=0, reap_interval=0.2) as again:
        edge = hpo.load_study("edge", address=again.address)
        trial = edge.ask()
        edge.tell(trial, trial.suggest_float("x", 0, 1))  # its seed wraps at 2**32
        assert len(edge.trials) == 9
        other = hpo.create_study("other", lease_seconds=0.3, address=again.address)
        with grpc.insecure_channel(again.address) as channel:
            stub = api_grpc.CoordinatorStub(channel)
            stuck = stub.Ask(api.AskRequest(study="other")).trial  # and never a heartbeat
            listed = stub.ListStudies(api.ListStudiesRequest())
        assert [s.name for s in listed.studies] == ["edge", "other"]  # broken: left out
        # The reaper goes on past the broken study (whose trial also runs without beats).
        wait_for(lambda: other.trials[stuck.number].state == hpo.TrialState.FAIL)
        with grpc.insecure_channel(again.address) as channel:
            api_grpc.CoordinatorStub(channel).DeleteStudy(api.DeleteStudyRequest(name="broken"))
        with pytest.raises(hpo.NotFoundError):
            hpo.load_study("broken", address=again.address)


def test_a_sampler_that_fails_mid_ask_leaves_no_trial_and_no_budget_taken(sqlite_url) -> None:
    storage = open_storage(sqlite_url)
    service = StudyService(storage)
    service.create_study("s", [optuna.study.StudyDirection.MINIMIZE], StudyConfig(trial_budget=2))
    runtime = service._runtime("s")

    class Broken(optuna.samplers.RandomSampler):
        def sample_independent(self, *args, **kwargs):
            raise OverflowError("the sampler failed")

    runtime.sampler = Broken()
    before = db_digest(storage.engine)
    space = {"x": optuna.distributions.FloatDistribution(0, 1)}
    for _ in range(3):
        with pytest.raises(OverflowError):
            service.ask("s", search_space=space)
    assert db_digest(storage.engine) == before
    runtime.sampler = optuna.samplers.RandomSampler()
    assert service.ask("s", search_space=space).trial is not None  # the budget is intact
    assert service.ask("s", search_space=space).trial is not None
    assert service.ask("s", search_space=space).budget_spent
    storage.close()


def _health_answers_quickly(address: str) -> float:
    with grpc.insecure_channel(address) as channel:
        began = time.monotonic()
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=5
        )
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        return time.monotonic() - began


HOLD_SQLITE_LOCK = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("COMMIT")
"""


def _tell_through_a_stall(address: str, study: str, number: int, release) -> None:
    """Tell while the database is stalled: the coordinator answers UNAVAILABLE before the
    client's deadline (so a client retries, rather than giving up while the write lands
    later), health answers meanwhile, and the retry with the same request id completes the
    trial exactly once."""
    request = api.TellRequest(
        study=study, trial_number=number, state=2, values=[0.5], request_id="tell-once"
    )  # state 2: TRIAL_STATE_COMPLETE
    with grpc.insecure_channel(address) as channel:
        stub = api_grpc.CoordinatorStub(channel)
        answers = {}

        def tell() -> None:
            began = time.monotonic()
            try:
                stub.Tell(request, timeout=9)
                answers["code"] = grpc.StatusCode.OK
            except grpc.RpcError as e:
                answers["code"] = e.code()
            answers["seconds"] = time.monotonic() - began

        teller = threading.Thread(target=tell)
        teller.start()
        time.sleep(1.0)
        assert _health_answers_quickly(address) < 2.0
        teller.join(timeout=30)
        assert answers["code"] == grpc.StatusCode.UNAVAILABLE, answers
        assert answers["seconds"] < 9
        release()
        assert stub.Tell(request, timeout=30).state == 2
        assert stub.Tell(request, timeout=30).state == 2  # a retry of a done tell: same answer


HOLD_SQLITE_LOCK = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.readline()
conn.execute("COMMIT")
"""


def test_a_stalled_sqlite_file_answers_unavailable_and_a_retry_finishes_once(
    tmp_path, sqlite_url
) -> None:
    with Coordinator(sqlite_url, port=0) as coordinator:
        study = hpo.create_study("stall", address=coordinator.address)
        trial = study.ask()
        holder = subprocess.Popen(
            [sys.executable, "-c", HOLD_SQLITE_LOCK, str(tmp_path / "hpo.db")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert holder.stdout.readline().strip() == "locked"

        def release() -> None:
            holder.communicate("go\n", timeout=30)

        _tell_through_a_stall(coordinator.address, "stall", trial.number, release)
        assert [t.state for t in study.trials] == [hpo.TrialState.COMPLETE]


def test_a_locked_postgres_table_answers_unavailable_and_a_retry_finishes_once(
    postgres_url,
) -> None:
    with Coordinator(postgres_url, port=0) as coordinator:
        study = hpo.create_study("stall", address=coordinator.address)
        trial = study.ask()
        with psycopg.connect(postgres_url) as blocker:
            blocker.execute("LOCK TABLE hpo_study_log IN ACCESS EXCLUSIVE MODE")
            _tell_through_a_stall(coordinator.address, "stall", trial.number, blocker.rollback)
        assert [t.state for t in study.trials] == [hpo.TrialState.COMPLETE]


def test_a_trial_of_a_deleted_study_never_reaches_the_study_that_took_its_name(
    sqlite_coordinator,
) -> None:
    address = sqlite_coordinator.address
    old = hpo.create_study("reused", address=address)
    stale = old.ask()  # an old worker's trial 0
    with grpc.insecure_channel(address) as channel:
        api_grpc.CoordinatorStub(channel).DeleteStudy(api.DeleteStudyRequest(name="reused"))
    new = hpo.create_study("reused", address=address)
    fresh = new.ask()  # the new study's trial 0
    assert (stale.number, fresh.number) == (0, 0) and stale.study_id != fresh.study_id
    for late_call in (
        lambda: old.tell(stale, 1.0),
        lambda: stale.report(1.0, 0),
        lambda: stale.suggest_float("x", 0, 1),
        lambda: stale.set_user_attr("k", 1),
    ):
        with pytest.raises(hpo.NotFoundError, match="study_id"):
            late_call()
    assert new.trials[0].state == hpo.TrialState.RUNNING and new.trials[0].params == {}
    assert new.tell(fresh, 2.0).value == 2.0
