"""A client process for tests: ``study.optimize`` of a short objective on $HPO_ADDRESS.

Usage: python optimize_client.py STUDY N_TRIALS
Prints one line per trial it finished: "told NUMBER VALUE".
"""

from __future__ import annotations

import sys
import time

import hpo


def objective(trial: hpo.Trial) -> float:
    x = trial.suggest_float("x", 0.0, 1.0)
    time.sleep(0.05)
    return x + trial.number


def main() -> None:
    study_name, n_trials = sys.argv[1], int(sys.argv[2])
    study = hpo.load_study(study_name)  # the address comes from HPO_ADDRESS

    def told(_study: object, trial: hpo.FrozenTrial) -> None:
        print(f"told {trial.number} {trial.value!r}", flush=True)

    study.optimize(objective, n_trials=n_trials, callbacks=[told])


if __name__ == "__main__":
    main()
