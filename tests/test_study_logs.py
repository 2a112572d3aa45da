"""Per-study logs: a coordinator holds only the studies it serves, reloads them exactly,
and every unit of work commits whole or not at all."""

from __future__ import annotations

import json
import threading
import time

import grpc
import optuna
import pytest
import sqlalchemy as sa
from dbstate import drop_connections
from optuna.study import StudyDirection
from optuna.trial import TrialState, create_trial

import hpo
from hpo.server import Coordinator
from hpo.service import StudyConfig, StudyService
from hpo.storage import open_storage
from hpo.storage._engine import IDLE_PING_SECONDS
from hpo.storage._sql import RawSql, Statement
from hpo.storage._studies import StudyLog
from hpo.storage._trial_log import StudyModel
from hpo.v1 import coordinator_pb2 as api
from hpo.v1 import coordinator_pb2_grpc as api_grpc


def _fill(url: str, studies: int, trials: int) -> None:
    storage = open_storage(url)
    service = StudyService(storage)
    for s in range(studies):
        service.create_study(f"old-{s}", [StudyDirection.MINIMIZE], StudyConfig())
        for _ in range(trials):
            outcome = service.ask(f"old-{s}")
            assert outcome.trial is not None
            service.suggest(
                f"old-{s}",
                outcome.trial.trial.number,
                "x",
                optuna.distributions.FloatDistribution(0, 1),
            )
            service.tell(
                f"old-{s}", outcome.trial.trial.number, optuna.trial.TrialState.COMPLETE, [0.5]
            )
    storage.close()


def test_a_coordinator_loads_only_the_studies_calls_name(sqlite_url) -> None:
    _fill(sqlite_url, studies=3, trials=4)
    with Coordinator(sqlite_url, port=0) as coordinator:
        held = coordinator.storage.studies.loaded
        assert held() == []
        with grpc.insecure_channel(coordinator.address) as channel:
            listed = api_grpc.CoordinatorStub(channel).ListStudies(api.ListStudiesRequest())
        assert [s.name for s in listed.studies] == ["old-0", "old-1", "old-2"]
        assert held() == []  # listing reads the studies table, not the studies
        study = hpo.create_study("fresh", address=coordinator.address)
        study.tell(study.ask(), 1.0)
        assert held() == [coordinator.storage.studies.find("fresh").study_id]
        assert len(hpo.load_study("old-1", address=coordinator.address).trials) == 4
        assert len(held()) == 2
        assert sorted(coordinator.service.evict_idle(0.0)) == ["fresh", "old-1"]
        assert held() == []


def test_an_evicted_study_reloads_with_every_write_of_another_replica(postgres_url) -> None:
    with Coordinator(postgres_url, port=0) as first, Coordinator(postgres_url, port=0) as second:
        a = hpo.create_study("shared", address=first.address)
        for x in range(3):
            a.tell(a.ask(), float(x))
        assert first.service.evict_idle(0.0) == ["shared"]
        b = hpo.load_study("shared", address=second.address)
        for x in range(3, 7):
            trial = b.ask()
            trial.report(float(x), 0)
            b.tell(trial, float(x))
        running = b.ask()
        seen_by_first = hpo.load_study("shared", address=first.address).trials
        seen_by_second = b.trials
    assert [(t.number, t.state, t.values) for t in seen_by_first] == [
        (t.number, t.state, t.values) for t in seen_by_second
    ]
    assert [t.value for t in seen_by_first[:7]] == [float(x) for x in range(7)]
    assert seen_by_first[-1].number == running.number


def test_a_replica_behind_a_deletion_elsewhere_finds_the_study_gone(db_url) -> None:
    """Deleting removes every log row but the tombstone, also rows a replica had not read: it
    sees the gap as the deletion (NOT_FOUND, then the study re-created under the name)."""
    with Coordinator(db_url, port=0) as first, Coordinator(db_url, port=0) as second:
        a = hpo.create_study("gone", address=first.address, pruner="none")
        held = a.ask()
        held.report(0.5, 0)
        b = hpo.load_study("gone", address=second.address)
        for x in range(3):  # rows the first replica has not read
            trial = b.ask()
            trial.report(float(x), 0)
            b.tell(trial, float(x))
        with grpc.insecure_channel(second.address) as channel:
            api_grpc.CoordinatorStub(channel).DeleteStudy(api.DeleteStudyRequest(name="gone"))
        with pytest.raises(hpo.NotFoundError):
            held.report(0.7, 1)
        with pytest.raises(hpo.NotFoundError):
            hpo.load_study("gone", address=first.address)
        hpo.create_study("gone", address=second.address, direction="maximize")
        again = hpo.load_study("gone", address=first.address)
        assert again.direction == StudyDirection.MAXIMIZE and again.trials == []


def _replayed(sql: RawSql, study_id: int, upto: int, name: str) -> StudyModel:
    """The study rebuilt from log rows 0..upto alone, without any snapshot."""
    model = StudyModel(study_id, name, [StudyDirection.MINIMIZE])
    with sql.read() as cursor:
        cursor.execute(
            sql.sql(
                "SELECT seq, payload FROM hpo_study_log WHERE study_id = ? AND seq <= ? ORDER BY seq"
            ),
            (study_id, upto),
        )
        model.apply_rows(cursor.fetchall())
    return model


def _as_data(model: StudyModel) -> list:
    return [
        (t.number, t.state, t.values, t.params, t.intermediate_values, t.system_attrs)
        for t in model.trials
    ]


