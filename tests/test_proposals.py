"""Proposals: Ask hands out the sampler's values for the parameters every finished trial
suggested; a client that uses them makes no Suggest call, and sends them back to be recorded
with its next call on the trial. Through a real server (the SDK, and a raw stub for the wire
contract and for bad input)."""

from __future__ import annotations

import sqlite3
from typing import Any

import grpc
import pytest
from dbstate import expect_refused
from optuna.distributions import FloatDistribution, IntDistribution

import hpo
from hpo._wire import distribution_to_pb, value_to_pb
from hpo.server import Coordinator
from hpo.v1 import coordinator_pb2 as api
from hpo.v1 import coordinator_pb2_grpc as api_grpc
from hpo.v1 import study_pb2 as pb

X = FloatDistribution(0.0, 1.0)
N = IntDistribution(1, 9)


def objective(trial: Any) -> float:
    x = trial.suggest_float("x", 0.0, 1.0)
    n = trial.suggest_int("n", 1, 9)
    if n > 5:  # a parameter only some trials have: never proposed
        x += trial.suggest_float("extra", 0.0, 1.0)
    return x + n


def suggest_calls(coordinator: Coordinator) -> list[str]:
    """Records the name of every Suggest the coordinator's service serves from now on."""
    names: list[str] = []
    service = coordinator.service
    original = service.suggest

    def counting(study: str, number: int, name: str, *args: Any, **kwargs: Any) -> Any:
        names.append(name)
        return original(study, number, name, *args, **kwargs)

    service.suggest = counting  # type: ignore[method-assign]
    return names


def test_recurring_parameters_cost_no_suggest_call_and_are_recorded(
    sqlite_coordinator: Coordinator,
) -> None:
    study = hpo.create_study(
        "p", sampler={"name": "random", "seed": 3}, address=sqlite_coordinator.address
    )
    study.optimize(objective, n_trials=1)
    calls = suggest_calls(sqlite_coordinator)
    study.optimize(objective, n_trials=20)
    trials = study.trials
    assert all(t.state == hpo.TrialState.COMPLETE for t in trials)
    # x and n come with every trial after the first; "extra" needs a round trip once a
    # finished trial went without it (until then every finished trial had it).
    assert set(calls) <= {"extra"}
    assert len(calls) <= sum("extra" in t.params for t in trials[1:])
    for trial in trials:
        assert set(trial.params) == {"x", "n"} | ({"extra"} if trial.params["n"] > 5 else set())
        assert trial.value == pytest.approx(sum(trial.params.values()))


def test_a_tell_by_number_records_the_proposals_the_trial_used(
    sqlite_coordinator: Coordinator,
) -> None:
    study = hpo.create_study("by-number", address=sqlite_coordinator.address)
    first = study.ask()
    study.tell(first, first.suggest_float("x", 0.0, 1.0))
    calls = suggest_calls(sqlite_coordinator)
    trial = study.ask()
    x = trial.suggest_float("x", 0.0, 1.0)
    study.tell(trial.number, x)
    assert calls == []
    assert study.trials[trial.number].params == {"x": x}


def ask_with_proposals(stub: Any, study: str) -> api.AskResponse:
    response = stub.Ask(api.AskRequest(study=study), timeout=60)
    assert response.proposals, "no proposals after a finished trial"
    return response


def used(name: str, distribution: Any, value: Any) -> pb.Param:
    return pb.Param(
        name=name, distribution=distribution_to_pb(distribution), value=value_to_pb(value)
    )


@pytest.fixture
def proposing(coordinator: Coordinator, stub: Any) -> str:
    """A study with one finished trial that suggested x and n: Ask proposes both."""
    study = hpo.create_study("wire", address=coordinator.address)
    trial = study.ask()
    study.tell(trial, trial.suggest_float("x", 0.0, 1.0) + trial.suggest_int("n", 1, 9))
    return "wire"


def test_the_wire_contract(coordinator: Coordinator, stub: Any, proposing: str) -> None:
    response = ask_with_proposals(stub, proposing)
    proposals = {p.name: p for p in response.proposals}
    assert list(proposals) == ["x", "n"]  # in the order the study first saw them
    assert not response.trial.params  # not part of the trial yet
    number, study_id = response.trial.number, response.trial.study_id
    # Sent back with a Report, they are recorded before it; a Tell may repeat them.
    stub.Report(
        api.ReportRequest(
            study=proposing, trial_number=number, step=0, value=1.0, study_id=study_id,
            used=[proposals["x"]],
        ),
        timeout=60,
    )  # fmt: skip
    told = stub.Tell(
        api.TellRequest(
            study=proposing, trial_number=number, state=pb.TRIAL_STATE_COMPLETE, values=[1.0],
            study_id=study_id, used=[proposals["x"], proposals["n"]],
        ),
        timeout=60,
    )  # fmt: skip
    assert [(p.name, p.value) for p in told.params] == [
        (p.name, p.value) for p in response.proposals
    ]
    # A client may ignore them: Suggest samples as it always did.
    again = ask_with_proposals(stub, proposing)
    value = stub.Suggest(
        api.SuggestRequest(
            study=proposing, trial_number=again.trial.number, name="x",
            distribution=distribution_to_pb(X),
        ),
        timeout=60,
    )  # fmt: skip
    assert value.value.HasField("double_value")


