"""Input crafted to break the coordinator (issue 10, item 4): deeply nested JSON, page tokens
that look like numbers, sampler and pruner options of the wrong type, grids of the wrong
shape, ranges that overflow. Each answers INVALID_ARGUMENT naming the field, through the
real server, and leaves every table as it was."""

from __future__ import annotations

import json
from typing import Any

import grpc
import pytest
from dbstate import expect_refused

from hpo.server import Coordinator
from hpo.v1 import coordinator_pb2 as api
from hpo.v1 import coordinator_pb2_grpc as api_grpc
from hpo.v1 import study_pb2 as pb

INVALID = grpc.StatusCode.INVALID_ARGUMENT
MIN = pb.DIRECTION_MINIMIZE
NESTED = "[" * 100_000
DEEP_BUT_PARSEABLE = "[" * 500 + "]" * 500


def float_dist(low: float, high: float, **kw: Any) -> pb.Distribution:
    return pb.Distribution(float_distribution=pb.FloatDistribution(low=low, high=high, **kw))


@pytest.fixture
def running(stub: api_grpc.CoordinatorStub) -> int:
    """Study "s" with one trial running; returns its number."""
    stub.CreateStudy(api.CreateStudyRequest(name="s", directions=[MIN]))
    return stub.Ask(api.AskRequest(study="s")).trial.number


def refused(coordinator: Coordinator, call: Any, request: Any, field: str, code=INVALID) -> str:
    return expect_refused(coordinator.storage.engine, call, request, code, field)


def create(name: str = "new", **fields: Any) -> api.CreateStudyRequest:
    request = api.CreateStudyRequest(name=name, directions=[MIN])
    for key, value in fields.items():
        getattr(request, key).CopyFrom(value)
    return request


def sampler(name: str, **options: Any) -> pb.AlgorithmSpec:
    return pb.AlgorithmSpec(name=name, options_json=json.dumps(options))


def pruner(name: str, **options: Any) -> pb.AlgorithmSpec:
    return pb.AlgorithmSpec(name=name, options_json=json.dumps(options))


NESTED_JSON_CASES = [
    ("sampler", pb.AlgorithmSpec(name="tpe", options_json=NESTED), "sampler.options_json"),
    ("pruner", pb.AlgorithmSpec(name="median", options_json=NESTED), "pruner.options_json"),
    (
        "sampler",
        pb.AlgorithmSpec(name="tpe", options_json='{"a": ' * 50_000),
        "sampler.options_json",
    ),
    (
        "sampler",
        pb.AlgorithmSpec(name="tpe", options_json='{"x": ' + DEEP_BUT_PARSEABLE + "}"),
        "sampler.options_json",
    ),
]


@pytest.mark.parametrize(("kind", "spec", "field"), NESTED_JSON_CASES)
def test_nested_json_in_options(coordinator, stub, running, kind, spec, field) -> None:
    refused(coordinator, stub.CreateStudy, create(**{kind: spec}), field)


@pytest.mark.parametrize("text", [NESTED, DEEP_BUT_PARSEABLE, '{"a": ' * 50_000])
def test_nested_json_in_user_attrs(coordinator, stub, running, text) -> None:
    refused(
        coordinator,
        stub.SetTrialUserAttr,
        api.SetTrialUserAttrRequest(study="s", trial_number=running, key="k", value_json=text),
        "value_json",
    )
    refused(
        coordinator,
        stub.EnqueueTrial,
        api.EnqueueTrialRequest(study="s", user_attrs={"k": text}),
        "user_attrs.k",
    )


@pytest.mark.parametrize(
    "token", ["²", "9" * 5000, "٣", "-1", " 1", "1.0", "0x10", "🙂", "1" * 19, "\x00"]
)
def test_page_tokens_that_are_not_ours(coordinator, stub, running, token) -> None:
    refused(
        coordinator,
        stub.ListTrials,
        api.ListTrialsRequest(study="s", page_token=token),
        "page_token",
    )


