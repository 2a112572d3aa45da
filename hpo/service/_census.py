"""Trials by state of the studies a coordinator holds in memory, for its metrics."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from optuna.trial import TrialState

from hpo.errors import UnavailableError
from hpo.service._runtime import StudyRuntime

if TYPE_CHECKING:
    from hpo.storage import Storage


class HeldStudyCensus:
    """The part of :class:`StudyService` that counts trials of the studies it holds (a mixin:
    it reads the service's ``_runtimes``)."""

    # Provided by StudyService (declared here for readers and type checkers).
    _storage: Storage
    _runtimes: dict[str, StudyRuntime]
    _runtimes_lock: threading.Lock

    def held_trial_counts(self) -> dict[str, dict[str, int]]:
        """Study name -> trial state name -> count, every state present (0 when none), for
        the studies this service holds in memory only (each caught up with one query). Empty while
        the database cannot be read: metrics must not fail a scrape."""
        with self._runtimes_lock:
            held = [(runtime.name, runtime.study_id) for runtime in self._runtimes.values()]
        counts: dict[str, dict[str, int]] = {}
        try:
            for name, study_id in held:
                try:
                    model = self._storage.studies.current(study_id)
                except KeyError:  # deleted meanwhile (by this or another coordinator)
                    continue
                counts[name] = {state.name: model.counts.get(state.name, 0) for state in TrialState}
        except UnavailableError:
            return {}
        return counts
