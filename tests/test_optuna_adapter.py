"""What hpo relies on beyond Optuna's documented API (hpo/_optuna_adapter.py) still holds."""

from __future__ import annotations

import optuna
from optuna.storages import InMemoryStorage
from optuna.study import StudyDirection

from hpo._optuna_adapter import FrozenStudy, rebind_trial, trial_id


def test_frozen_study_is_what_storages_return() -> None:
    storage = InMemoryStorage()
    storage.create_new_study([StudyDirection.MINIMIZE], "s")
    assert isinstance(storage.get_all_studies()[0], FrozenStudy)
    made = FrozenStudy(
        study_name="t", direction=None, directions=[StudyDirection.MAXIMIZE],
        user_attrs={}, system_attrs={}, study_id=7,
    )  # fmt: skip
    assert made.directions == [StudyDirection.MAXIMIZE] and made._study_id == 7


def test_trial_id_reads_frozen_and_live_trials() -> None:
    study = optuna.create_study()
    trial = study.ask()
    assert trial_id(trial) == trial_id(study.trials[0]) == study.trials[0]._trial_id


def test_a_rebound_trial_writes_through_the_new_study_and_keeps_its_relative_sample() -> None:
    sampler = optuna.samplers.TPESampler(seed=0, n_startup_trials=0, multivariate=True)
    first = optuna.create_study(sampler=sampler, storage=InMemoryStorage())
    for x in (0.1, 0.5, 0.9):
        first.enqueue_trial({"x": x, "y": x})
        t = first.ask()
        first.tell(t, t.suggest_float("x", 0, 1) + t.suggest_float("y", 0, 1))
    trial = first.ask()
    x = trial.suggest_float("x", 0, 1)
    relative = dict(trial.relative_params)
    second = optuna.load_study(study_name=first.study_name, storage=first._storage, sampler=sampler)
    rebind_trial(trial, second, second._storage)
    assert trial.study is second
    y = trial.suggest_float("y", 0, 1)
    assert trial.relative_params == relative  # drawn once, at the first suggestion
    assert second.trials[-1].params == {"x": x, "y": y}
