"""Which studies a coordinator holds: resolving names, loading and dropping studies, and
opening their units of work. The part of :class:`StudyService` that caches (a mixin)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from hpo.errors import StudyNotFoundError, UnavailableError
from hpo.service._access import require_access
from hpo.service._runtime import StaleStudyError, StudyRuntime
from hpo.service._warm_start import WarmStartRecord, load_sources
from hpo.storage._studies import StudyGoneError, StudyRow
from hpo.storage._unit import Unit

if TYPE_CHECKING:
    from hpo.storage import Storage

#: Trial states that hold a unit of a study's trial budget.
_BUDGET_HOLDERS = ("RUNNING", "COMPLETE", "PRUNED")


class StudyCache:
    """Studies held in memory by name; every entry can be rebuilt from the database."""

    # Provided by StudyService (declared here for readers and type checkers).
    _storage: Storage
    _runtimes: dict[str, StudyRuntime]
    _runtimes_lock: threading.Lock

    def evict_idle(self, idle_seconds: float) -> list[str]:
        """Let go of studies no call used for ``idle_seconds``; their names."""
        evicted = set(self._storage.studies.evict_idle(idle_seconds))
        with self._runtimes_lock:
            names = [n for n, r in self._runtimes.items() if r.study_id in evicted]
            for name in names:
                del self._runtimes[name]
        return names

    def _row(self, name: str) -> StudyRow:
        row = self._storage.studies.find(name)
        if row is None:
            raise StudyNotFoundError(f"study: no study named {name!r}")
        return row

    def _runtime(self, name: str, study_id: int = 0) -> StudyRuntime:
        """The study of this name, loaded; with ``study_id``, only if it is that study."""
        runtime = self._named(name)
        if study_id and runtime.study_id != study_id:
            self._drop(name)  # maybe a stale cache: look again before refusing
            runtime = self._named(name)
            if runtime.study_id != study_id:
                raise StudyNotFoundError(
                    f"study_id: study {study_id} is gone; {name!r} now names another study"
                )
        return runtime

    def _named(self, name: str) -> StudyRuntime:
        with self._runtimes_lock:
            runtime = self._runtimes.get(name)
        if runtime is None:
            row = self._row(name)
            warm_start = WarmStartRecord.from_attrs(row.system_attrs)
            runtime = StudyRuntime.load(row, warm_start, load_sources(self._storage, warm_start))
            if runtime.config.trial_budget:
                issued = sum(row.trial_counts.get(state, 0) for state in _BUDGET_HOLDERS)
                self._storage.budgets.ensure(row.study_id, issued=issued)
            with self._runtimes_lock:
                runtime = self._runtimes.setdefault(name, runtime)
        require_access("study", name, runtime.config.owner)
        return runtime

    def _drop(self, name: str) -> None:
        with self._runtimes_lock:
            runtime = self._runtimes.pop(name, None)
        if runtime is not None:
            self._storage.studies.forget(runtime.study_id)

    def _current(self, runtime: StudyRuntime) -> Any:
        try:
            return self._storage.studies.current(runtime.study_id)
        except StudyGoneError:
            self._drop(runtime.name)
            raise StaleStudyError(runtime.name) from None

    @contextlib.contextmanager
    def _turn(self, runtime: StudyRuntime) -> Iterator[None]:
        """The study's lock in this process (``runtime.lock``), for a call that opens a unit
        of work under it: the wait is announced, so that units queued on the study commit
        together (:meth:`~hpo.storage._studies.StudyLog.queue`)."""
        try:
            with self._storage.studies.queue(runtime.study_id), runtime.lock:
                yield
        except UnavailableError:
            # Its unit may have been lost with a group commit: the running trials' Optuna
            # objects may hold what it did (a suggested value), so they are built anew from
            # the database. (The runtime itself stays: a new one would bring a second lock.)
            with runtime.lock:
                runtime.running.clear()
            raise

    @contextlib.contextmanager
    def _unit(self, runtime: StudyRuntime) -> Iterator[Unit]:
        try:
            with self._storage.studies.transaction(runtime.study_id) as unit:
                yield unit
        except StudyGoneError:
            self._drop(runtime.name)
            raise StaleStudyError(runtime.name) from None
