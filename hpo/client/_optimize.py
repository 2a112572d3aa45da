"""The loop behind ``Study.optimize``: its worker threads share a count of trials started, a
deadline and a stop flag, and each asks its next trial with the Tell before it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from optuna.trial import FrozenTrial

from hpo.client._run import ObjectiveFn, new_client_prefix, run_trial
from hpo.client._trial import Trial
from hpo.errors import BudgetSpentError

if TYPE_CHECKING:
    from hpo.client._study import Study


class OptimizeLoop:
    """The shared state of one ``optimize`` call across its worker threads."""

    def __init__(
        self,
        study: Study,
        func: ObjectiveFn,
        n_trials: int | None,
        timeout: float | None,
        catch: tuple[type[Exception], ...],
        callbacks: list[Callable[[Study, FrozenTrial], None]],
    ) -> None:
        self.study = study
        self.func = func
        self.n_trials = n_trials
        self.deadline = None if timeout is None else time.monotonic() + timeout
        self.catch = catch
        self.callbacks = callbacks
        self.started = 0
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.progress: Any = None
        self.client_prefix = new_client_prefix()

    def with_progress(self) -> None:
        from rich.progress import Progress

        self.progress = Progress(transient=False)
        self.progress.start()
        self.task = self.progress.add_task(f"study {self.study.study_name}", total=self.n_trials)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()

    def _take_slot(self) -> bool:
        with self.lock:
            if self.stop.is_set():
                return False
            if self.n_trials is not None and self.started >= self.n_trials:
                return False
            if self.deadline is not None and time.monotonic() >= self.deadline:
                return False
            self.started += 1
            return True

    def run_worker(self) -> None:
        client_id = f"{self.client_prefix}:{threading.get_ident()}"
        trial: Trial | None = None
        while True:
            if trial is None:
                if not self._take_slot():
                    return
                try:
                    trial = self.study.ask(client_id=client_id)
                except BudgetSpentError:
                    self.stop.set()
                    return
            # The next trial is asked with this one's Tell when nothing can come between them
            # (a callback may raise, and its trial would then be left running).
            slot = _NextSlot(self, client_id)
            try:
                ran = run_trial(self.study, trial, self.func, self.catch, slot.take)
            except BaseException:
                self.stop.set()
                raise
            if ran.frozen is not None:
                for callback in self.callbacks:
                    callback(self.study, ran.frozen)
            if self.progress is not None:
                self.progress.advance(self.task)
            if ran.asked_next and ran.next is None:
                self.stop.set()
                return
            if slot.taken and not ran.asked_next:  # the Tell failed: nothing was asked
                with self.lock:
                    self.started -= 1
            trial = ran.next


class _NextSlot:
    """Whether a trial's Tell asks for the next one, decided once its objective has
    returned, as Optuna decides after a trial whether to run another."""

    def __init__(self, loop: OptimizeLoop, client_id: str) -> None:
        self._loop = loop
        self._client_id = client_id
        self.taken = False

    def take(self) -> str | None:
        self.taken = not self._loop.callbacks and self._loop._take_slot()
        return self._client_id if self.taken else None
