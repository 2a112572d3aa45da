"""The coordinator's in-memory state of one study: its sampler, pruner and running trials.

A cache only: everything here can be rebuilt from the database, so a coordinator can be
restarted, can drop an idle study, and several can serve one database.
"""

from __future__ import annotations

import dataclasses
import functools
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import optuna
from optuna.distributions import BaseDistribution, check_distribution_compatibility
from optuna.search_space import IntersectionSearchSpace
from optuna.storages import BaseStorage
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from hpo._optuna_adapter import rebind_trial
from hpo.errors import (
    FailedPreconditionError,
    InvalidArgumentError,
    TrialFinishedError,
    TrialNotFoundError,
)
from hpo.service._algorithms import build_pruner, build_sampler, check_sampler_param
from hpo.service._config import CONFIG_ATTR, StudyConfig
from hpo.service._warm_start import WarmStartRecord
from hpo.service._warm_start_sampler import SourceTrials, WarmStartSampler
from hpo.storage._studies import StudyRow
from hpo.storage._trial_log import Draft, StudyModel

#: Trials of a study: the committed model, or a unit of work's draft.
Trials = StudyModel | Draft

_F = TypeVar("_F", bound=Callable[..., Any])


class StaleStudyError(Exception):
    """The study a call resolved was deleted (and maybe re-created under its name) by
    another process; the call may run again with the name looked up anew."""


def fresh_study(method: _F) -> _F:
    """Run a service call again, once, when its study turned out to be deleted elsewhere:
    the name is looked up anew (NOT_FOUND, or the study now under that name)."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except StaleStudyError:
            return method(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


@dataclass
class StudyRuntime:
    """One study as the coordinator holds it between calls.

    ``lock`` serializes this study's units of work within one process (Optuna samplers are
    not thread-safe); across processes the study's database lock does.
    """

    name: str
    study_id: int
    config: StudyConfig
    directions: list[StudyDirection]
    sampler: optuna.samplers.BaseSampler
    pruner: optuna.pruners.BasePruner
    lock: threading.RLock = field(default_factory=threading.RLock)
    # Optuna Trial objects of running trials, by number: they keep the relative sample drawn
    # at their first suggestion, so later suggestions of the same trial stay consistent.
    running: dict[int, optuna.Trial] = field(default_factory=dict)
    #: The earlier studies that inform the sampler, when the study asked for a warm start.
    warm_start: WarmStartRecord | None = None
    #: The parameters every finished trial suggested (what Ask proposes; kept up to date
    #: incrementally by Optuna's IntersectionSearchSpace).
    recurring_space: IntersectionSearchSpace = field(
        default_factory=lambda: IntersectionSearchSpace(include_pruned=True)
    )

    @classmethod
    def load(
        cls,
        row: StudyRow,
        warm_start: WarmStartRecord | None = None,
        sources: Sequence[SourceTrials] = (),
    ) -> StudyRuntime:
        """The study of ``row``; ``sources`` are its warm start's trials (``warm_start``)."""
        config = StudyConfig.from_json(row.system_attrs.get(CONFIG_ATTR))
        n_trials = sum(row.trial_counts.values())
        sampler = build_sampler(config.sampler, seed_offset=n_trials)
        if sources:
            sampler = WarmStartSampler(sampler, sources, row.directions, space=config.search_space)
        return cls(
            name=row.name,
            study_id=row.study_id,
            config=config,
            directions=list(row.directions),
            sampler=sampler,
            pruner=build_pruner(config.pruner),
            warm_start=warm_start,
        )

    @property
    def n_objectives(self) -> int:
        return len(self.directions)

    def study(self, storage: BaseStorage) -> optuna.Study:
        """This study as Optuna sees it through ``storage`` (a unit of work's view, or the
        committed one), with the study's sampler and pruner."""
        return optuna.Study(
            study_name=self.name, storage=storage, sampler=self.sampler, pruner=self.pruner
        )

    def warm_start_now(self, model: StudyModel) -> WarmStartRecord | None:
        """The warm start with how the sampler uses each source after ``model``'s trials."""
        if self.warm_start is None:
            return None
        status: dict[str, str] = {}
        if isinstance(self.sampler, WarmStartSampler):
            with self.lock:
                status = self.sampler.status(model.trials)
        for source in self.warm_start.sources:
            status.setdefault(source.study, "left out: it has been deleted")
        return dataclasses.replace(self.warm_start, status=status)

    def frozen(self, trials: Trials, number: int) -> FrozenTrial:
        try:
            if number < 0:
                raise KeyError(number)
            return trials.trial(number) if isinstance(trials, Draft) else trials.trials[number]
        except (KeyError, IndexError):
            raise TrialNotFoundError(
                f"trial_number: study {self.name!r} has no trial {number}"
            ) from None

    def require_running(self, trials: Trials, number: int) -> FrozenTrial:
        """The trial, which must be RUNNING; otherwise the precise precondition error."""
        trial = self.frozen(trials, number)
        if trial.state.is_finished():
            raise TrialFinishedError(
                f"trial_number: trial {number} of study {self.name!r} is already {trial.state.name}"
            )
        if trial.state != TrialState.RUNNING:
            raise FailedPreconditionError(
                f"trial_number: trial {number} of study {self.name!r} is {trial.state.name}, not RUNNING"
            )
        return trial

    def optuna_trial(
        self, study: optuna.Study, storage: BaseStorage, trial_id: int, number: int
    ) -> optuna.Trial:
        """The running trial's Optuna object, bound to ``study`` (on ``storage``) for this
        unit of work."""
        trial = self.running.get(number)
        if trial is None:
            return optuna.Trial(study, trial_id)
        return rebind_trial(trial, study, storage)

    def sampler_exhausted(self, study: optuna.Study) -> bool:
        """True when the sampler knows it has nothing left to propose (a finished grid)."""
        is_exhausted = getattr(self.sampler, "is_exhausted", None)
        return bool(is_exhausted and is_exhausted(study))

    def check_compatible(
        self, model: StudyModel, field_name: str, name: str, distribution: BaseDistribution
    ) -> None:
        """Refuse a distribution that conflicts with one the study already used for ``name``."""
        known = self.config.search_space.get(name) or model.param_distributions.get(name)
        if known is None:
            return
        try:
            check_distribution_compatibility(known, distribution)
        except ValueError as e:
            raise InvalidArgumentError.for_field(
                field_name, f"parameter {name!r} was used with {known}; {e}"
            ) from None

    def check_space(self, model: StudyModel, space: Mapping[str, BaseDistribution]) -> None:
        """Refuse an Ask's search space that the study cannot take: a distribution that
        conflicts with one it used, a parameter its sampler cannot sample."""
        for name, distribution in space.items():
            field_name = f"search_space.{name}"
            self.check_compatible(model, field_name, name, distribution)
            check_sampler_param(self.config.sampler, field_name, name)
