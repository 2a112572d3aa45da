"""Reading trials: the part of :class:`StudyService` that changes nothing (a mixin)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from optuna.trial import FrozenTrial, TrialState

from hpo._optuna_adapter import trial_id
from hpo.errors import FailedPreconditionError, InvalidArgumentError
from hpo.service._runtime import StudyRuntime, fresh_study
from hpo.service._views import TrialPage, TrialView

if TYPE_CHECKING:
    from hpo.storage import Storage


class TrialReads:
    """Trials as the committed state has them; each call catches up with the database once."""

    # Provided by StudyService (declared here for readers and type checkers).
    _storage: Storage
    _runtime: Callable[[str], StudyRuntime]
    _current: Callable[[StudyRuntime], Any]

    @fresh_study
    def get_trial(self, study: str, number: int) -> TrialView:
        runtime = self._runtime(study)
        trial = runtime.frozen(self._current(runtime), number)
        lease = self._storage.leases.get(trial_id(trial)) if trial.state == TrialState.RUNNING else None
        return TrialView(study, trial, lease.client_id if lease else "")

    @fresh_study
    def list_trials(
        self, study: str, states: Sequence[TrialState] = (), offset: int = 0, limit: int = 1000
    ) -> TrialPage:
        runtime = self._runtime(study)
        every = self._current(runtime).trials
        # Trials are built when read: a page of a big study builds that page.
        trials: Sequence[FrozenTrial] = every.select(states) if states else every
        page = trials[offset : offset + limit]
        more = offset + limit < len(trials)
        leases = self._storage.leases.all_for_study(runtime.study_id) if page else {}
        views = [
            TrialView(study, t, leases[trial_id(t)].client_id if trial_id(t) in leases else "")
            for t in page
        ]
        return TrialPage(views, offset + limit if more else None)

    @fresh_study
    def best_trials(self, study: str) -> list[TrialView]:
        runtime = self._runtime(study)
        if not self._current(runtime).counts.get("COMPLETE"):
            return []
        optuna_study = runtime.study(self._storage.optuna)
        best = optuna_study.best_trials if runtime.n_objectives > 1 else [optuna_study.best_trial]
        return [TrialView(study, t) for t in best]

    @fresh_study
    def trial_ref(self, study: str, number: int | None = None) -> TrialView:
        """A trial in any state; ``number=None`` means the best trial (one direction only)."""
        runtime = self._runtime(study)
        if number is None:
            if runtime.n_objectives > 1:
                raise InvalidArgumentError.for_field(
                    "trial_number", f"study {study!r} has several directions: name the trial"
                )
            best = self.best_trials(study)
            if not best:
                raise FailedPreconditionError(f"study: {study!r} has no completed trial yet")
            return self._ref(runtime, best[0].trial)
        return self._ref(runtime, runtime.frozen(self._current(runtime), number))

    @staticmethod
    def _ref(runtime: StudyRuntime, trial: FrozenTrial) -> TrialView:
        return TrialView(runtime.name, trial)
