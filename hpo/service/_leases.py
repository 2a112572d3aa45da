"""Lease expiry: failing running trials whose heartbeats stopped, and re-queueing them."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import optuna
from optuna.trial import FrozenTrial, TrialState

from hpo._metrics import observe_leases_expired
from hpo.service._config import CONFIG_ATTR, StudyConfig
from hpo.service._runtime import StudyRuntime
from hpo.service._views import ORIGINAL_TRIAL_ATTR, RETRY_HISTORY_ATTR
from hpo.storage._trial_log import split_trial_id

if TYPE_CHECKING:
    from hpo.storage import Storage
    from hpo.storage._unit import Unit

_logger = logging.getLogger("hpo.service")
LEASE_EXPIRED = "lease expired: no heartbeat within {seconds:g} s"


class LeaseExpiry:
    """The part of :class:`StudyService` that expires leases and finds the trial a client
    holds (a mixin: it uses the service's ``_runtime``, ``_turn``, ``_unit`` and
    ``_finish``)."""

    # Provided by StudyService (declared here for readers and type checkers).
    _storage: Storage
    _runtime: Callable[[str], StudyRuntime]
    _turn: Callable[[StudyRuntime], contextlib.AbstractContextManager[None]]
    _unit: Callable[[StudyRuntime], contextlib.AbstractContextManager[Unit]]
    _finish: Callable[..., None]

    def expire_stale_leases(self, now: float | None = None) -> list[tuple[str, int]]:
        """Fail every running trial whose lease ran out, re-queueing within the retry budget.

        Returns (study, trial number) of the trials this call failed. Reads the lease table
        and loads only studies with a lease that ran out. Safe to run in several coordinators
        at once (each expiry is a unit of work that checks the lease again), and one study
        that cannot be handled is logged and skipped, never stopping the others.
        """
        now = time.time() if now is None else now
        expired: list[tuple[str, int]] = []
        for study_id, oldest in self._storage.leases.oldest_by_study().items():
            try:
                expired.extend(self._expire_study(study_id, oldest, now))
            except Exception:
                _logger.exception(
                    "lease expiry for study id %d failed; other studies go on", study_id
                )
        return expired

    def expire_study_leases(self, study: str, now: float | None = None) -> list[int]:
        """:meth:`expire_stale_leases` for one study, named: the numbers of the trials failed."""
        expired = self._expire_runtime(self._runtime(study), time.time() if now is None else now)
        observe_leases_expired(len(expired))
        return expired

    def _held_trial(self, unit: Unit, client_id: str) -> FrozenTrial | None:
        """The running trial ``client_id`` holds a lease on (renewed), releasing leases it
        held on trials that finished meanwhile; None when it holds none."""
        sql, params = self._storage.leases.held_by_query(unit.study_id, client_id)
        for (held_id,) in unit.query(sql, params):
            trial = unit.draft.trial(split_trial_id(held_id)[1])
            if trial.state == TrialState.RUNNING:
                unit.execute(self._storage.leases.renew_statement(held_id))
                return trial
            unit.defer(self._storage.leases.release_statement(held_id))
        return None

    def _expire_study(self, study_id: int, oldest: float, now: float) -> Iterator[tuple[str, int]]:
        """The study's run-out leases expired, its row read first: a study is loaded only
        when its ``oldest`` heartbeat ran out."""
        row = self._storage.studies.row(study_id)
        if row is None:
            return
        lease_seconds = StudyConfig.from_json(row.system_attrs.get(CONFIG_ATTR)).lease_seconds
        if now - oldest <= lease_seconds:
            return
        for number in self._expire_runtime(self._runtime(row.name), now):
            yield row.name, number

    def _expire_runtime(self, runtime: StudyRuntime, now: float) -> list[int]:
        """Fail the study's running trials whose leases ran out by ``now``, by number."""
        leases = self._storage.leases.all_for_study(runtime.study_id)
        expired = []
        for lease in sorted(leases.values(), key=lambda lease: lease.trial_id):  # by number
            if now - lease.heartbeat_at > runtime.config.lease_seconds:
                number = self._expire(runtime, lease.trial_id, now)
                if number is not None:
                    expired.append(number)
        return expired

    def _expire(self, runtime: StudyRuntime, expired_id: int, now: float) -> int | None:
        """Fail the trial if its lease still ran out (checked inside the unit); its number."""
        with self._turn(runtime), self._unit(runtime) as unit:
            leases = unit.query(
                "SELECT heartbeat_at FROM hpo_leases WHERE trial_id = ?", (expired_id,)
            )
            trial = _trial_by_id(unit, expired_id)
            if not leases or trial is None or trial.state != TrialState.RUNNING:
                return None
            if now - float(leases[0][0]) <= runtime.config.lease_seconds:
                return None  # renewed meanwhile
            reason = LEASE_EXPIRED.format(seconds=runtime.config.lease_seconds)
            history = [*trial.system_attrs.get(RETRY_HISTORY_ATTR, []), trial.number]
            self._finish(runtime, unit, trial, TrialState.FAIL, [], reason)
            if len(history) <= runtime.config.retry_budget:
                self._requeue(runtime, unit, trial, history)
        runtime.running.pop(trial.number, None)
        _logger.info("study %r trial %d: %s", runtime.name, trial.number, reason)
        return trial.number

    def _requeue(
        self, runtime: StudyRuntime, unit: Unit, failed: FrozenTrial, history: list[int]
    ) -> None:
        runtime.study(self._storage.optuna.within(unit)).add_trial(
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


def _trial_by_id(unit: Unit, wanted: int) -> FrozenTrial | None:
    study_id, number = split_trial_id(wanted)
    if study_id != unit.study_id:
        return None
    try:
        return unit.draft.trial(number)
    except KeyError:
        return None