OPTION_CASES = [
    (dict(sampler=sampler("tpe", n_ei_candidates="x")), "sampler.options_json"),
    (dict(sampler=sampler("tpe", n_startup_trials=1.5)), "sampler.options_json"),
    (dict(sampler=sampler("tpe", consider_prior="yes")), "sampler.options_json"),
    (dict(sampler=sampler("tpe", multivariate=1)), "sampler.options_json"),
    (dict(sampler=sampler("tpe", gamma=0.1)), "sampler.options_json"),
    (dict(sampler=sampler("tpe", seed="1")), "sampler.options_json"),
    (dict(sampler=sampler("tpe", seed=True)), "sampler.options_json"),
    (dict(sampler=sampler("cmaes", x0=[1, 2])), "sampler.options_json"),
    (
        dict(sampler=sampler("cmaes", independent_sampler={"name": "random"})),
        "sampler.options_json",
    ),
    (dict(sampler=sampler("qmc", qmc_type=7)), "sampler.options_json"),
    (dict(sampler=sampler("qmc", qmc_type="nonsense")), "sampler.options_json"),
    (dict(sampler=sampler("nsga2", population_size="ten")), "sampler.options_json"),
    (dict(sampler=sampler("random", seed=[1])), "sampler.options_json"),
    (dict(sampler=sampler("grid", search_space=5)), "sampler.options_json"),
    (dict(sampler=sampler("grid", search_space={"x": 5})), "sampler.options_json"),
    (dict(sampler=sampler("grid", search_space={"x": [[1], [2]]})), "sampler.options_json"),
    (dict(sampler=sampler("grid", search_space={"x": {"a": 1}})), "sampler.options_json"),
    (dict(sampler=sampler("grid", search_space=[1, 2])), "sampler.options_json"),
    (dict(sampler=sampler("grid")), "sampler.options_json"),
    (
        dict(
            sampler=sampler("grid", search_space={"x": [1, 2]}),
            search_space=pb.SearchSpace(params={"y": float_dist(0, 1)}),
        ),
        "search_space.y",
    ),
    (dict(pruner=pruner("patient", wrapped_pruner="median", patience=1)), "pruner.options_json"),
    (dict(pruner=pruner("patient", wrapped_pruner=5, patience=1)), "pruner.options_json"),
    (
        dict(pruner=pruner("patient", wrapped_pruner={"name": "median", "n_startup_trials": "x"})),
        "pruner.options_json",
    ),
    (
        dict(pruner=pruner("patient", wrapped_pruner={"name": "nope"}, patience=1)),
        "pruner.options_json",
    ),
    (dict(pruner=pruner("median", n_warmup_steps="5")), "pruner.options_json"),
    (dict(pruner=pruner("percentile", percentile="50")), "pruner.options_json"),
    (dict(pruner=pruner("successive_halving", min_resource=[1])), "pruner.options_json"),
    (dict(pruner=pruner("hyperband", max_resource="lots")), "pruner.options_json"),
    (dict(pruner=pruner("threshold", lower="0")), "pruner.options_json"),
    (dict(pruner=pruner("wilcoxon", p_threshold=None)), "pruner.options_json"),
]


@pytest.mark.parametrize(
    ("fields", "field"), OPTION_CASES, ids=[str(i) for i in range(len(OPTION_CASES))]
)
def test_options_of_the_wrong_type_fail_at_creation(
    coordinator, stub, running, fields, field
) -> None:
    refused(coordinator, stub.CreateStudy, create(**fields), field)


def test_non_finite_options(coordinator, stub, running) -> None:
    for text in ('{"prior_weight": NaN}', '{"prior_weight": Infinity}'):
        request = create(sampler=pb.AlgorithmSpec(name="tpe", options_json=text))
        refused(coordinator, stub.CreateStudy, request, "sampler.options_json")


def test_a_grid_refuses_parameters_outside_it(coordinator, stub) -> None:
    stub.CreateStudy(create("g", sampler=sampler("grid", search_space={"x": [1, 2]})))
    outside = pb.SearchSpace(params={"y": float_dist(0, 1)})
    refused(
        coordinator, stub.Ask, api.AskRequest(study="g", search_space=outside), "search_space.y"
    )
    number = stub.Ask(api.AskRequest(study="g")).trial.number
    refused(
        coordinator,
        stub.Suggest,
        api.SuggestRequest(study="g", trial_number=number, name="y", distribution=float_dist(0, 1)),
        "name",
    )
    inside = api.SuggestRequest(
        study="g",
        trial_number=number,
        name="x",
        distribution=pb.Distribution(int_distribution=pb.IntDistribution(low=1, high=2)),
    )
    assert stub.Suggest(inside).value.int_value in (1, 2)


OVERFLOWING = [
    float_dist(-1e308, 1e308),
    float_dist(-1.7e308, 1.7e308, step=1e300),
    float_dist(-1.5e308, 1e308),
]


@pytest.mark.parametrize("distribution", OVERFLOWING)
def test_ranges_that_overflow(coordinator, stub, running, distribution) -> None:
    refused(
        coordinator,
        stub.Suggest,
        api.SuggestRequest(study="s", trial_number=running, name="z", distribution=distribution),
        "distribution.float_distribution",
    )
    space = pb.SearchSpace(params={"z": distribution})
    refused(
        coordinator,
        stub.Ask,
        api.AskRequest(study="s", client_id="c", search_space=space),
        "search_space.z",
    )
    refused(coordinator, stub.CreateStudy, create(search_space=space), "search_space.z")


def test_extreme_but_finite_ranges_are_served(stub, running) -> None:
    for name, distribution in [
        ("wide", float_dist(-1e307, 1e307)),
        ("tiny", float_dist(5e-324, 1e-323)),
        ("log", float_dist(1e-300, 1e300, log=True)),
        ("ints", pb.Distribution(int_distribution=pb.IntDistribution(low=-(2**62), high=2**62))),
    ]:
        request = api.SuggestRequest(
            study="s", trial_number=running, name=name, distribution=distribution
        )
        stub.Suggest(request)
