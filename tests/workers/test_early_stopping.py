"""Supervised early stopping on a real learning curve (digits, SGDClassifier)."""

from __future__ import annotations

from pathlib import Path

from hpo.workers import run_sweep

import hpo

DIGITS = str(Path(__file__).resolve().parents[2] / "examples" / "digits_sgd.py") + ":objective"
TOLERANCE = 0.03  # accuracy points the pruned sweep's best may trail the unpruned one's


def sweep(address: str, name: str, pruner: dict) -> list[hpo.FrozenTrial]:
    run_sweep(
        DIGITS,
        study=name,
        n_trials=24,
        direction="maximize",
        workers=2,
        coordinator=address,
        sampler={"name": "tpe", "seed": 0, "n_startup_trials": 6},
        pruner=pruner,
        progress=False,
    )
    return hpo.load_study(name, address=address).trials


def test_pruning_saves_epochs_and_keeps_the_best_accuracy(ray_cluster, sqlite_coordinator):
    address = sqlite_coordinator.address
    full = sweep(address, "digits-full", {"name": "none"})
    pruned = sweep(
        address, "digits-pruned", {"name": "median", "n_startup_trials": 4, "n_warmup_steps": 3}
    )

    assert any(t.state == hpo.TrialState.PRUNED for t in pruned)
    epochs = {
        name: sum(len(t.intermediate_values) for t in trials)
        for name, trials in (("full", full), ("pruned", pruned))
    }
    assert epochs["pruned"] < epochs["full"]
    best = {
        name: max(t.value for t in trials if t.state == hpo.TrialState.COMPLETE)
        for name, trials in (("full", full), ("pruned", pruned))
    }
    assert best["full"] > 0.9  # the model really learns
    assert best["pruned"] >= best["full"] - TOLERANCE
