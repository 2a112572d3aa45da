"""TellAndAsk: a Tell and the next Ask in one round trip, each part with its own meaning and
idempotency, through a real coordinator on both databases; and the SDK loops that use it."""

from __future__ import annotations

import threading
import time
import uuid

import grpc
import pytest
from optuna.distributions import FloatDistribution, IntDistribution

import hpo
from hpo.v1 import coordinator_pb2 as api
from hpo.v1 import study_pb2 as pb

COMPLETE = pb.TRIAL_STATE_COMPLETE
SPACE = {"x": FloatDistribution(0.0, 1.0)}


def _create(stub, name: str, budget: int = 0) -> None:
    space = pb.SearchSpace(
        params={"x": pb.Distribution(float_distribution=pb.FloatDistribution(low=0, high=1))}
    )
    stub.CreateStudy(
        api.CreateStudyRequest(
            name=name,
            directions=[pb.DIRECTION_MINIMIZE],
            search_space=space,
            trial_budget=budget,
            sampler=pb.AlgorithmSpec(name="random"),
        )
    )


def _tell_and_ask(study: str, number: int, client: str, request_id: str | None = None):
    return api.TellAndAskRequest(
        tell=api.TellRequest(
            study=study,
            trial_number=number,
            state=COMPLETE,
            values=[0.5],
            request_id=request_id or uuid.uuid4().hex,
        ),
        ask=api.AskRequest(study=study, client_id=client),
    )


def _states(stub, study: str) -> list[int]:
    return [t.state for t in stub.ListTrials(api.ListTrialsRequest(study=study)).trials]


def test_one_call_tells_the_trial_and_hands_out_the_next(stub) -> None:
    _create(stub, "loop")
    first = stub.Ask(api.AskRequest(study="loop", client_id="w1")).trial
    request = _tell_and_ask("loop", first.number, "w1")
    answer = stub.TellAndAsk(request)
    assert answer.told.number == first.number and answer.told.state == COMPLETE
    assert list(answer.told.values) == [0.5]
    following = answer.next.trial
    assert following.number == first.number + 1 and "x" in {p.name for p in following.params}
    assert answer.next.heartbeat_seconds > 0 and not answer.next.budget_spent
    # The whole call again (a lost answer): one effect, the same trial handed back.
    again = stub.TellAndAsk(request)
    assert again.told.number == first.number and again.next.trial.number == following.number
    assert _states(stub, "loop") == [COMPLETE, pb.TRIAL_STATE_RUNNING]


def test_the_budget_spent_comes_back_with_the_last_tell(stub) -> None:
    _create(stub, "budget", budget=2)
    number = stub.Ask(api.AskRequest(study="budget", client_id="w")).trial.number
    answer = stub.TellAndAsk(_tell_and_ask("budget", number, "w"))
    assert not answer.next.budget_spent
    last = stub.TellAndAsk(_tell_and_ask("budget", answer.next.trial.number, "w"))
    assert last.told.state == COMPLETE
    assert last.next.budget_spent and not last.next.HasField("trial")
    assert _states(stub, "budget") == [COMPLETE, COMPLETE]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda r: r.tell.ClearField("request_id"), "tell.request_id"),
        (lambda r: r.ask.ClearField("client_id"), "ask.client_id"),
        (lambda r: setattr(r.ask, "study", "other"), "ask.study"),
    ],
)
def test_a_call_without_its_ids_or_with_two_studies_is_refused_and_writes_nothing(
    stub, change, field
) -> None:
    _create(stub, "strict")
    _create(stub, "other")
    number = stub.Ask(api.AskRequest(study="strict", client_id="w")).trial.number
    request = _tell_and_ask("strict", number, "w")
    change(request)
    with pytest.raises(grpc.RpcError) as refused:
        stub.TellAndAsk(request)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert refused.value.details().startswith(f"{field}:")
    assert _states(stub, "strict") == [pb.TRIAL_STATE_RUNNING]
    assert _states(stub, "other") == []


def test_a_tell_that_fails_asks_nothing(stub) -> None:
    _create(stub, "finished")
    number = stub.Ask(api.AskRequest(study="finished", client_id="w")).trial.number
    stub.Tell(api.TellRequest(study="finished", trial_number=number, state=COMPLETE, values=[1.0]))
    with pytest.raises(grpc.RpcError) as refused:
        stub.TellAndAsk(_tell_and_ask("finished", number, "w2"))
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert _states(stub, "finished") == [COMPLETE]


def test_an_ask_the_caller_got_wrong_is_refused_before_the_tell(stub) -> None:
    _create(stub, "half")
    number = stub.Ask(api.AskRequest(study="half", client_id="w")).trial.number
    request = _tell_and_ask("half", number, "w")
    # A search space whose parameter clashes with the study's: the call writes nothing.
    clash = pb.IntDistribution(low=0, high=3, step=1)
    request.ask.search_space.params["x"].int_distribution.CopyFrom(clash)
    with pytest.raises(grpc.RpcError) as refused:
        stub.TellAndAsk(request)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert refused.value.details().startswith("search_space.x:")
    assert _states(stub, "half") == [pb.TRIAL_STATE_RUNNING]
    request.ask.ClearField("search_space")
    assert stub.TellAndAsk(request).next.trial.number == number + 1