@pytest.mark.parametrize(
    ("param", "why"),
    [
        (used("x", X, 1.5), "not what Ask proposed"),
        (used("n", N, 10), "not what Ask proposed"),
        (used("n", N, True), "not what Ask proposed"),
        (used("x", IntDistribution(0, 3), 1), "comes from"),
        (used("y", X, 0.5), "was not proposed"),
        (used("", X, 0.5), "used[0].name"),
    ],
    ids=[
        "float-out-of-range",
        "int-out-of-range",
        "bool-for-int",
        "other-kind",
        "not-proposed",
        "no-name",
    ],
)
def test_bad_used_parameters_are_refused_and_write_nothing(
    coordinator: Coordinator, stub: Any, proposing: str, param: pb.Param, why: str
) -> None:
    response = ask_with_proposals(stub, proposing)
    request = api.TellRequest(
        study=proposing,
        trial_number=response.trial.number,
        state=pb.TRIAL_STATE_COMPLETE,
        values=[1.0],
        used=[param],
    )
    details = expect_refused(
        coordinator.storage.engine, stub.Tell, request, grpc.StatusCode.INVALID_ARGUMENT, "used"
    )
    assert why in details


def test_a_used_parameter_cannot_change_a_recorded_value(
    coordinator: Coordinator, stub: Any, proposing: str
) -> None:
    response = ask_with_proposals(stub, proposing)
    number = response.trial.number
    x = stub.Suggest(
        api.SuggestRequest(
            study=proposing, trial_number=number, name="x", distribution=distribution_to_pb(X)
        ),
        timeout=60,
    ).value.double_value
    other = 0.25 if x != 0.25 else 0.75
    request = api.ReportRequest(
        study=proposing, trial_number=number, step=0, value=1.0, used=[used("x", X, other)]
    )
    details = expect_refused(
        coordinator.storage.engine,
        stub.Report,
        request,
        grpc.StatusCode.INVALID_ARGUMENT,
        "used",
    )
    assert "not 0." in details


def test_a_used_value_must_be_the_one_proposed(
    coordinator: Coordinator, stub: Any, proposing: str
) -> None:
    """A grid's point or a sampler's choice: a client cannot record another value in range."""
    response = ask_with_proposals(stub, proposing)
    x = next(p for p in response.proposals if p.name == "x").value.double_value
    other = x / 2 if x > 0 else 0.5
    request = api.TellRequest(
        study=proposing,
        trial_number=response.trial.number,
        state=pb.TRIAL_STATE_COMPLETE,
        values=[1.0],
        used=[used("x", X, other)],
    )
    details = expect_refused(
        coordinator.storage.engine, stub.Tell, request, grpc.StatusCode.INVALID_ARGUMENT, "used"
    )
    assert "not what Ask proposed" in details


@pytest.mark.parametrize("with_proposals", [False, True], ids=["first-trial", "proposed"])
def test_a_suggest_retried_after_a_failed_commit_is_recorded(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, with_proposals: bool
) -> None:
    """A Suggest whose unit failed at its commit answers UNAVAILABLE and writes nothing; the
    retry samples again and records what it answers (Optuna's Trial object caches what it
    suggested, also when the unit rolled back: the service must not trust that cache)."""
    from hpo.storage import _sql

    commit = _sql.RawSql._commit_with
    fail_next = [False]

    def commit_or_fail(self: Any, conn: Any, transaction: Any) -> None:
        if fail_next[0]:
            fail_next[0] = False
            raise sqlite3.OperationalError("database is locked")  # as a busy database says
        commit(self, conn, transaction)

    monkeypatch.setattr(_sql.RawSql, "_commit_with", commit_or_fail)
    with (
        Coordinator(sqlite_url, port=0) as coordinator,
        grpc.insecure_channel(coordinator.address) as channel,
    ):
        stub = api_grpc.CoordinatorStub(channel)
        hpo.create_study("retried", address=coordinator.address)
        if with_proposals:
            first = stub.Ask(api.AskRequest(study="retried")).trial.number
            suggest = api.SuggestRequest(
                study="retried", trial_number=first, name="y", distribution=distribution_to_pb(X)
            )
            stub.Suggest(suggest, timeout=60)
            stub.Tell(
                api.TellRequest(
                    study="retried", trial_number=first, state=pb.TRIAL_STATE_COMPLETE, values=[0.0]
                ),
                timeout=60,
            )
        number = stub.Ask(api.AskRequest(study="retried")).trial.number
        request = api.SuggestRequest(
            study="retried", trial_number=number, name="y", distribution=distribution_to_pb(X)
        )
        fail_next[0] = True
        with pytest.raises(grpc.RpcError) as failed:
            stub.Suggest(request, timeout=60)
        assert failed.value.code() == grpc.StatusCode.UNAVAILABLE
        y = stub.Suggest(request, timeout=60).value.double_value
        told = stub.Tell(
            api.TellRequest(
                study="retried", trial_number=number, state=pb.TRIAL_STATE_COMPLETE, values=[y]
            ),
            timeout=60,
        )
        assert {p.name: p.value.double_value for p in told.params} == {"y": y}
    with Coordinator(sqlite_url, port=0) as restarted:  # what the database holds
        trial = hpo.load_study("retried", address=restarted.address).trials[number]
        assert trial.params == {"y": y}


def test_a_tell_by_number_from_another_handle_records_the_proposals_used(
    sqlite_coordinator: Coordinator,
) -> None:
    study = hpo.create_study("handles", address=sqlite_coordinator.address)
    first = study.ask()
    study.tell(first, first.suggest_float("x", 0.0, 1.0))
    trial = study.ask()
    x = trial.suggest_float("x", 0.0, 1.0)  # a proposal: nothing recorded yet
    told = hpo.load_study("handles", address=sqlite_coordinator.address).tell(trial.number, x)
    assert told.params == {"x": x}
