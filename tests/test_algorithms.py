"""Every sampler and pruner hpo names runs in the coordinator, configured by name + options."""

from __future__ import annotations

import optuna
import pytest

import hpo
from hpo.server import Coordinator
from hpo.service import PRUNERS, SAMPLERS

SAMPLER_SPECS = {
    "tpe": {"name": "tpe", "seed": 0, "n_startup_trials": 3},
    "gp": {"name": "gp", "seed": 0, "n_startup_trials": 3},
    "cmaes": {"name": "cmaes", "seed": 0, "n_startup_trials": 2},
    "nsga2": {"name": "nsga2", "seed": 0, "population_size": 4},
    "qmc": {"name": "qmc", "seed": 0},
    "random": {"name": "random", "seed": 0},
    "grid": {"name": "grid", "search_space": {"x": [-1.0, 0.0, 1.0], "y": [0, 1]}},
}
PRUNER_SPECS = {
    "median": {"name": "median", "n_startup_trials": 1},
    "percentile": {"name": "percentile", "percentile": 50.0},
    "successive_halving": {"name": "successive_halving"},
    "hyperband": {"name": "hyperband", "max_resource": 6},
    "wilcoxon": {"name": "wilcoxon"},
    "patient": {"name": "patient", "patience": 1, "wrapped_pruner": {"name": "median"}},
    "threshold": {"name": "threshold", "upper": 10.0},
    "learning_curve": {"name": "learning_curve", "n_startup_trials": 1},
    "pareto_successive_halving": {"name": "pareto_successive_halving", "reduction_factor": 2},
    "none": {"name": "none"},
}


def test_every_name_is_covered() -> None:
    assert set(SAMPLER_SPECS) == set(SAMPLERS)
    assert set(PRUNER_SPECS) == set(PRUNERS)


def objective(trial: hpo.Trial) -> float:
    x = trial.suggest_float("x", -1, 1)
    y = trial.suggest_int("y", 0, 1)
    for step in range(6):
        trial.report(x * x + y + 1 / (step + 1), step)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return x * x + y


@pytest.mark.parametrize("name", sorted(SAMPLER_SPECS))
def test_sampler_runs_server_side(sqlite_coordinator: Coordinator, name: str) -> None:
    study = hpo.create_study(
        name, sampler=SAMPLER_SPECS[name], pruner="none", address=sqlite_coordinator.address
    )
    study.optimize(objective, n_trials=6)
    assert [t.state for t in study.trials] == [hpo.TrialState.COMPLETE] * 6
    assert study.info().sampler.name == name


def test_finished_grid_spends_the_budget(sqlite_coordinator: Coordinator) -> None:
    study = hpo.create_study(
        "g", sampler=SAMPLER_SPECS["grid"], pruner="none", address=sqlite_coordinator.address
    )
    study.optimize(objective, n_trials=50)
    assert len(study.trials) == 6
    assert {(t.params["x"], t.params["y"]) for t in study.trials} == {
        (x, y) for x in (-1.0, 0.0, 1.0) for y in (0, 1)
    }


@pytest.mark.parametrize("name", sorted(PRUNER_SPECS))
def test_pruner_runs_server_side(sqlite_coordinator: Coordinator, name: str) -> None:
    study = hpo.create_study(
        name,
        sampler={"name": "random", "seed": 1},
        pruner=PRUNER_SPECS[name],
        address=sqlite_coordinator.address,
    )
    study.optimize(objective, n_trials=8)
    assert {t.state for t in study.trials} <= {hpo.TrialState.COMPLETE, hpo.TrialState.PRUNED}
    assert study.info().pruner.name == name


def test_config_survives_a_restart(sqlite_url: str) -> None:
    """A second coordinator on the same database rebuilds the study's sampler and pruner."""
    with Coordinator(sqlite_url) as first:
        study = hpo.create_study(
            "kept",
            sampler={"name": "random", "seed": 4},
            trial_budget=4,
            pruner={"name": "threshold", "upper": 0.5},
            address=first.address,
        )
        study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    with Coordinator(sqlite_url) as second:
        study = hpo.load_study("kept", address=second.address)
        info = study.info()
        assert (info.sampler.name, info.pruner.name, info.trial_budget) == (
            "random",
            "threshold",
            4,
        )
        trial = study.ask()
        trial.report(0.9, 0)
        assert trial.should_prune()  # the threshold pruner came back with its option
        study.tell(trial, None, hpo.TrialState.PRUNED)
        study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=10)
        assert len(study.trials) == 4  # and the budget
        params = [t.params["x"] for t in study.trials if "x" in t.params]
        assert len(set(params)) == len(params)  # the reseeded sampler does not repeat itself
