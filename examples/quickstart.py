"""Quick start: an Optuna-style objective optimized by an hpo coordinator.

Without HPO_ADDRESS an embedded coordinator starts in this process on ./hpo.db; with
HPO_ADDRESS=host:port the same script uses a coordinator started by `hpo server`.
Run: python examples/quickstart.py
"""

from __future__ import annotations

import optuna

import hpo


def objective(trial: hpo.Trial) -> float:
    # A noisy learning curve: the loss falls with each epoch towards a minimum set by the
    # parameters; the coordinator's pruner stops hopeless trials early.
    lr = trial.suggest_float("lr", 1e-4, 1.0, log=True)
    layers = trial.suggest_int("layers", 1, 4)
    activation = trial.suggest_categorical("activation", ["relu", "tanh"])
    floor = (lr - 0.05) ** 2 * 100 + 0.1 * abs(layers - 2) + (0.05 if activation == "tanh" else 0)
    loss = 1.0
    for epoch in range(10):
        loss = floor + (1.0 - floor) * 0.6**epoch
        trial.report(loss, epoch)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return loss


def main() -> None:
    study = hpo.create_study(
        "quickstart",
        sampler={"name": "tpe", "seed": 0},
        pruner={"name": "median", "n_warmup_steps": 2},
        load_if_exists=True,
    )
    study.optimize(objective, n_trials=40, show_progress_bar=True)
    states = [t.state.name for t in study.trials]
    best = study.best_trial
    print(
        f"study {study.study_name!r} on {study.address}: {len(states)} trials, "
        f"{states.count('COMPLETE')} complete, {states.count('PRUNED')} pruned"
    )
    print(f"best trial #{best.number}: loss={best.value:.4f} params={best.params}")


if __name__ == "__main__":
    main()