def test_a_snapshot_covers_exactly_the_log_it_names_while_another_replica_writes(db_url) -> None:
    with Coordinator(db_url, port=0) as writer:
        study = hpo.create_study("busy", address=writer.address)
        storage = open_storage(db_url)
        log = StudyLog(RawSql(storage.engine))
        study_id = log.find("busy").study_id
        stop = threading.Event()

        def write() -> None:
            while not stop.is_set():
                trial = study.ask()
                trial.suggest_float("x", 0, 1)
                trial.report(0.5, 0)
                study.tell(trial, 1.0)

        thread = threading.Thread(target=write)
        thread.start()
        try:
            taken: list[int] = []
            give_up = time.monotonic() + 60
            # Snapshot again and again while the writer commits, until the log has moved
            # under several snapshots.
            while len(set(taken)) < 4:
                assert time.monotonic() < give_up, f"the writer did not move the log: {taken}"
                model = log.current(study_id)
                log.write_snapshot(model)
                with storage.engine.connect() as conn:
                    seq, payload = conn.execute(
                        sa.text("SELECT seq, payload FROM hpo_study_snapshots WHERE study_id = :s"),
                        {"s": study_id},
                    ).one()
                restored = StudyModel(study_id, "busy", [StudyDirection.MINIMIZE])
                restored.restore(bytes(payload))
                assert restored.seq == seq
                assert _as_data(restored) == _as_data(_replayed(log.sql, study_id, seq, "busy"))
                taken.append(seq)
        finally:
            stop.set()
            thread.join()
        # A reader starting from the latest snapshot and the log after it sees what a full
        # replay sees.
        fresh = StudyLog(RawSql(storage.engine)).current(study_id)
        full = _replayed(log.sql, study_id, fresh.seq, "busy")
        assert _as_data(fresh) == _as_data(full)
        storage.close()


def test_a_unit_commits_its_statements_with_or_without_trial_changes(db_url) -> None:
    storage = open_storage(db_url)
    service = StudyService(storage)
    service.create_study("u", [StudyDirection.MINIMIZE], StudyConfig())
    study_id = storage.studies.find("u").study_id
    insert = "INSERT INTO hpo_requests (study_id, request_id, method, digest, created_at) VALUES (?, ?, 'x', 'd', 0)"

    def requests() -> list[str]:
        with storage.engine.connect() as conn:
            return sorted(conn.execute(sa.text("SELECT request_id FROM hpo_requests")).scalars())

    # The old journal held such a statement back for "the next append of a matching
    # operation" and dropped it when none came: a unit runs it when given, and commits it.
    with storage.studies.transaction(study_id) as unit:
        unit.execute(Statement(insert, (study_id, "alone")))
    assert requests() == ["alone"]
    with pytest.raises(RuntimeError), storage.studies.transaction(study_id) as unit:
        unit.execute(Statement(insert, (study_id, "rolled-back")))
        storage.optuna.within(unit).create_new_trial(study_id)
        raise RuntimeError("the call failed after writing")
    assert requests() == ["alone"]
    assert storage.optuna.get_all_trials(study_id) == []
    with storage.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT payload FROM hpo_study_log")).scalars().all()
    assert [json.loads(r) for r in rows] == []
    storage.close()


def test_connections_the_server_dropped_are_replaced_without_an_error(postgres_url) -> None:
    """Connections are pinged only after sitting idle (not before every call): when the
    server has dropped every pooled connection (a restart), reads and units of work run on
    new ones, busy or after a pause, and nothing a unit wrote is lost or doubled."""
    storage = open_storage(postgres_url)
    service = StudyService(storage)
    service.create_study("dropped", [StudyDirection.MINIMIZE], StudyConfig())
    study_id = storage.studies.find("dropped").study_id
    for _ in range(3):
        service.ask("dropped")
    # Busy: the connections come back to the pool and are used again at once.
    assert drop_connections(storage) >= 1
    assert len(storage.studies.current(study_id).trials) == 3
    with storage.studies.transaction(study_id) as unit:
        storage.optuna.within(unit).create_new_trial(study_id)
    assert len(storage.optuna.get_all_trials(study_id)) == 4
    # After a pause: the study is loaded again, on connections pinged before use.
    assert drop_connections(storage) >= 1
    time.sleep(IDLE_PING_SECONDS + 0.2)
    storage.studies.forget(study_id)
    assert service.ask("dropped").trial is not None
    assert len(storage.optuna.get_all_trials(study_id)) == 5


def test_a_state_filter_within_a_unit_sees_the_units_own_and_committed_trials(sqlite_url) -> None:
    # Asked for states no trial has, the view answers from the draft's counts (Optuna's ask
    # looks for WAITING trials on every call): the counts must follow every change.
    storage = open_storage(sqlite_url)
    StudyService(storage).create_study("w", [StudyDirection.MINIMIZE], StudyConfig())
    study_id = storage.studies.find("w").study_id
    waiting, running = (TrialState.WAITING,), (TrialState.RUNNING,)

    def numbers(view, states) -> list[int]:
        return [t.number for t in view.get_all_trials(study_id, deepcopy=False, states=states)]

    with storage.studies.transaction(study_id) as unit:
        view = storage.optuna.within(unit)
        view.create_new_trial(study_id)
        assert numbers(view, waiting) == []
        queued = view.create_new_trial(study_id, create_trial(state=TrialState.WAITING))
        assert numbers(view, waiting) == [1]
    with storage.studies.transaction(study_id) as unit:
        view = storage.optuna.within(unit)
        assert numbers(view, waiting) == [1]
        assert view.set_trial_state_values(queued, TrialState.RUNNING)
        assert numbers(view, waiting) == []
        assert numbers(view, running) == [0, 1]
    assert numbers(storage.optuna, waiting) == []
    assert numbers(storage.optuna, running) == [0, 1]
    storage.close()
