"""The service proposes and prunes exactly as in-process Optuna with the same configuration."""

from __future__ import annotations

from typing import Any

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

import hpo
from hpo.server import Coordinator
from hpo.service import build_pruner, build_sampler
from hpo.service._algorithms import AlgorithmSpec

optuna.logging.set_verbosity(optuna.logging.WARNING)


def define_by_run(trial: Any) -> float:
    x = trial.suggest_float("x", -5, 5)
    n = trial.suggest_int("n", 1, 8, log=True)
    kind = trial.suggest_categorical("kind", ["a", "b", "c"])
    if kind == "a":
        x += trial.suggest_float("shift", 0, 1, step=0.25)
    return (x - 1) ** 2 + n


SAMPLERS = [
    {"name": "random", "seed": 11},
    {"name": "tpe", "seed": 11, "n_startup_trials": 4},
    {"name": "tpe", "seed": 5, "n_startup_trials": 3, "multivariate": True},
    {"name": "qmc", "seed": 2},
    {"name": "nsga2", "seed": 3, "population_size": 4},
]


@pytest.mark.parametrize("sampler", SAMPLERS, ids=lambda s: s["name"] + str(len(s)))
def test_define_by_run_proposals_match_in_process_optuna(
    sqlite_coordinator: Coordinator, sampler
) -> None:
    n_trials = 14
    spec = AlgorithmSpec(sampler["name"], {k: v for k, v in sampler.items() if k != "name"})
    reference = optuna.create_study(sampler=build_sampler(spec), study_name="same")
    reference.optimize(define_by_run, n_trials=n_trials)

    study = hpo.create_study("same", sampler=sampler, address=sqlite_coordinator.address)
    study.optimize(define_by_run, n_trials=n_trials)

    assert [t.params for t in study.trials] == [t.params for t in reference.trials]
    assert [t.value for t in study.trials] == [t.value for t in reference.trials]


def test_declared_space_proposals_match_in_process_optuna(sqlite_coordinator: Coordinator) -> None:
    space = {
        "lr": FloatDistribution(1e-4, 1.0, log=True),
        "depth": IntDistribution(2, 12),
        "act": CategoricalDistribution(["relu", "tanh"]),
    }
    space = dict(sorted(space.items()))  # the wire's map has no order: hpo samples by name
    options = {"seed": 7, "n_startup_trials": 3, "multivariate": True}
    reference = optuna.create_study(sampler=optuna.samplers.TPESampler(**options))
    study = hpo.create_study(
        "declared",
        sampler={"name": "tpe", **options},
        search_space=space,
        address=sqlite_coordinator.address,
    )
    for _ in range(10):
        expected = reference.ask(space)
        got = study.ask()
        assert got.params == expected.params
        value = expected.params["lr"] * expected.params["depth"]
        reference.tell(expected, value)
        study.tell(got, value)


# Learning curves: trial i reports curve i, step by step, until pruned.
CURVES = [
    [1.0, 0.8, 0.6, 0.5, 0.45, 0.42, 0.40, 0.39, 0.38],
    [1.2, 1.1, 1.0, 0.95, 0.9, 0.88, 0.87, 0.86, 0.85],
    [0.9, 0.7, 0.5, 0.4, 0.35, 0.3, 0.28, 0.27, 0.26],
    [1.5, 1.4, 1.3, 1.25, 1.2, 1.2, 1.19, 1.18, 1.17],
    [1.0, 0.9, 0.85, 0.6, 0.4, 0.3, 0.25, 0.2, 0.18],
    [2.0, 1.8, 1.9, 1.95, 1.5, 1.45, 1.4, 1.38, 1.37],
    [0.95, 0.75, 0.55, 0.45, 0.4, 0.36, 0.33, 0.3, 0.29],
    [1.1, 1.05, 1.0, 0.99, 0.98, 0.97, 0.96, 0.95, 0.94],
    [0.8, 0.6, 0.45, 0.35, 0.3, 0.25, 0.22, 0.2, 0.19],
    [1.3, 1.25, 1.2, 1.15, 1.1, 1.05, 1.0, 0.98, 0.97],
]

PRUNERS = [
    {"name": "median", "n_startup_trials": 2, "n_warmup_steps": 1},
    {"name": "percentile", "percentile": 40.0, "n_startup_trials": 2},
    {"name": "successive_halving", "min_resource": 1, "reduction_factor": 2},
    {"name": "hyperband", "min_resource": 1, "max_resource": 9, "reduction_factor": 3},
    {"name": "threshold", "upper": 1.3},
    {"name": "patient", "patience": 0, "wrapped_pruner": {"name": "median", "n_startup_trials": 2}},
    {"name": "wilcoxon", "p_threshold": 0.2, "n_startup_steps": 2},
    {"name": "none"},
]


def decisions(ask, tell) -> list[list[bool]]:
    """Run every curve; return the pruner's answer at each reported step."""
    result = []
    for curve in CURVES:
        trial = ask()
        trial.suggest_float("x", 0, 1)
        answers = []
        for step, value in enumerate(curve):
            trial.report(value, step)
            answers.append(trial.should_prune())
            if answers[-1]:
                break
        tell(trial, curve[len(answers) - 1], answers[-1])
        result.append(answers)
    return result


@pytest.mark.parametrize("pruner", PRUNERS, ids=lambda p: p["name"])
def test_prune_decisions_match_in_process_optuna(sqlite_coordinator: Coordinator, pruner) -> None:
    spec = AlgorithmSpec(pruner["name"], {k: v for k, v in pruner.items() if k != "name"})
    reference = optuna.create_study(
        study_name="curves",
        sampler=optuna.samplers.RandomSampler(seed=0),
        pruner=build_pruner(spec),
    )
    expected = decisions(
        reference.ask,
        lambda t, v, pruned: reference.tell(
            t, None if pruned else v, optuna.trial.TrialState.PRUNED if pruned else None
        ),
    )
    study = hpo.create_study(
        "curves",
        sampler={"name": "random", "seed": 0},
        pruner=pruner,
        address=sqlite_coordinator.address,
    )
    got = decisions(
        study.ask,
        lambda t, v, pruned: study.tell(
            t, None if pruned else v, hpo.TrialState.PRUNED if pruned else None
        ),
    )
    assert got == expected
    if pruner["name"] not in ("none", "threshold"):
        assert any(any(a) for a in got), "the curves should make this pruner prune something"
