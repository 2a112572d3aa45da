"""Multi-objective pruning: Report takes one value per direction, and the Pareto successive
halving pruner decides by non-dominated rank, through a real coordinator."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import numpy as np
import pytest
from dbstate import database_digest as db_digest
from optuna.distributions import FloatDistribution
from optuna.study import StudyDirection

import hpo
from hpo.server import Coordinator
from hpo.service import StudyConfig
from hpo.service._algorithms import MULTI_OBJECTIVE_PRUNERS, AlgorithmSpec
from hpo.service._config import CONFIG_ATTR
from hpo.service._pareto import front_indices, promotable
from hpo.v1 import coordinator_pb2 as api
from hpo.v1 import coordinator_pb2_grpc as api_grpc
from hpo.v1 import study_pb2 as pb

MIN, MAX = StudyDirection.MINIMIZE, StudyDirection.MAXIMIZE
PARETO = {"name": "pareto_successive_halving", "min_resource": 1, "reduction_factor": 3}


def test_fronts_and_promotion() -> None:
    points = np.array([[1, 5], [2, 2], [5, 1], [3, 3], [6, 6], [2, 2]])
    assert front_indices(points).tolist() == [0, 0, 0, 1, 2, 0]
    # the first at a rung goes on; a second only on the front; then the top third (whole fronts)
    assert promotable([0.5, 10], [], 3, [MAX, MIN])
    assert not promotable([0.4, 10], [[0.5, 10]], 3, [MAX, MIN])
    assert promotable([0.4, 5], [[0.5, 10]], 3, [MAX, MIN])  # a trade-off: same front
    six = [[0.9, 9], [0.8, 8], [0.7, 7], [0.5, 9], [0.4, 9]]
    assert promotable([0.6, 6], six, 3, [MAX, MIN])  # on the front of 4: ties go on
    assert not promotable([0.3, 9], six, 3, [MAX, MIN])


def _study(address: str, name: str = "mo", pruner=PARETO) -> hpo.Study:
    return hpo.create_study(
        name,
        directions=["maximize", "minimize"],
        search_space={"x": FloatDistribution(0, 1)},
        pruner=pruner,
        address=address,
    )


def _run(study: hpo.Study, accuracy: float, size: float, steps: int = 9) -> tuple[int, bool]:
    """A trial whose accuracy grows to ``accuracy`` with a fixed size; (steps run, pruned)."""
    trial = study.ask()
    for step in range(1, steps + 1):
        trial.report([accuracy * step / steps, size], step)
        if trial.should_prune():
            study.tell(trial, state=hpo.TrialState.PRUNED)
            return step, True
    study.tell(trial, [accuracy, size])
    return steps, False


def test_dominated_trials_stop_at_a_rung_and_trade_offs_go_on(coordinator) -> None:
    study = _study(coordinator.address)
    assert _run(study, 0.9, 100) == (9, False)  # alone at every rung
    assert _run(study, 0.5, 200) == (1, True)  # dominated at the first rung (step 1)
    assert _run(study, 0.6, 10) == (9, False)  # less accurate but smaller: a trade-off
    assert _run(study, 0.95, 50) == (9, False)  # dominates all: goes on
    assert _run(study, 0.4, 150) == (1, True)
    trials = study.trials
    pruned = trials[1]
    assert pruned.state == hpo.TrialState.PRUNED
    assert pruned.values is None  # as Optuna keeps a pruned trial of several directions
    assert pruned.intermediate_values == {1: pytest.approx(0.5 / 9)}  # the first direction
    assert pruned.system_attrs["hpo:intermediate:1"] == [pytest.approx(0.5 / 9), 200]
    assert {t.number for t in study.best_trials} == {2, 3}  # 3 dominates 0


def test_a_single_direction_study_prunes_as_successive_halving(sqlite_coordinator) -> None:
    study = hpo.create_study(
        "one", direction="minimize", pruner=PARETO, address=sqlite_coordinator.address
    )
    outcomes = []
    for loss in (1.0, 2.0, 0.5):
        trial = study.ask()
        trial.report([loss], 1)  # a vector of one is the value
        outcomes.append(trial.should_prune())
        study.tell(trial, loss)
    assert outcomes == [False, True, False]
    assert study.trials[1].intermediate_values == {1: 2.0}


def test_a_retried_report_gets_the_same_answer(sqlite_coordinator) -> None:
    _run(_study(sqlite_coordinator.address), 0.9, 100)
    with grpc.insecure_channel(sqlite_coordinator.address) as channel:
        stub = api_grpc.CoordinatorStub(channel)
        number = stub.Ask(api.AskRequest(study="mo")).trial.number
        request = api.ReportRequest(
            study="mo", trial_number=number, step=1, values=[0.01, 500], request_id="r1"
        )
        assert stub.Report(request).should_prune
        assert stub.Report(request).should_prune
        trial = stub.GetTrial(api.GetTrialRequest(study="mo", trial_number=number))
        assert [list(iv.values) for iv in trial.intermediate_values] == [[0.01, 500]]
        other = api.ReportRequest(
            study="mo", trial_number=number, step=1, values=[0.02, 500], request_id="r1"
        )
        with pytest.raises(grpc.RpcError) as info:
            stub.Report(other)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert info.value.details().startswith("request_id")


@pytest.fixture
def stub(coordinator: Coordinator) -> Iterator[api_grpc.CoordinatorStub]:
    with grpc.insecure_channel(coordinator.address) as channel:
        yield api_grpc.CoordinatorStub(channel)


def _create(coordinator: Coordinator, stub, name: str, pruner: str) -> int:
    directions = [StudyDirection.MAXIMIZE, StudyDirection.MINIMIZE]
    if pruner in MULTI_OBJECTIVE_PRUNERS:
        stub.CreateStudy(
            api.CreateStudyRequest(
                name=name,
                directions=[pb.DIRECTION_MAXIMIZE, pb.DIRECTION_MINIMIZE],
                pruner=pb.AlgorithmSpec(name=pruner),
            )
        )
    else:  # as stored before creating such a study was refused
        config = StudyConfig(pruner=AlgorithmSpec(pruner))
        budgets = coordinator.storage.budgets
        coordinator.storage.studies.create(
            name, directions, {CONFIG_ATTR: config.to_json()},
            lambda study_id: [budgets.ensure_statement(study_id, 0)],
        )  # fmt: skip
    return stub.Ask(api.AskRequest(study=name)).trial.number


def test_a_study_with_several_directions_and_a_one_objective_pruner_is_refused(
    coordinator, stub
) -> None:
    before = db_digest(coordinator.storage.engine)
    with pytest.raises(grpc.RpcError) as info:
        stub.CreateStudy(
            api.CreateStudyRequest(
                name="mo",
                directions=[pb.DIRECTION_MAXIMIZE, pb.DIRECTION_MINIMIZE],
                pruner=pb.AlgorithmSpec(name="median"),
            )
        )
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert info.value.details() == (
        "pruner.name: 'median' supports one objective and study 'mo' has 2 directions; create "
        "the study with pruner none or pareto_successive_halving"
    )
    assert db_digest(coordinator.storage.engine) == before


INVALID = grpc.StatusCode.INVALID_ARGUMENT
BAD_REPORTS = [
    (
        "pareto_successive_halving",
        dict(values=[0.5]),
        INVALID,
        "values: study 'mo' has 2 direction(s)",
    ),
    ("pareto_successive_halving", dict(values=[0.5, 1, 2]), INVALID, "values: study 'mo' has 2"),
    (
        "pareto_successive_halving",
        dict(values=[0.5, float("nan")]),
        INVALID,
        "values: must not contain NaN",
    ),
    (
        "pareto_successive_halving",
        dict(value=0.5),
        INVALID,
        "values: study 'mo' has 2 directions: report one value per direction",
    ),
    ("pareto_successive_halving", dict(value=0.4, values=[0.5, 1]), INVALID, "value: leave it 0"),
    (
        "median",
        dict(values=[0.5, 1]),
        grpc.StatusCode.FAILED_PRECONDITION,
        "pruner: 'median' supports one objective and study 'mo' has 2 directions; create the study "
        "with pruner none or pareto_successive_halving",
    ),
    ("median", dict(value=0.5), grpc.StatusCode.FAILED_PRECONDITION, "pruner: 'median'"),
]


@pytest.mark.parametrize(("pruner", "fields", "code", "message"), BAD_REPORTS)
def test_bad_reports_are_refused_with_nothing_written(
    coordinator, stub, pruner, fields, code, message
) -> None:
    number = _create(coordinator, stub, "mo", pruner)
    before = db_digest(coordinator.storage.engine)
    with pytest.raises(grpc.RpcError) as info:
        stub.Report(api.ReportRequest(study="mo", trial_number=number, step=0, **fields))
    assert info.value.code() == code, info.value.details()
    assert info.value.details().startswith(message), info.value.details()
    assert db_digest(coordinator.storage.engine) == before


def test_no_pruner_accepts_vectors_and_never_stops(sqlite_coordinator) -> None:
    study = _study(sqlite_coordinator.address, pruner="none")
    assert _run(study, 0.9, 100) == (9, False)
    assert _run(study, 0.1, 900) == (9, False)


def test_several_directions_default_to_the_pareto_pruner(sqlite_coordinator) -> None:
    study = hpo.create_study(
        "d", directions=["maximize", "minimize"], address=sqlite_coordinator.address
    )
    assert study.info().pruner.name == "pareto_successive_halving"
    one = hpo.create_study("e", address=sqlite_coordinator.address)
    assert one.info().pruner.name == "median"


def test_tpe_keeps_sampling_a_study_with_pruned_vector_trials(sqlite_coordinator) -> None:
    study = hpo.create_study(
        "tpe-mo",
        directions=["maximize", "minimize"],
        search_space={"x": FloatDistribution(0, 1)},
        sampler={"name": "tpe", "seed": 0, "n_startup_trials": 2},
        pruner=PARETO,
        address=sqlite_coordinator.address,
    )
    outcomes = [_run(study, accuracy, 100) for accuracy in np.linspace(0.9, 0.1, 12)]
    assert any(pruned for _, pruned in outcomes) and not outcomes[0][1]
    # Optuna's own view has no intermediate values for them (its samplers rank those with
    # one direction only); the vectors are where the pruner and the wire read them
    from hpo.storage import optuna_storage

    stored = optuna_storage(sqlite_coordinator.storage.url).get_all_trials(
        optuna_storage(sqlite_coordinator.storage.url).get_study_id_from_name("tpe-mo")
    )
    assert all(t.intermediate_values == {} for t in stored)
    assert stored[0].system_attrs["hpo:intermediate:1"] == [pytest.approx(0.1), 100]
