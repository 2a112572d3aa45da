"""The median and percentile pruners, with an index that keeps their cost flat as a study grows.

Optuna's PercentilePruner reads every completed trial at each decision: a Report in a study
of 100,000 trials walks 100,000 trials while the study's unit of work waits, and under load
that walk was half of the coordinator's time. These pruners decide exactly as Optuna's
(tests/test_percentile_pruner.py compares them decision by decision) but read the values at
a step from an index of the completed trials' intermediate values, which takes in each
trial once, when the study's model learns that it completed.

Called by Optuna (``prune(study, trial)``: a nested pruner, Optuna's own view) they are
Optuna's pruners unchanged; the coordinator calls :meth:`PercentilePruner.decide`.
"""

from __future__ import annotations

import math
import threading
import warnings
from collections.abc import Iterable

import numpy as np
import optuna
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial

from hpo.storage._trial_log import Draft, StudyModel


class CompletedValues:
    """The intermediate values of one study's COMPLETE trials, by step.

    Reads the model's append-only list of completed trial numbers from where it stopped
    last time, so each completed trial is read once; a reloaded model starts it over."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._source: list[int] | None = None
        self._read = 0
        self._by_step: dict[int, _Floats] = {}

    def at(self, trials: Draft | StudyModel, step: int) -> tuple[int, np.ndarray]:
        """(how many trials are COMPLETE, their values at ``step``) as ``trials`` sees them."""
        model = trials.model if isinstance(trials, Draft) else trials
        with self._lock:
            completed = model.completed
            if completed is not self._source:
                self._source, self._read, self._by_step = completed, 0, {}
            end = len(completed)
            for number in completed[self._read : end]:
                for at_step, value in model.trials.intermediate_values(number):
                    self._by_step.setdefault(at_step, _Floats()).append(value)
            self._read = end
            floats = self._by_step.get(step)
            values = floats.view() if floats is not None else np.empty(0)
        if not isinstance(trials, Draft):
            return end, values
        completing = trials.completing()  # trials this unit of work completes
        extra = [trials.trial(n).intermediate_values.get(step) for n in completing]
        more = np.array([v for v in extra if v is not None], dtype=float)
        return end + len(completing), np.concatenate([values, more]) if len(more) else values


class _Floats:
    """Floats appended one by one, read as an array without copying: the part already
    written never changes (growing copies it to a new buffer)."""

    def __init__(self) -> None:
        self._buffer = np.empty(64, dtype=float)
        self._size = 0

    def append(self, value: float) -> None:
        if self._size == len(self._buffer):
            self._buffer = np.concatenate([self._buffer, np.empty(len(self._buffer))])
        self._buffer[self._size] = value
        self._size += 1

    def view(self) -> np.ndarray:
        return self._buffer[: self._size]


class PercentilePruner(optuna.pruners.PercentilePruner):
    """Optuna's PercentilePruner (same options, same decisions; named alike, so that its
    errors read as Optuna's) that the coordinator asks through :meth:`decide`, reading
    completed trials from an index."""

    def __init__(
        self,
        percentile: float,
        n_startup_trials: int = 5,
        n_warmup_steps: int = 0,
        interval_steps: int = 1,
        *,
        n_min_trials: int = 1,
    ) -> None:
        super().__init__(  # Optuna checks the options
            percentile, n_startup_trials, n_warmup_steps, interval_steps, n_min_trials=n_min_trials
        )
        self.options = (percentile, n_startup_trials, n_warmup_steps, interval_steps, n_min_trials)
        self.completed = CompletedValues()

    def decide(
        self, trials: Draft | StudyModel, trial: FrozenTrial, direction: StudyDirection
    ) -> bool:
        """Whether ``trial`` is pruned, the study's trials being ``trials``; the same answer as
        Optuna's ``prune`` on a study holding those trials."""
        percentile, n_startup_trials, n_warmup_steps, interval_steps, n_min_trials = self.options
        step = trial.last_step
        if step is None or step < n_warmup_steps:
            return False
        n_complete, values = self.completed.at(trials, step)
        if n_complete == 0 or n_complete < n_startup_trials:
            return False
        steps = trial.intermediate_values.keys()
        if not _first_in_interval(step, steps, n_warmup_steps, interval_steps):
            return False
        best = _best_over_steps(trial, direction)
        if math.isnan(best):
            return True
        if len(values) < n_min_trials:
            return False
        maximize = direction == StudyDirection.MAXIMIZE
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all NaN: NaN, which keeps it
            cut = float(np.nanpercentile(values, 100 - percentile if maximize else percentile))
        if math.isnan(cut):
            return False
        return best < cut if maximize else best > cut


class MedianPruner(PercentilePruner):
    """Optuna's MedianPruner (same options, same decisions), indexed."""

    def __init__(
        self,
        n_startup_trials: int = 5,
        n_warmup_steps: int = 0,
        interval_steps: int = 1,
        *,
        n_min_trials: int = 1,
    ) -> None:
        super().__init__(
            50.0, n_startup_trials, n_warmup_steps, interval_steps, n_min_trials=n_min_trials
        )


def _first_in_interval(
    step: int, steps: Iterable[int], n_warmup_steps: int, interval_steps: int
) -> bool:
    """Whether ``step`` is the first reported step of its pruning interval."""
    nearest_lower = (step - n_warmup_steps) // interval_steps * interval_steps + n_warmup_steps
    before = max((s for s in steps if s != step), default=-1)
    return before < nearest_lower


def _best_over_steps(trial: FrozenTrial, direction: StudyDirection) -> float:
    values = np.asarray(list(trial.intermediate_values.values()), dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all NaN: NaN, which prunes
        best = np.nanmax(values) if direction == StudyDirection.MAXIMIZE else np.nanmin(values)
    return float(best)


__all__ = ["CompletedValues", "MedianPruner", "PercentilePruner"]