def test_the_sdk_loop_tells_and_asks_in_one_call(coordinator) -> None:
    study = hpo.create_study("sdk", address=coordinator.address, search_space=SPACE)
    trial = study.ask()
    seen = []
    while trial is not None:
        seen.append(trial.number)
        told, trial = study.tell_and_ask(trial, trial.params["x"])
        assert told.state == hpo.TrialState.COMPLETE and told.number == seen[-1]
        if len(seen) == 4:
            study.tell(trial, 1.0)
            break
    assert seen == [0, 1, 2, 3]
    assert [t.state for t in study.trials] == [hpo.TrialState.COMPLETE] * 5


def test_the_sdk_says_what_failed_when_a_part_fails(coordinator) -> None:
    study = hpo.create_study("parts", address=coordinator.address, search_space=SPACE)
    trial = study.ask()
    study.tell(trial.number, 1.0)
    # The Tell part fails as a Tell fails, and nothing is asked.
    with pytest.raises(hpo.FailedPreconditionError, match="already COMPLETE"):
        study.tell_and_ask(trial, 2.0)
    assert len(study.trials) == 1
    # The Ask part fails as an Ask fails, and the Tell is not recorded either.
    trial = study.ask()
    with pytest.raises(hpo.InvalidArgumentError, match="search_space.x"):
        study.tell_and_ask(trial, 3.0, fixed_distributions={"x": IntDistribution(0, 3)})
    assert [t.state for t in study.trials] == [hpo.TrialState.COMPLETE, hpo.TrialState.RUNNING]
    study.tell(trial, 3.0)


def test_optimize_runs_exactly_its_trials_with_and_without_callbacks(coordinator) -> None:
    study = hpo.create_study("opt", address=coordinator.address)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=5)
    seen = []
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3,
                   callbacks=[lambda s, t: seen.append(t.number)])  # fmt: skip
    assert seen == [5, 6, 7]
    assert [t.state for t in study.trials] == [hpo.TrialState.COMPLETE] * 8


def test_optimize_stops_at_the_budget_with_nothing_left_running(coordinator) -> None:
    study = hpo.create_study("capped", address=coordinator.address, trial_budget=6)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=50, n_jobs=2)
    assert [t.state for t in study.trials] == [hpo.TrialState.COMPLETE] * 6


def test_optimize_asks_no_trial_past_its_timeout(coordinator) -> None:
    study = hpo.create_study("timed", address=coordinator.address)

    def objective(trial) -> float:
        time.sleep(0.2)
        return trial.suggest_float("x", 0, 1)

    study.optimize(objective, timeout=0.5)
    # Trials start at 0, 0.2 and 0.4 s; the third ends past the timeout, so no fourth is
    # asked with its Tell (nor is one left running).
    states = [t.state for t in study.trials]
    assert 1 <= len(states) <= 3 and set(states) == {hpo.TrialState.COMPLETE}, states


@pytest.mark.parametrize("method", ["Report", "Tell", "TellAndAsk"])
def test_identical_retries_sent_at_once_all_get_the_first_answer(stub, method) -> None:
    # On PostgreSQL such twins can land in one commit group: the retry sees the trial
    # finished before the first call's request id is committed, and must still replay it.
    _create(stub, "twins")
    for round_ in range(8):
        client = f"w{round_}"
        number = stub.Ask(api.AskRequest(study="twins", client_id=client)).trial.number
        request = _tell_and_ask("twins", number, client, request_id=f"r{round_}")
        message = {
            "TellAndAsk": request,
            "Tell": request.tell,
            "Report": api.ReportRequest(
                study="twins", trial_number=number, step=0, value=0.5, request_id=f"r{round_}"
            ),
        }[method]
        answers = _all_at_once(getattr(stub, method), message, copies=4)
        assert all(not isinstance(a, grpc.StatusCode) for a in answers), answers
        assert len({a.SerializeToString(deterministic=True) for a in answers}) == 1, answers
    expected = pb.TRIAL_STATE_RUNNING if method == "Report" else COMPLETE
    assert _states(stub, "twins").count(expected) == 8


def _all_at_once(call, message, copies: int) -> list:
    """The answers (or status codes) of ``copies`` calls of ``message`` released together."""
    start = threading.Barrier(copies)
    answers: list = [None] * copies

    def send(slot: int) -> None:
        start.wait()
        try:
            answers[slot] = call(message)
        except grpc.RpcError as e:
            answers[slot] = e.code()

    threads = [threading.Thread(target=send, args=(slot,)) for slot in range(copies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers
