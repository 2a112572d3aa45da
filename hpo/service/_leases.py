"""Lease expiry: failing running trials whose heartbeats stopped, and re-queueing them."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from hpo.errors import StudyNotFoundError, TrialFinishedError
from hpo.service._runtime import StudyRuntime
from hpo.service._views import ORIGINAL_TRIAL_ATTR, RETRY_HISTORY_ATTR

if TYPE_CHECKING:
    from hpo.storage import Storage

_logger = logging.getLogger("hpo.service")
LEASE_EXPIRED = "lease expired: no heartbeat within {seconds:g} s"


class LeaseExpiry:
    """The part of :class:`StudyService` that expires leases (a mixin: it uses the service's
    ``_runtime`` and ``_finish``)."""

    # Provided by StudyService (declared here for readers and type checkers).
    _storage: Storage
    _runtime: Callable[[str], StudyRuntime]
    _finish: Callable[..., None]

    def expire_stale_leases(self, now: float | None = None) -> list[tuple[str, int]]:
        """Fail every running trial whose lease ran out, re-queueing within the retry budget.

        Returns (study, trial number) of the trials this call failed. Safe to run in several
        coordinators at once: the journal's order lets exactly one failure win.
        """
        now = time.time() if now is None else now
        expired = []
        for frozen_study in self._storage.optuna.get_all_studies():
            running = self._storage.optuna.get_all_trials(
                frozen_study._study_id, deepcopy=False, states=(TrialState.RUNNING,)
            )
            if not running:
                continue
            try:
                runtime = self._runtime(frozen_study.study_name)
            except StudyNotFoundError:
                continue
            leases = self._storage.leases.all_for_study(runtime.study_id)
            for trial in running:
                if (
                    self._lease_age(trial, leases.get(trial._trial_id), now)
                    <= runtime.config.lease_seconds
                ):
                    continue
                if self._expire(runtime, trial.number, now):
                    expired.append((runtime.name, trial.number))
        return expired

    def _expire(self, runtime: StudyRuntime, number: int, now: float) -> bool:
        with self._storage.optuna.consistent_reads(), runtime.lock:
            trial = runtime.frozen(number)
            lease = self._storage.leases.get(trial._trial_id)
            if trial.state != TrialState.RUNNING or (
                self._lease_age(trial, lease, now) <= runtime.config.lease_seconds
            ):
                return False
            reason = LEASE_EXPIRED.format(seconds=runtime.config.lease_seconds)
            history = [*trial.system_attrs.get(RETRY_HISTORY_ATTR, []), trial.number]
            retry = len(history) <= runtime.config.retry_budget
            try:
                # A trial that will be retried passes its unit of the budget to the retry.
                self._finish(runtime, trial, TrialState.FAIL, [], reason, keep_budget=retry)
            except TrialFinishedError:
                return False  # another coordinator (or the client's Tell) got there first
            _logger.info("study %r trial %d: %s", runtime.name, number, reason)
            if retry:
                self._requeue(runtime, runtime.frozen(number), history)
            return True

    @staticmethod
    def _lease_age(trial: FrozenTrial, lease: Any, now: float) -> float:
        if lease is not None:
            return now - lease.heartbeat_at
        started = trial.datetime_start.timestamp() if trial.datetime_start else now
        return now - started

    def _requeue(self, runtime: StudyRuntime, failed: FrozenTrial, history: list[int]) -> None:
        runtime.study.add_trial(
            optuna.trial.create_trial(
                state=TrialState.WAITING,
                params=failed.params,
                distributions=failed.distributions,
                user_attrs=failed.user_attrs,
                system_attrs={
                    ORIGINAL_TRIAL_ATTR: failed.system_attrs.get(
                        ORIGINAL_TRIAL_ATTR, failed.number
                    ),
                    RETRY_HISTORY_ATTR: history,
                },
            )
        )
