"""Warm start through a real coordinator: sources chosen, recorded and used from the first
Ask; never copied into the new study; bad requests refused with nothing written."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import grpc
import numpy as np
import pytest
from dbstate import database_digest as db_digest
from optuna.distributions import CategoricalDistribution, FloatDistribution

import hpo
from hpo.server import Coordinator
from hpo.tracking import hash_data
from hpo.v1 import coordinator_pb2 as api
from hpo.v1 import coordinator_pb2_grpc as api_grpc
from hpo.v1 import study_pb2 as pb

SPACE = {"x": FloatDistribution(-10, 10), "y": FloatDistribution(-10, 10)}


def bowl(cx: float, cy: float) -> Callable[[dict], float]:
    return lambda p: (p["x"] - cx) ** 2 + (p.get("y", cy) - cy) ** 2


def run(study: hpo.Study, f: Callable[[dict], float], n: int, data: object = None) -> None:
    for _ in range(n):
        trial = study.ask()
        if data is not None:
            trial.log_data(data, name="train")
        study.tell(trial, f(trial.params))


def source(address: str, name: str, n: int = 12, space=SPACE, data: object = None) -> hpo.Study:
    study = hpo.create_study(
        name, search_space=space, sampler={"name": "tpe", "seed": 1}, address=address
    )
    run(study, bowl(3, -2), n, data)
    return study


def warm(address: str, name: str, sources: list[str], seed: int = 2) -> hpo.Study:
    """A study of SPACE warm-started from ``sources``."""
    return hpo.create_study(
        name,
        search_space=SPACE,
        warm_start=sources,
        address=address,
        sampler={"name": "tpe", "seed": seed},
    )


def test_named_source_informs_the_first_asks_and_stays_out_of_the_study(coordinator) -> None:
    address = coordinator.address
    src = source(address, "src")
    top = sorted(src.trials, key=lambda t: t.value)

    study = warm(address, "dst", ["src"])
    [info] = study.warm_start
    assert (info.study, info.reason, info.trials) == ("src", "named", 12)
    assert info.status.startswith("replaying")
    assert study.trials == []  # nothing copied

    asked = [study.ask() for _ in range(3)]  # the source's three best, best first
    assert [t.params for t in asked] == [t.params for t in top[:3]]
    for trial in asked:
        study.tell(trial, bowl(3, -2)(trial.params) + 1.0)
    run(study, bowl(3, -2), 9)

    trials = study.trials
    assert [t.number for t in trials] == list(range(12))
    assert study.best_value == min(t.value for t in trials)  # its own best, not the source's
    assert len(src.trials) == 12  # the source is untouched
    assert study.warm_start[0].status.startswith(("in use", "set aside"))


def test_auto_prefers_the_same_data_then_the_same_space(coordinator) -> None:
    address = coordinator.address
    mine, other = np.arange(100.0), np.arange(50.0)
    source(address, "old-same-data", data=mine)
    source(address, "other-data", data=other)
    source(address, "other-space", space={"x": SPACE["x"]})
    source(address, "too-short", n=3, data=mine)
    hpo.create_study(
        "maximizer", direction="maximize", search_space=SPACE, address=address
    ).optimize(lambda t: t.params["x"], n_trials=6)

    study = hpo.create_study(
        "new", search_space=SPACE, warm_start="auto", warm_start_data=mine, address=address
    )
    reasons = {s.study: s.reason for s in study.warm_start}
    assert list(reasons) == ["old-same-data", "other-data"]
    assert reasons["old-same-data"] == "auto: same data, same search space"
    assert reasons["other-data"] == "auto: other data, same search space"

    plain = hpo.create_study("new2", search_space=SPACE, warm_start="auto", address=address)
    assert {s.reason for s in plain.warm_start} == {"auto: data not given, same search space"}

    wider = {"x": FloatDistribution(-20, 20), "y": FloatDistribution(-10, 10)}
    compatible = hpo.create_study("wider", search_space=wider, warm_start="auto", address=address)
    assert {s.reason for s in compatible.warm_start} == {
        "auto: data not given, compatible search space"
    }
    # the record is stored: another coordinator on the same database sees it
    with Coordinator(coordinator.storage.url, port=0) as again:
        reloaded = hpo.load_study("new", address=again.address)
        assert [s.study for s in reloaded.warm_start] == ["old-same-data", "other-data"]


def test_auto_finding_nothing_starts_cold(sqlite_coordinator) -> None:
    study = hpo.create_study(
        "alone", search_space=SPACE, warm_start="auto", address=sqlite_coordinator.address
    )
    assert study.warm_start == []
    assert study.info().warm_start.requested.auto
    run(study, bowl(0, 0), 3)
    assert len(study.trials) == 3


def test_define_by_run_study_is_matched_as_its_trials_name_parameters(sqlite_coordinator):
    address = sqlite_coordinator.address
    src = hpo.create_study("dbr-src", sampler={"name": "tpe", "seed": 4}, address=address)

    def objective(trial) -> float:
        kind = trial.suggest_categorical("kind", ["a", "b"])
        x = trial.suggest_float("x", -10, 10)
        return (x - 4) ** 2 + (0 if kind == "b" else 5)

    src.optimize(objective, n_trials=12)
    study = hpo.create_study("dbr", warm_start="auto", address=address)
    [info] = study.warm_start
    assert (
        info.reason == "auto: data not given, parameters matched as this study's trials name them"
    )
    trial = study.ask()
    assert trial.params == {}  # nothing declared: the first suggestions replay the source's best
    # a wider range for x is compatible; the best value lies inside it
    x = trial.suggest_float("x", -20, 20)
    kind = trial.suggest_categorical("kind", ["a", "b"])
    assert (kind, x) == (src.best_params["kind"], src.best_params["x"])
    study.tell(trial, (x - 4) ** 2 + (0 if kind == "b" else 5))
    study.optimize(objective, n_trials=8)
    assert len(study.trials) == 9


def test_multi_objective_study_replays_the_pareto_front(sqlite_coordinator) -> None:
    address = sqlite_coordinator.address
    space = {"x": FloatDistribution(0, 1)}
    src = hpo.create_study(
        "mo-src",
        directions=["minimize", "minimize"],
        search_space=space,
        address=address,
        sampler={"name": "nsga2", "seed": 3},
    )
    for _ in range(15):
        trial = src.ask()
        x = trial.params["x"]
        src.tell(trial, [x, (1 - x) ** 2])
    front = {t.params["x"] for t in src.best_trials}

    study = hpo.create_study(
        "mo",
        directions=["minimize", "minimize"],
        search_space=space,
        address=address,
        warm_start="auto",
    )
    assert [s.study for s in study.warm_start] == ["mo-src"]
    first = [study.ask() for _ in range(3)]
    assert {t.params["x"] for t in first} <= front
    assert min(t.params["x"] for t in first) == min(front)  # the front's ends come first
    for trial in first:
        study.tell(trial, [trial.params["x"], (1 - trial.params["x"]) ** 2])
    for _ in range(6):
        trial = study.ask()
        study.tell(trial, [trial.params["x"], (1 - trial.params["x"]) ** 2])
    assert len(study.trials) == 9 and study.best_trials


def test_a_misleading_source_is_set_aside_and_a_good_one_kept(sqlite_coordinator) -> None:
    address = sqlite_coordinator.address
    source(address, "far", n=20)  # its best is near (3, -2)
    far = bowl(-7, 8)  # this study's best is far from it
    bad = warm(address, "misled", ["far"], seed=5)
    run(bad, far, 12)
    assert bad.warm_start[0].status.startswith("set aside"), bad.warm_start[0].status

    good = warm(address, "helped", ["far"], seed=5)
    run(good, bowl(3.5, -2.5), 12)
    assert good.warm_start[0].status.startswith("in use"), good.warm_start[0].status


def test_the_sampler_rebuilt_elsewhere_continues_the_replay(sqlite_coordinator) -> None:
    address = sqlite_coordinator.address
    src = source(address, "src")
    top = sorted(src.trials, key=lambda t: t.value)
    study = warm(address, "dst", ["src"])
    first = study.ask()
    study.tell(first, 1.0)
    with Coordinator(sqlite_coordinator.storage.url, port=0) as again:
        second = hpo.load_study("dst", address=again.address).ask()
    assert [first.params, second.params] == [top[0].params, top[1].params]


def test_a_deleted_source_is_left_out(sqlite_coordinator) -> None:
    address = sqlite_coordinator.address
    source(address, "src")
    warm(address, "dst", ["src"])
    from hpo.client import connect

    connect(address).call("DeleteStudy", api.DeleteStudyRequest(name="src"))
    with Coordinator(sqlite_coordinator.storage.url, port=0) as again:
        study = hpo.load_study("dst", address=again.address)
        assert study.warm_start[0].status == "left out: it has been deleted"
        run(study, bowl(0, 0), 2)
        assert len(study.trials) == 2


# -- bad requests: one clear error naming the field, nothing written -------------------------


@pytest.fixture
def stub(coordinator: Coordinator) -> Iterator[api_grpc.CoordinatorStub]:
    with grpc.insecure_channel(coordinator.address) as channel:
        yield api_grpc.CoordinatorStub(channel)


def _float(low: float, high: float, **kw) -> pb.Distribution:
    return pb.Distribution(float_distribution=pb.FloatDistribution(low=low, high=high, **kw))


SPACE_PB = pb.SearchSpace(params={"x": _float(-10, 10), "y": _float(-10, 10)})
INVALID = grpc.StatusCode.INVALID_ARGUMENT
MIN, MAX = pb.DIRECTION_MINIMIZE, pb.DIRECTION_MAXIMIZE

BAD_REQUESTS = [
    (
        dict(warm_start=pb.WarmStart(studies=["nope"])),
        grpc.StatusCode.NOT_FOUND,
        "warm_start.studies[0]: no study named 'nope'",
    ),
    (
        dict(warm_start=pb.WarmStart(studies=["src", "nope"])),
        grpc.StatusCode.NOT_FOUND,
        "warm_start.studies[1]",
    ),
    (
        dict(warm_start=pb.WarmStart(studies=["src"]), directions=[MAX]),
        INVALID,
        "warm_start.studies[0]: study 'src' has directions [minimize], this study [maximize]",
    ),
    (
        dict(
            warm_start=pb.WarmStart(studies=["src"]),
            search_space=pb.SearchSpace(params={"x": _float(-10, 10)}),
        ),
        INVALID,
        "warm_start.studies[0]: study 'src': its parameters differ: it has also ['y']",
    ),
    (
        dict(
            warm_start=pb.WarmStart(studies=["src"]),
            search_space=pb.SearchSpace(params={"x": _float(1, 10, log=True), "y": _float(0, 1)}),
        ),
        INVALID,
        "warm_start.studies[0]: study 'src': parameter 'x'",
    ),
    (
        dict(warm_start=pb.WarmStart(studies=["empty"])),
        INVALID,
        "warm_start.studies[0]: study 'empty' has no completed trial to learn from",
    ),
    (
        dict(warm_start=pb.WarmStart(studies=["src", "src"])),
        INVALID,
        "warm_start.studies[1]: 'src' is named twice",
    ),
    (dict(warm_start=pb.WarmStart(studies=[""])), INVALID, "warm_start.studies[0]"),
    (
        dict(warm_start=pb.WarmStart(auto=True, data_digests=["abc"])),
        INVALID,
        "warm_start.data_digests[0]",
    ),
    (
        dict(warm_start=pb.WarmStart(studies=["src"], data_digests=["0" * 64])),
        INVALID,
        "warm_start.data_digests: only auto uses them",
    ),
    (
        dict(
            warm_start=pb.WarmStart(auto=True),
            sampler=pb.AlgorithmSpec(
                name="grid", options_json='{"search_space": {"x": [0], "y": [0]}}'
            ),
        ),
        INVALID,
        "warm_start: the grid sampler runs a fixed grid",
    ),
]


@pytest.mark.parametrize(("fields", "code", "message"), BAD_REQUESTS)
def test_bad_warm_start_is_refused_with_nothing_written(
    coordinator, stub, fields, code, message
) -> None:
    source(coordinator.address, "src", n=6)
    stub.CreateStudy(api.CreateStudyRequest(name="empty", directions=[MIN], search_space=SPACE_PB))
    request = api.CreateStudyRequest(name="new", directions=[MIN], search_space=SPACE_PB)
    for key, value in fields.items():
        if key == "directions":
            del request.directions[:]
            request.directions.extend(value)
        else:
            getattr(request, key).CopyFrom(value)
    before = db_digest(coordinator.storage.engine)
    with pytest.raises(grpc.RpcError) as info:
        stub.CreateStudy(request)
    assert info.value.code() == code, info.value.details()
    assert info.value.details().startswith(message), info.value.details()
    assert db_digest(coordinator.storage.engine) == before


def test_sdk_refuses_data_without_auto(sqlite_coordinator) -> None:
    with pytest.raises(ValueError, match="warm_start_data= is for warm_start='auto'"):
        hpo.create_study(
            "x", warm_start=["a"], warm_start_data=np.zeros(3), address=sqlite_coordinator.address
        )


def test_digest_sent_is_the_one_log_data_records(sqlite_coordinator) -> None:
    data = np.arange(10.0)
    study = hpo.create_study(
        "d", warm_start="auto", warm_start_data=[data], address=sqlite_coordinator.address
    )
    assert list(study.info().warm_start.requested.data_digests) == [hash_data(data).digest]


def test_categorical_choices_must_match(sqlite_coordinator) -> None:
    address = sqlite_coordinator.address
    space = {"c": CategoricalDistribution(["a", "b"])}
    hpo.create_study("cat", search_space=space, address=address).optimize(
        lambda t: float(t.params["c"] == "a"), n_trials=3
    )
    other = {"c": CategoricalDistribution(["a", "b", "c"])}
    with pytest.raises(hpo.InvalidArgumentError, match=r"warm_start.studies\[0\]: study 'cat'"):
        hpo.create_study("cat2", search_space=other, warm_start=["cat"], address=address)
    assert hpo.create_study("cat3", search_space=other, warm_start="auto", address=address)
    assert hpo.load_study("cat3", address=address).warm_start == []
