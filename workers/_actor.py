"""The worker: a Ray actor holding one resource slot, looping ask -> objective -> tell."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ray
from hpo.workers._objective import ObjectiveRef

from hpo.client import Trial, load_study
from hpo.client._run import run_trial
from hpo.errors import BudgetSpentError


@dataclass(frozen=True)
class WorkerReport:
    """What one worker did before the budget was spent."""

    worker_id: str
    trials: int
    pid: int


class TrialWorker:
    """Runs trials of one study until the coordinator answers that its budget is spent.

    Ray restarts a killed worker with the same constructor arguments and re-runs ``run``;
    the worker then asks with the same ``worker_id`` and gets its unfinished trial back.
    It never touches the database: the coordinator ``run`` is given is its only peer.
    """

    def __init__(
        self, worker_id: str, study: str, objective: ObjectiveRef | Callable[..., Any]
    ) -> None:
        self.worker_id = worker_id
        self._study_name = study
        self._objective = objective
        self._function: Callable[..., Any] | None = None

    def run(self, coordinator: str) -> WorkerReport:
        study = load_study(self._study_name, address=coordinator)
        function = self._load()
        gpu_ids = [str(g) for g in ray.get_gpu_ids()]
        done = 0
        trial: Trial | None = None
        while True:
            if trial is None:
                try:
                    trial = study.ask(client_id=self.worker_id)
                except BudgetSpentError:
                    return WorkerReport(self.worker_id, done, os.getpid())
            _place(trial, gpu_ids)
            # Every exception of the objective fails only its trial; the sweep goes on. Its
            # Tell asks for the next trial in the same round trip.
            ran = run_trial(study, trial, function, (Exception,), lambda: self.worker_id)
            done += 1
            if ran.asked_next and ran.next is None:
                return WorkerReport(self.worker_id, done, os.getpid())
            trial = ran.next

    def _load(self) -> Callable[..., Any]:
        if self._function is None:
            objective = self._objective
            self._function = objective.load() if isinstance(objective, ObjectiveRef) else objective
        return self._function


def _place(trial: Trial, gpu_ids: list[str]) -> None:
    """Tell the trial which accelerator it has; Ray already set CUDA_VISIBLE_DEVICES."""
    trial.gpu_ids = gpu_ids
    trial.device = "cuda" if gpu_ids else "cpu"
