"""The coordinator's in-memory view of one study: its Optuna objects and running trials.

A cache only: everything here can be rebuilt from the database, so a coordinator can be
restarted and several can serve one database.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import optuna
from optuna.distributions import BaseDistribution, check_distribution_compatibility
from optuna.study._tell import _tell_with_warning
from optuna.trial import FrozenTrial, TrialState

from hpo.errors import (
    FailedPreconditionError,
    InvalidArgumentError,
    TrialFinishedError,
    TrialNotFoundError,
)
from hpo.service._algorithms import build_pruner, build_sampler
from hpo.service._config import CONFIG_ATTR, StudyConfig
from hpo.storage import Storage


@dataclass
class StudyRuntime:
    """One study as the coordinator holds it between calls.

    ``lock`` serializes the sampler (Optuna samplers are not thread-safe) and the state
    changes of this study's trials within one process; across processes the journal's
    total order decides.
    """

    name: str
    study_id: int
    config: StudyConfig
    study: optuna.Study
    lock: threading.RLock = field(default_factory=threading.RLock)
    prune_lock: threading.Lock = field(default_factory=threading.Lock)
    # Optuna Trial objects of running trials: they keep the relative sample drawn at their
    # first suggestion, so later suggestions of the same trial stay consistent.
    running: dict[int, optuna.Trial] = field(default_factory=dict)
    known_distributions: dict[str, BaseDistribution] = field(default_factory=dict)

    @classmethod
    def load(cls, storage: Storage, name: str, study_id: int) -> StudyRuntime:
        attrs = storage.optuna.get_study_system_attrs(study_id)
        config = StudyConfig.from_json(attrs.get(CONFIG_ATTR))
        n_trials = len(storage.optuna.get_all_trials(study_id, deepcopy=False))
        study = optuna.Study(
            study_name=name,
            storage=storage.optuna,
            sampler=build_sampler(config.sampler, seed_offset=n_trials),
            pruner=build_pruner(config.pruner),
        )
        return cls(name=name, study_id=study_id, config=config, study=study)

    @property
    def storage(self) -> optuna.storages.BaseStorage:
        return self.study._storage

    @property
    def n_objectives(self) -> int:
        return len(self.study.directions)

    def trial_id(self, number: int) -> int:
        try:
            return self.storage.get_trial_id_from_study_id_trial_number(self.study_id, number)
        except KeyError:
            raise TrialNotFoundError(
                f"trial_number: study {self.name!r} has no trial {number}"
            ) from None

    def frozen(self, number: int) -> FrozenTrial:
        return self.storage.get_trial(self.trial_id(number))

    def running_trial(self, number: int) -> FrozenTrial:
        """The trial, which must be RUNNING; otherwise the precise precondition error."""
        trial = self.frozen(number)
        if trial.state.is_finished():
            raise TrialFinishedError(
                f"trial_number: trial {number} of study {self.name!r} is already {trial.state.name}"
            )
        if trial.state != TrialState.RUNNING:
            raise FailedPreconditionError(
                f"trial_number: trial {number} of study {self.name!r} is {trial.state.name}, not RUNNING"
            )
        return trial

    def optuna_trial(self, trial_id: int) -> optuna.Trial:
        trial = self.running.get(trial_id)
        if trial is None:
            trial = self.running[trial_id] = optuna.Trial(self.study, trial_id)
        return trial

    def tell(self, number: int, values: list[float] | None, state: TrialState) -> None:
        """Optuna's Study.tell, as inside an optimize loop: the coordinator is that loop, so a
        sampler may call ``study.stop()`` (the grid sampler does when its grid is done)."""
        local = self.study._thread_local
        local.in_optimize_loop = True
        try:
            # Study.tell minus its deep copy of the result, which we never use (~0.3 ms).
            _tell_with_warning(self.study, number, values, state)
        finally:
            local.in_optimize_loop = False

    @property
    def sampler_exhausted(self) -> bool:
        """True when the sampler knows it has nothing left to propose (a finished grid)."""
        is_exhausted = getattr(self.study.sampler, "is_exhausted", None)
        return bool(is_exhausted and is_exhausted(self.study))

    def forget(self, trial_id: int) -> None:
        self.running.pop(trial_id, None)

    def check_compatible(self, field_name: str, name: str, distribution: BaseDistribution) -> None:
        """Refuse a distribution that conflicts with one the study already used for ``name``."""
        known = self._known_distribution(name)
        if known is None:
            return
        try:
            check_distribution_compatibility(known, distribution)
        except ValueError as e:
            raise InvalidArgumentError.for_field(
                field_name, f"parameter {name!r} was used with {known}; {e}"
            ) from None

    def _known_distribution(self, name: str) -> BaseDistribution | None:
        known = self.known_distributions.get(name) or self.config.search_space.get(name)
        if known is None:
            for trial in self.storage.get_all_trials(self.study_id, deepcopy=False):
                if name in trial.distributions:
                    known = trial.distributions[name]
                    break
        if known is not None:
            self.known_distributions[name] = known
        return known
