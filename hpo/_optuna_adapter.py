"""Every place hpo relies on more of Optuna than its documented public API, in one module.

hpo supports a range of Optuna versions (see pyproject.toml); CI runs the storage
conformance and equivalence tests at both ends of it. Anything here is checked by
``tests/test_optuna_adapter.py`` so that an Optuna release that changes it fails loudly.
"""

from __future__ import annotations

import contextlib
from collections.abc import Container, Iterator, Sequence
from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.storages import BaseStorage
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

try:  # public from some release on; the storage interface returns it either way
    from optuna.study import FrozenStudy  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - depends on the installed Optuna
    from optuna.study._frozen import FrozenStudy

__all__ = ["FrozenStudy", "rebind_trial", "study_id", "study_storage", "trial_id"]


def trial_id(trial: FrozenTrial | Any) -> int:
    """The storage's id of a trial (``FrozenTrial`` and ``optuna.Trial`` keep it privately;
    Optuna's storage interface is keyed by it)."""
    return int(trial._trial_id)


def rebind_trial(trial: optuna.Trial, study: optuna.Study, storage: BaseStorage) -> optuna.Trial:
    """Point a running trial's Optuna object at another ``study`` object of the same study
    (a new unit of work), keeping what it cached (the relative sample of its first
    suggestion). ``Trial.study`` and ``Trial.storage`` are public attributes of Optuna's
    Trial; nothing else of it is touched."""
    trial.study = study
    trial.storage = storage
    return trial


def study_storage(study: optuna.Study) -> BaseStorage:
    """The storage an ``optuna.Study`` reads and writes through (samplers that must see
    other trials than the study's own wrap it; Optuna's samplers read it the same way)."""
    return study._storage  # type: ignore[no-any-return]


def study_id(study: optuna.Study) -> int:
    """The storage's id of a study (``optuna.Study`` keeps it privately; Optuna's storage
    interface is keyed by it)."""
    return int(study._study_id)


class ForwardingStorage(BaseStorage):
    """An Optuna storage that forwards every call to ``inner``: subclass it and override
    what a view changes (the dashboard's lineage attributes, a warm start's prior trials)."""

    def __init__(self, inner: BaseStorage) -> None:
        self._inner = inner

    def create_new_study(
        self, directions: Sequence[StudyDirection], study_name: str | None = None
    ) -> int:
        return self._inner.create_new_study(directions, study_name)

    def delete_study(self, study_id: int) -> None:
        self._inner.delete_study(study_id)

    def set_study_user_attr(self, study_id: int, key: str, value: Any) -> None:
        self._inner.set_study_user_attr(study_id, key, value)

    def set_study_system_attr(self, study_id: int, key: str, value: Any) -> None:
        self._inner.set_study_system_attr(study_id, key, value)

    def get_study_id_from_name(self, study_name: str) -> int:
        return self._inner.get_study_id_from_name(study_name)

    def get_study_name_from_id(self, study_id: int) -> str:
        return self._inner.get_study_name_from_id(study_id)

    def get_study_directions(self, study_id: int) -> list[StudyDirection]:
        return self._inner.get_study_directions(study_id)

    def get_study_user_attrs(self, study_id: int) -> dict[str, Any]:
        return self._inner.get_study_user_attrs(study_id)

    def get_study_system_attrs(self, study_id: int) -> dict[str, Any]:
        return self._inner.get_study_system_attrs(study_id)

    def get_all_studies(self) -> list[FrozenStudy]:
        return self._inner.get_all_studies()

    def create_new_trial(self, study_id: int, template_trial: FrozenTrial | None = None) -> int:
        return self._inner.create_new_trial(study_id, template_trial)

    def set_trial_param(
        self,
        trial_id: int,
        param_name: str,
        param_value_internal: float,
        distribution: BaseDistribution,
    ) -> None:
        self._inner.set_trial_param(trial_id, param_name, param_value_internal, distribution)

    def get_trial_id_from_study_id_trial_number(self, study_id: int, trial_number: int) -> int:
        return self._inner.get_trial_id_from_study_id_trial_number(study_id, trial_number)

    def set_trial_state_values(
        self, trial_id: int, state: TrialState, values: Sequence[float] | None = None
    ) -> bool:
        return self._inner.set_trial_state_values(trial_id, state, values)

    def set_trial_intermediate_value(
        self, trial_id: int, step: int, intermediate_value: float
    ) -> None:
        self._inner.set_trial_intermediate_value(trial_id, step, intermediate_value)

    def set_trial_user_attr(self, trial_id: int, key: str, value: Any) -> None:
        self._inner.set_trial_user_attr(trial_id, key, value)

    def set_trial_system_attr(self, trial_id: int, key: str, value: Any) -> None:
        self._inner.set_trial_system_attr(trial_id, key, value)

    def get_trial(self, trial_id: int) -> FrozenTrial:
        return self._inner.get_trial(trial_id)

    def get_all_trials(
        self,
        study_id: int,
        deepcopy: bool = True,
        states: Container[TrialState] | None = None,
    ) -> list[FrozenTrial]:
        return self._inner.get_all_trials(study_id, deepcopy=deepcopy, states=states)


@contextlib.contextmanager
def suggestions_forgotten(trial: optuna.Trial) -> Iterator[None]:
    """Suggestions made on ``trial`` inside the block are forgotten by it afterwards (its
    storage's side is the caller's to undo): Optuna's Trial caches each value it suggested in
    ``_cached_frozen_trial`` and would hand it out again instead of sampling. What it cached
    otherwise (the relative sample of its first suggestion) stays."""
    cached = trial._cached_frozen_trial
    params, distributions = dict(cached.params), dict(cached.distributions)
    try:
        yield
    finally:
        cached.params = params
        cached.distributions = distributions
